"""client spool backlog

Revision ID: b7c3e1a9d2f4
Revises: 17ec4d26942d
Create Date: 2026-12-02 03:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c3e1a9d2f4"
down_revision: str | None = "17ec4d26942d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spool_backlog", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("spool_backlog")
