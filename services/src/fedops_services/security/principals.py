"""Who is calling, and what they may touch."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fedops_services.errors import ErrorCode, FedopsError

__all__ = ["Principal", "Role", "require_admin", "require_task_scope"]


class Role(StrEnum):
    ADMIN = "admin"
    CLIENT = "client"  # an enrolled edge machine, scoped to one task
    SERVER = "server"  # a task's FL server runtime, scoped to that task
    ENROLLMENT = "enrollment"  # may only enrol clients into one task


@dataclass(frozen=True)
class Principal:
    role: Role
    task_id: str | None = None
    client_id: str | None = None
    token_id: str | None = None  # the enrolment token, for ENROLLMENT principals


def require_admin(principal: Principal) -> None:
    if principal.role is not Role.ADMIN:
        raise FedopsError(ErrorCode.FORBIDDEN, "this operation needs the administrator token")


def require_task_scope(principal: Principal, task_id: str, *roles: Role) -> None:
    """Admins may act on every task; the given task-scoped roles only on their own task."""
    if principal.role is Role.ADMIN:
        return
    if principal.role not in roles:
        raise FedopsError(
            ErrorCode.FORBIDDEN, f"a {principal.role.value} credential cannot perform this operation"
        )
    if principal.task_id != task_id:
        raise FedopsError(
            ErrorCode.FORBIDDEN,
            f"this {principal.role.value} credential belongs to another task; "
            f"enrol with task {task_id}'s enrolment token to act on it",
        )
