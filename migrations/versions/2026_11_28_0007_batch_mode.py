"""Batch mode: a run's mode, the provider batches it sends, and each judgment's batch.

Existing runs are live runs (`mode` defaults to 'live'). The way down removes only what
this revision added: runs, pairs and judgments stay, every run becomes a live run again
(its unfinished judgments are then queued as live calls by the reconciler), and the
record of which provider batch answered a judgment goes with the batches table.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-28 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("mode", sa.String(length=10), server_default="live", nullable=False)
        )
    op.create_table(
        "provider_batches",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("judge", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("provider_batch_id", sa.String(length=200), nullable=True),
        sa.Column("claim_token", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("provider_status", sa.String(length=40), nullable=True),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("errored", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("poll_after", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("submitted_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_provider_batches_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_batches")),
    )
    op.create_index(op.f("ix_provider_batches_run_id"), "provider_batches", ["run_id"])
    op.create_index(
        "ix_provider_batches_status_poll_after", "provider_batches", ["status", "poll_after"]
    )
    with op.batch_alter_table("judgments") as batch:
        batch.add_column(sa.Column("batch_id", ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_judgments_batch_id_provider_batches"),
            "provider_batches",
            ["batch_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_judgments_batch_id"), ["batch_id"])


def downgrade() -> None:
    with op.batch_alter_table("judgments") as batch:
        batch.drop_index(op.f("ix_judgments_batch_id"))
        batch.drop_constraint(op.f("fk_judgments_batch_id_provider_batches"), type_="foreignkey")
        batch.drop_column("batch_id")
    op.drop_index("ix_provider_batches_status_poll_after", table_name="provider_batches")
    op.drop_index(op.f("ix_provider_batches_run_id"), table_name="provider_batches")
    op.drop_table("provider_batches")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("mode")
