"""Rubrics belong to a project: another project neither sees nor versions them.

Custom rubrics registered so far go to the project named "default" (0005), whose runs
made them. The unique constraint becomes (project_id, name, version), so two projects
each have their own version 1 of a name.

The way down keeps every rubric row and drops only `project_id`. Before 0010 a name had
one history shared by every project, so while two projects hold rubrics of the same name
the way down stops and names them: merging them into one history would let one project's
text become the other's latest version, the very thing this revision prevents. Rename or
delete one project's rubrics of that name, then go down.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("rubrics") as batch:
        batch.add_column(sa.Column("project_id", ID, nullable=True))
    op.execute("UPDATE rubrics SET project_id = (SELECT id FROM projects WHERE name = 'default')")
    with op.batch_alter_table("rubrics") as batch:
        batch.alter_column("project_id", existing_type=ID, nullable=False)
        batch.create_foreign_key(
            op.f("fk_rubrics_project_id_projects"),
            "projects",
            ["project_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.drop_constraint(op.f("uq_rubrics_name_version"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_rubrics_project_id_name_version"), ["project_id", "name", "version"]
        )


def downgrade() -> None:
    shared = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT name FROM rubrics GROUP BY name "
                "HAVING COUNT(DISTINCT project_id) > 1 ORDER BY name"
            )
        )
        .scalars()
        .all()
    )
    if shared:
        raise RuntimeError(
            f"rubrics {shared} are registered by more than one project; before 0010 a name "
            "has one history for every project: rename or delete one project's rubrics of "
            "each name, then downgrade again"
        )
    with op.batch_alter_table("rubrics") as batch:
        batch.drop_constraint(op.f("uq_rubrics_project_id_name_version"), type_="unique")
        batch.create_unique_constraint(op.f("uq_rubrics_name_version"), ["name", "version"])
        batch.drop_constraint(op.f("fk_rubrics_project_id_projects"), type_="foreignkey")
        batch.drop_column("project_id")
