"""Stored cost, prompt-cache tokens, the judgment cache and run budgets.

Existing runs use the cache (`cache` true) and have no budget. Existing judgments keep their
tokens; their `cost_usd` stays NULL, because prices are configuration the migration cannot
see: readers price a NULL-cost judgment's tokens at the configured prices, as before 0008.
Their `cache_key` stays NULL too, so they are never reused (only judgments written from now
on are). The way down drops only the columns added here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("cache", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch.add_column(sa.Column("budget_usd", sa.Float(), nullable=True))
    with op.batch_alter_table("judgments") as batch:
        batch.add_column(sa.Column("cached_input_tokens", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("cost_usd", sa.Float(), nullable=True))
        batch.add_column(sa.Column("cache_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("cached_from_id", ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_judgments_cached_from_id_judgments"),
            "judgments",
            ["cached_from_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_judgments_cache_key"), ["cache_key"])


def downgrade() -> None:
    with op.batch_alter_table("judgments") as batch:
        batch.drop_index(op.f("ix_judgments_cache_key"))
        batch.drop_constraint(op.f("fk_judgments_cached_from_id_judgments"), type_="foreignkey")
        batch.drop_column("cached_from_id")
        batch.drop_column("cache_key")
        batch.drop_column("cost_usd")
        batch.drop_column("cached_input_tokens")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("budget_usd")
        batch.drop_column("cache")
