"""Human labels: people's preferences on pairs, for judge-human agreement.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 07:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "human_labels",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("pair_id", ID, nullable=False),
        sa.Column("annotator", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["pairs.id"],
            name=op.f("fk_human_labels_pair_id_pairs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_human_labels_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_human_labels")),
        sa.UniqueConstraint("pair_id", "annotator", name=op.f("uq_human_labels_pair_id_annotator")),
    )
    op.create_index(op.f("ix_human_labels_run_id"), "human_labels", ["run_id"], unique=False)


def downgrade() -> None:
    # Drops only the labels table this revision added.
    op.drop_index(op.f("ix_human_labels_run_id"), table_name="human_labels")
    op.drop_table("human_labels")
