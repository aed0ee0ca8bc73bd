"""Probes: a run made from another run's pairs with one controlled change.

Two nullable columns on `runs`: `probe_of` (the source run; deleting it deletes its probes)
and `probe` (the kind of change, e.g. "drop_images"). Existing runs are ordinary runs: both
stay NULL. The way down drops the two columns (and the probe runs stay, as ordinary runs).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("probe_of", ID, nullable=True))
        batch.add_column(sa.Column("probe", sa.String(length=30), nullable=True))
        batch.create_foreign_key(
            op.f("fk_runs_probe_of_runs"), "runs", ["probe_of"], ["id"], ondelete="CASCADE"
        )
        batch.create_index(op.f("ix_runs_probe_of"), ["probe_of"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index(op.f("ix_runs_probe_of"))
        batch.drop_constraint(op.f("fk_runs_probe_of_runs"), type_="foreignkey")
        batch.drop_column("probe")
        batch.drop_column("probe_of")
