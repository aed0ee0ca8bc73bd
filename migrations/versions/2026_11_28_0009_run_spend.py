"""Each run's spend, kept as a running total beside its judgments' stored costs.

A budget was checked by summing every judgment's cost of every budgeted run at each claim:
work that grew with the run, on every claim of it. `runs.spent_usd` is kept equal to the sum
of its judgments' `cost_usd` by the writes that store them (`jobs/claims.py`), so a claim
reads one number per run. The way up sets it from the judgments; it is derived data, so the
way down drops it and loses nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("spent_usd", sa.Float(), server_default=sa.text("0"), nullable=False)
        )
    op.execute(
        "UPDATE runs SET spent_usd = COALESCE("
        "(SELECT SUM(cost_usd) FROM judgments WHERE judgments.run_id = runs.id), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("spent_usd")
