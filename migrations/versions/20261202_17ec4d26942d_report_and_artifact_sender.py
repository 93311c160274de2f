"""report and artifact ids are unique per sender

Revision ID: 17ec4d26942d
Revises: 6718d0ac2572
Create Date: 2026-12-02 03:30:00.000000

Idempotency was keyed on (task, report_id) and (task, artifact_key), so one sender could
occupy another's ids. Both now include the authenticated sender. Existing rows get the
sender they must have had: a client's rows its client id, every other report the server.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "17ec4d26942d"
down_revision: str | None = "6718d0ac2572"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SENDER = sa.String(length=32)


def upgrade() -> None:
    # Add nullable, fill, then require: works on SQLite (batch copy) and PostgreSQL alike.
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender", _SENDER, nullable=True))
    op.execute("UPDATE reports SET sender = COALESCE(client_id, 'server')")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.alter_column("sender", existing_type=_SENDER, nullable=False)
        batch_op.drop_constraint("uq_reports_task_report_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_reports_task_kind_sender_report_id", ["task_id", "kind", "sender", "report_id"]
        )

    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender", _SENDER, nullable=True))
    op.execute("UPDATE artifacts SET sender = client_id")
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.alter_column("sender", existing_type=_SENDER, nullable=False)
        batch_op.drop_constraint("uq_artifacts_task_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_artifacts_task_sender_key", ["task_id", "sender", "artifact_key"]
        )


def downgrade() -> None:
    # The old keys are coarser: keep the first row of each old key (reports) or drop the
    # later rows' keys (artifacts keep their files and rows, only lose idempotency).
    op.execute(
        "DELETE FROM reports WHERE id NOT IN (SELECT min(id) FROM reports GROUP BY task_id, report_id)"
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_constraint("uq_reports_task_kind_sender_report_id", type_="unique")
        batch_op.create_unique_constraint("uq_reports_task_report_id", ["task_id", "report_id"])
        batch_op.drop_column("sender")

    op.execute(
        "UPDATE artifacts SET artifact_key = NULL WHERE artifact_key IS NOT NULL AND id NOT IN "
        "(SELECT min(id) FROM artifacts WHERE artifact_key IS NOT NULL GROUP BY task_id, artifact_key)"
    )
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_artifacts_task_sender_key", type_="unique")
        batch_op.create_unique_constraint("uq_artifacts_task_key", ["task_id", "artifact_key"])
        batch_op.drop_column("sender")
