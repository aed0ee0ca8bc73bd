"""Stopping a run once decided: its rule, when it stopped and why, and skipped judgments.

A run may carry `stop_when` (a rule on an anytime-valid confidence sequence); once the rule
holds, the run records `stopped_at` and `stop_reason` and its pending judgments become
`skipped` (a new judgment status: a string column, so no schema change for it). Existing
runs have no rule. The way down cannot keep `skipped`, which older code does not know: those
judgments go back to `pending`, so a worker of that revision judges them (nothing is lost,
the stop is undone); then the three columns are dropped.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("stop_when", JSON_DOC, nullable=True))
        batch.add_column(sa.Column("stopped_at", TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("stop_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute(
        "UPDATE judgments SET status = 'pending', claim_token = NULL, lease_expires_at = NULL "
        "WHERE status = 'skipped'"
    )
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("stop_reason")
        batch.drop_column("stopped_at")
        batch.drop_column("stop_when")
