"""An API key may name the annotator whose human labels it makes.

A key without one labels as `key:<prefix>` (see `db/projects.py`), so nobody chooses
whose label they write. Existing keys have none. The way down drops the column; labels
already made keep the annotator they were recorded under.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("annotator", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("annotator")
