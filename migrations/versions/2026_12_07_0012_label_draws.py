"""Label provenance: the label queue's draws, and where each human label came from.

A calibrated win rate is unbiased only over pairs chosen by a known random rule, so every
pair the label queue hands out is recorded as a draw with the probability it was drawn
with. A label gets `source`: `queue` when its annotator was handed the pair by the queue,
`ad_hoc` otherwise; labels made before the queue existed are ad hoc. The way down drops
the draws table and the column; the labels themselves stay.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "label_draws",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("pair_id", ID, nullable=False),
        sa.Column("annotator", sa.String(length=100), nullable=False),
        sa.Column("strategy", sa.String(length=20), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["pair_id"], ["pairs.id"], name=op.f("fk_label_draws_pair_id_pairs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_label_draws_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_draws")),
    )
    op.create_index(op.f("ix_label_draws_run_id"), "label_draws", ["run_id"], unique=False)
    with op.batch_alter_table("human_labels") as batch:
        batch.add_column(
            sa.Column("source", sa.String(length=10), nullable=False, server_default="ad_hoc")
        )


def downgrade() -> None:
    with op.batch_alter_table("human_labels") as batch:
        batch.drop_column("source")
    op.drop_index(op.f("ix_label_draws_run_id"), table_name="label_draws")
    op.drop_table("label_draws")
