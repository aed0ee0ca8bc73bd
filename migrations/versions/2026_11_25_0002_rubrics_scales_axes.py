"""Rubrics, scales and per-axis verdicts.

Runs gain their rubric (name, version, snapshot), scale, strong-verdict weight
and a snapshot of their judges' configuration; judgments gain per-axis
rulings, strength, rationale, images sent and the prompt's boundary code.
Existing runs were judged with the holistic `general` rubric on the 3-way
scale, which is what the defaults below record for them. Downgrading drops
only the columns and table added here.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 07:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)

# The `general` rubric as it stood when runs had no rubric column (version 1).
GENERAL_V1 = {
    "name": "general",
    "description": "One holistic verdict.",
    "axes": [],
    "overall": "Which trace answers the question better: correctness first, then accuracy "
    "of the facts stated, then whether the steps support the final answer.",
}
NEW_RUN_COLUMNS = ("rubric_name", "rubric_version", "rubric", "judge_configs", "scale")


def upgrade() -> None:
    op.create_table(
        "rubrics",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", JSON_DOC, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rubrics")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_rubrics_name_version")),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("rubric_name", sa.String(60), nullable=False, server_default="general")
        )
        batch.add_column(
            sa.Column("rubric_version", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(
            sa.Column("rubric", JSON_DOC, nullable=False, server_default=json.dumps(GENERAL_V1))
        )
        batch.add_column(sa.Column("judge_configs", JSON_DOC, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("scale", sa.String(10), nullable=False, server_default="3-way"))
        batch.add_column(sa.Column("strong_weight", sa.Float(), nullable=False, server_default="3"))
    # The server defaults only describe the runs that existed; new runs get app values.
    with op.batch_alter_table("runs") as batch:
        for column in (*NEW_RUN_COLUMNS, "strong_weight"):
            batch.alter_column(column, server_default=None)
    with op.batch_alter_table("judgments") as batch:
        batch.add_column(sa.Column("strong", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("rationale", sa.Text(), nullable=True))
        batch.add_column(sa.Column("axes", JSON_DOC, nullable=True))
        batch.add_column(sa.Column("images_sent", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("boundary", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("judgments") as batch:
        for column in ("boundary", "images_sent", "axes", "rationale", "strong"):
            batch.drop_column(column)
    with op.batch_alter_table("runs") as batch:
        for column in ("strong_weight", *reversed(NEW_RUN_COLUMNS)):
            batch.drop_column(column)
    op.drop_table("rubrics")
