"""console sessions

Revision ID: d4e8f2a6b1c3
Revises: 33219fb040a4
Create Date: 2026-12-02 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fedops_services.db.tables

revision: str = "d4e8f2a6b1c3"
down_revision: str | None = "33219fb040a4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("admin_binding", sa.String(length=64), nullable=False),
        sa.Column("created_at", fedops_services.db.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", fedops_services.db.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("secret_hash"),
    )
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_console_sessions_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_sessions_expires_at"))
    op.drop_table("console_sessions")
