"""servers run one replica

A server is one SuperLink with one state file on one ReadWriteOnce volume, so the spec now
refuses more than 1 replica. Specs stored before said up to 16; they are lowered to 1 here
(data only, no schema change), so every stored spec still validates when it is read.

Revision ID: c5d1a7e3b9f0
Revises: b7c3e1a9d2f4
Create Date: 2026-12-02 03:45:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from fedops_services.db.tables import Document

revision: str = "c5d1a7e3b9f0"
down_revision: str | None = "b7c3e1a9d2f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAX_REPLICAS = 1  # fedops.spec.task.MAX_REPLICAS when this was written; fixed here on purpose


def _lowered(resources: Any) -> dict[str, Any] | None:
    """The resources with replicas lowered, or None when nothing changes."""
    replicas = resources.get("replicas") if isinstance(resources, dict) else None
    if isinstance(replicas, int) and replicas > MAX_REPLICAS:
        return {**resources, "replicas": MAX_REPLICAS}
    return None


def upgrade() -> None:
    connection = op.get_bind()
    for name, keys in (("tasks", ("id",)), ("task_revisions", ("task_id", "revision"))):
        table = sa.table(name, *(sa.column(key) for key in keys), sa.column("spec", Document))
        for row in connection.execute(sa.select(table)).mappings().all():
            spec = row["spec"]
            resources = _lowered(spec.get("resources") if isinstance(spec, dict) else None)
            if resources is not None:
                where = sa.and_(*(table.c[key] == row[key] for key in keys))
                connection.execute(table.update().where(where).values(spec={**spec, "resources": resources}))
    servers = sa.table(
        "servers", sa.column("task_id"), sa.column("replicas", sa.Integer), sa.column("resources", Document)
    )
    for row in connection.execute(sa.select(servers)).mappings().all():
        resources = _lowered(row["resources"]) or row["resources"]
        if row["replicas"] > MAX_REPLICAS or resources is not row["resources"]:
            connection.execute(
                servers.update()
                .where(servers.c.task_id == row["task_id"])
                .values(replicas=min(row["replicas"], MAX_REPLICAS), resources=resources)
            )


def downgrade() -> None:
    pass  # the lowered counts were refused settings; nothing to restore
