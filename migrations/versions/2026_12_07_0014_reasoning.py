"""Reasoning judges: reasoning tokens, the serving backend and thinking text per judgment.

Three nullable columns on `judgments`: `reasoning_tokens` (a part of `output_tokens`, as the
provider reports it), `system_fingerprint` (OpenAI's name for the backend that answered) and
`thinking` (the judge's thinking text, for judges that keep it). Existing judgments have
none of them. The way down drops the three columns and nothing else.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("judgments") as batch:
        batch.add_column(sa.Column("reasoning_tokens", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("system_fingerprint", sa.String(200), nullable=True))
        batch.add_column(sa.Column("thinking", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("judgments") as batch:
        batch.drop_column("thinking")
        batch.drop_column("system_fingerprint")
        batch.drop_column("reasoning_tokens")
