"""Task lifecycle: create, read, revise the spec, delete."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from fedops.api.schemas import RevisionsPublic, TaskPublic, TasksPublic
from fedops.spec import TaskSpec
from fedops_services.access import load_task
from fedops_services.artifacts import ArtifactFiles
from fedops_services.db.tables import TaskRow, utcnow
from fedops_services.errors import ErrorCode, FedopsError
from fedops_services.registry.progress import task_with_progress, tasks_with_progress
from fedops_services.registry.reconciler import Reconciler
from fedops_services.registry.views import revision_public
from fedops_services.security import CredentialCache, Principal, Role, require_admin
from fedops_services.store import servers as server_store
from fedops_services.store import tasks as task_store

__all__ = ["TaskService"]

logger = logging.getLogger(__name__)

# The run controller reads its task every second; its last-seen time is written at most
# this often per task and process (the metric's resolution), not on every read.
SERVER_SEEN_RESOLUTION_SECONDS = 5.0


class _ServerSightings:
    """When each task's FL server was last recorded as seen by this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recorded: dict[str, float] = {}

    def due(self, task_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if (
                now - self._recorded.get(task_id, -SERVER_SEEN_RESOLUTION_SECONDS)
                < SERVER_SEEN_RESOLUTION_SECONDS
            ):
                return False
            self._recorded[task_id] = now
            return True


class TaskService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        reconciler: Reconciler,
        credentials: CredentialCache,
        artifacts: ArtifactFiles,
        *,
        heartbeat_timeout: timedelta,
    ) -> None:
        self._sessions = sessions
        self._heartbeat_timeout = heartbeat_timeout  # a client's "online" in a task's progress
        self._reconciler = reconciler
        self._credentials = credentials
        self._artifacts = artifacts
        self._sightings = _ServerSightings()

    def create(self, principal: Principal, spec: TaskSpec) -> TaskPublic:
        require_admin(principal)
        try:
            with self._sessions.begin() as session:
                if task_store.name_taken(session, spec.name):
                    raise _name_taken(spec.name)
                row = task_store.insert_task(session, spec.name, spec.to_document())
                public = self._public(session, row)
        except IntegrityError as exc:  # a concurrent create with the same name won the race
            raise _name_taken(spec.name) from exc
        logger.info("task created id=%s name=%s", public.id, public.name)
        return public

    def list_tasks(
        self, principal: Principal, *, status: str | None, name: str | None, limit: int, offset: int
    ) -> TasksPublic:
        require_admin(principal)
        with self._sessions() as session:
            rows, count = task_store.list_tasks(session, status=status, name=name, limit=limit, offset=offset)
            data = tasks_with_progress(session, rows, heartbeat_timeout=self._heartbeat_timeout)
            return TasksPublic(data=data, count=count)

    def get(self, principal: Principal, task_id: str) -> TaskPublic:
        """The task; when its FL server asks (the run controller does every second), the
        server's last-seen time is recorded too."""
        if principal.role is Role.SERVER and self._sightings.due(task_id):
            with self._sessions.begin() as session:
                public = self._public(session, load_task(session, principal, task_id, Role.SERVER))
                server_store.record_server_seen(session, task_id, utcnow())
                return public
        with self._sessions() as session:
            return self._public(session, load_task(session, principal, task_id, Role.CLIENT, Role.SERVER))

    def update(self, principal: Principal, task_id: str, spec: TaskSpec) -> TaskPublic:
        """Store ``spec`` as the next revision; a provisioned server follows its resources."""
        require_admin(principal)
        with self._reconciler.locked_transaction(task_id) as session:
            row = load_task(session, principal, task_id, for_update=True)
            if spec.name != row.name:
                raise FedopsError(
                    ErrorCode.TASK_NAME_IMMUTABLE,
                    f"name: a task cannot be renamed (it is {row.name!r}); create a new task instead",
                )
            task_store.add_revision(session, row, spec.to_document())
            self._reconciler.follow_spec(session, row, spec)
            return self._public(session, row)

    def _public(self, session: Session, row: TaskRow) -> TaskPublic:
        return task_with_progress(session, row, heartbeat_timeout=self._heartbeat_timeout)

    def revisions(self, principal: Principal, task_id: str, *, limit: int, offset: int) -> RevisionsPublic:
        with self._sessions() as session:
            load_task(session, principal, task_id, Role.CLIENT, Role.SERVER)
            rows, count = task_store.list_revisions(session, task_id, limit=limit, offset=offset)
            return RevisionsPublic(data=[revision_public(r) for r in rows], count=count)

    def delete(self, principal: Principal, task_id: str) -> None:
        """Remove the server first: a task row never disappears while its server runs."""
        require_admin(principal)
        with self._sessions() as session:
            load_task(session, principal, task_id)
        self._reconciler.teardown(task_id)
        with self._sessions.begin() as session:
            task_store.delete_task(session, task_id)
            self._credentials.revoke_all_after_commit(session)  # its clients' credentials go with it
        self._artifacts.delete_prefix(task_id)
        logger.info("task deleted id=%s", task_id)


def _name_taken(name: str) -> FedopsError:
    return FedopsError(
        ErrorCode.TASK_NAME_TAKEN, f"name: a task named {name!r} exists already; choose another name"
    )
