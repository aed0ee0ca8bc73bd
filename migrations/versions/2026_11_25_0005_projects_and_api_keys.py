"""Projects and their API keys; every run belongs to a project.

Runs that exist already go to the project named "default", which an open server (no
authentication, e.g. the local demo) also uses. The way down removes only what this
revision added: the runs, their pairs and judgments stay.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", Id, primary_key=True),
        sa.Column("project_id", Id, nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_api_keys_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("sha256", name=op.f("uq_api_keys_sha256")),
    )
    op.execute("INSERT INTO projects (name, created_at) VALUES ('default', CURRENT_TIMESTAMP)")
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("project_id", Id, nullable=True))
    op.execute("UPDATE runs SET project_id = (SELECT id FROM projects WHERE name = 'default')")
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("project_id", existing_type=Id, nullable=False)
        batch.create_foreign_key(
            op.f("fk_runs_project_id_projects"), "projects", ["project_id"], ["id"]
        )
        batch.create_index(op.f("ix_runs_project_id"), ["project_id"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index(op.f("ix_runs_project_id"))
        batch.drop_constraint(op.f("fk_runs_project_id_projects"), type_="foreignkey")
        batch.drop_column("project_id")
    op.drop_table("api_keys")
    op.drop_table("projects")
