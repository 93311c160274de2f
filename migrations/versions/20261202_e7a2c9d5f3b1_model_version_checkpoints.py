"""model version checkpoints stored by monitoring

Revision ID: e7a2c9d5f3b1
Revises: d4e8f2a6b1c3
Create Date: 2026-12-02 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fedops_services.db.tables

revision: str = "e7a2c9d5f3b1"
down_revision: str | None = "d4e8f2a6b1c3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # All null until the FL server uploads the version's file: older versions have none.
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checkpoint_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("checkpoint_size", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column(
                "checkpoint_stored_at", fedops_services.db.tables.UtcDateTime(timezone=True), nullable=True
            ))


def downgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_column("checkpoint_stored_at")
        batch_op.drop_column("checkpoint_size")
        batch_op.drop_column("checkpoint_sha256")
