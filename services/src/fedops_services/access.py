"""Loading what a principal may act on, shared by the registry and monitoring services.

Authorisation (the credential's scope) comes before the read, and a missing task is the
same error everywhere; services call this inside the transaction they opened.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from fedops_services.db.tables import TaskRow
from fedops_services.errors import ErrorCode, FedopsError
from fedops_services.security import Principal, Role, require_task_scope
from fedops_services.store import tasks as task_store

__all__ = ["load_task"]


def load_task(
    session: Session, principal: Principal, task_id: str, *roles: Role, for_update: bool = False
) -> TaskRow:
    """The task, once the principal may act on it; scope is checked first so that a
    foreign credential learns nothing about which tasks exist."""
    require_task_scope(principal, task_id, *roles)
    row = task_store.get_task(session, task_id, for_update=for_update)
    if row is None:
        raise FedopsError(ErrorCode.TASK_NOT_FOUND, f"no task with id {task_id!r}")
    return row
