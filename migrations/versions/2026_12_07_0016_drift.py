"""Drift checks: a reference set of pairs per project and judge, and each check made of it.

`drift_references`: the pairs a drift check re-judges, as a reference run and, when a sample
was asked for, the ids of the sampled pairs (NULL: all the run's pairs). `drift_checks`: one
row per check, with the derived run that judged the reference again and the judge's
configuration fingerprint then. New tables only: the way down drops them, and the runs the
checks made stay, as ordinary runs.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "drift_references",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("judge", sa.String(length=100), nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("pair_ids", JSON_DOC, nullable=True),
        sa.Column("sample", sa.Integer(), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_drift_references_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_drift_references_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_references")),
    )
    op.create_index(
        "ix_drift_references_project_id_judge", "drift_references", ["project_id", "judge"]
    )
    op.create_table(
        "drift_checks",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("judge", sa.String(length=100), nullable=False),
        sa.Column("reference_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("judge_config", JSON_DOC, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_drift_checks_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reference_id"],
            ["drift_references.id"],
            name=op.f("fk_drift_checks_reference_id_drift_references"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_drift_checks_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_checks")),
    )
    op.create_index(op.f("ix_drift_checks_reference_id"), "drift_checks", ["reference_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_drift_checks_reference_id"), table_name="drift_checks")
    op.drop_table("drift_checks")
    op.drop_index("ix_drift_references_project_id_judge", table_name="drift_references")
    op.drop_table("drift_references")
