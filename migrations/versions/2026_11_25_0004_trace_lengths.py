"""Trace lengths stored with each pair, for the length-bias statistics.

Measuring them at query time means reading and decompressing every trace of the run on each
stats request (about 4 s for 500,000 pairs); stored once at insert, they cost nothing to read.
Existing pairs are measured here, so no pair is without them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("baseline_chars", "candidate_chars")


def upgrade() -> None:
    with op.batch_alter_table("pairs") as batch:
        for column in COLUMNS:
            batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
    op.execute(
        "UPDATE pairs SET baseline_chars = length(baseline_trace), "
        "candidate_chars = length(candidate_trace)"
    )
    with op.batch_alter_table("pairs") as batch:
        for column in COLUMNS:
            batch.alter_column(column, existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    # Only derived numbers go: the traces they were measured from stay.
    with op.batch_alter_table("pairs") as batch:
        for column in COLUMNS:
            batch.drop_column(column)
