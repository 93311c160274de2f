"""Server operations: provision, status, scale, pause and resume, logs, delete, runs.

Each one checks the caller and the task's state, then changes the desired state through the
``Reconciler`` (which owns the task's lock and applies it to the backend) and answers what
the reconciler observed.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from fedops.api.schemas import LogsPublic, RunResult, ScaleRequest, ServerStatus, TaskPublic
from fedops.spec import TaskSpec
from fedops.spec.task import ResourcesSpec
from fedops_services.access import load_task
from fedops_services.db.tables import ServerRow, utcnow
from fedops_services.errors import ErrorCode, FedopsError, validation_error
from fedops_services.provisioners import Provisioner, ProvisionerError
from fedops_services.registry.progress import task_with_progress
from fedops_services.registry.reconciler import Reconciler
from fedops_services.registry.server_status import provisioner_failure, set_task_status
from fedops_services.security import Principal, Role, TokenKind, hash_token, new_token, require_admin
from fedops_services.store import servers as server_store
from fedops_services.store import tasks as task_store

__all__ = ["ServerService"]


class ServerService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        provisioner: Provisioner,
        reconciler: Reconciler,
        *,
        heartbeat_timeout: timedelta,
    ) -> None:
        self._sessions = sessions
        self._heartbeat_timeout = heartbeat_timeout  # the tasks it answers show their progress
        self._provisioner = provisioner  # its name, and the logs it reads
        self._reconciler = reconciler

    def provision(self, principal: Principal, task_id: str) -> ServerStatus:
        """Create the task's server; provisioning an existing one only reconciles it."""
        require_admin(principal)
        with self._reconciler.locked_transaction(task_id) as session:
            task = load_task(session, principal, task_id, for_update=True)
            server = server_store.get_server(session, task_id)
            if server is None:
                spec = TaskSpec.model_validate(task.spec)
                token = new_token(TokenKind.SERVER)
                server = ServerRow(
                    task_id=task_id,
                    provisioner=self._provisioner.name,
                    replicas=spec.resources.replicas,
                    paused=False,
                    resources=spec.resources.model_dump(mode="json"),
                    token_hash=hash_token(token),
                    ready=False,
                    fleet_address=None,
                    reason="provisioning",
                    observed_at=None,
                    created_at=utcnow(),
                )
                session.add(server)
                set_task_status(task, "provisioning", "waiting for the server to become ready")
                self._reconciler.apply(task, server, secret_env={"FEDOPS_SERVER_TOKEN": token})
            else:
                self._reconciler.apply(task, server)
        return self._reconciler.reconcile(task_id)

    def status(self, principal: Principal, task_id: str) -> ServerStatus:
        with self._sessions() as session:
            load_task(session, principal, task_id, Role.SERVER)
            _require_server(session, task_id)
        return self._reconciler.reconcile(task_id)

    def scale(self, principal: Principal, task_id: str, request: ScaleRequest) -> ServerStatus:
        """Change replicas/resources: a new spec revision, rolled out by the provisioner."""
        require_admin(principal)
        with self._reconciler.locked_transaction(task_id) as session:
            task = load_task(session, principal, task_id, for_update=True)
            _require_server(session, task_id)
            spec = TaskSpec.model_validate(task.spec)
            changes = request.model_dump(exclude_none=True)
            try:
                resources = ResourcesSpec.model_validate({**spec.resources.model_dump(), **changes})
            except ValidationError as exc:
                raise validation_error(exc.errors()) from None
            new_spec = spec.model_copy(update={"resources": resources})
            task_store.add_revision(session, task, new_spec.to_document())
            self._reconciler.follow_spec(session, task, new_spec)
        return self._reconciler.reconcile(task_id)

    def set_paused(self, principal: Principal, task_id: str, paused: bool) -> ServerStatus:
        require_admin(principal)
        with self._reconciler.locked_transaction(task_id) as session:
            task = load_task(session, principal, task_id, for_update=True)
            server = _require_server(session, task_id)
            server.paused = paused
            self._reconciler.apply(task, server)
        return self._reconciler.reconcile(task_id)

    def logs(self, principal: Principal, task_id: str, tail: int) -> LogsPublic:
        require_admin(principal)
        with self._sessions() as session:
            load_task(session, principal, task_id)
            _require_server(session, task_id)
        try:
            lines = self._provisioner.logs(task_id, tail)
        except ProvisionerError as exc:
            raise provisioner_failure(exc) from exc
        return LogsPublic(task_id=task_id, lines=lines)

    def start_run(self, principal: Principal, task_id: str) -> TaskPublic:
        require_admin(principal)
        with self._sessions.begin() as session:
            task = load_task(session, principal, task_id, for_update=True)
            if task.status not in ("ready", "stopped", "finished", "failed"):
                raise FedopsError(
                    ErrorCode.INVALID_STATE,
                    f"the task is {task.status}; a run starts once its server is ready",
                )
            server = _require_server(session, task_id)
            if not server.ready:
                raise FedopsError(ErrorCode.INVALID_STATE, f"the server is not ready: {server.reason}")
            set_task_status(task, "running", "")
            return task_with_progress(session, task, heartbeat_timeout=self._heartbeat_timeout)

    def stop_run(self, principal: Principal, task_id: str) -> TaskPublic:
        require_admin(principal)
        with self._sessions.begin() as session:
            task = load_task(session, principal, task_id, for_update=True)
            if task.status != "running":
                raise FedopsError(ErrorCode.INVALID_STATE, f"the task is {task.status}, not running")
            set_task_status(task, "stopped", "stopped by the operator")
            return task_with_progress(session, task, heartbeat_timeout=self._heartbeat_timeout)

    def report_run_result(self, principal: Principal, task_id: str, result: RunResult) -> TaskPublic:
        """The FL server runtime says how the run ended."""
        with self._sessions.begin() as session:
            task = load_task(session, principal, task_id, Role.SERVER, for_update=True)
            if task.status != "running":
                raise FedopsError(ErrorCode.INVALID_STATE, f"the task is {task.status}, not running")
            set_task_status(task, result.status, result.reason)
            return task_with_progress(session, task, heartbeat_timeout=self._heartbeat_timeout)

    def delete(self, principal: Principal, task_id: str) -> None:
        require_admin(principal)
        with self._sessions() as session:
            load_task(session, principal, task_id)
            _require_server(session, task_id)
        self._reconciler.teardown(task_id)


def _require_server(session: Session, task_id: str) -> ServerRow:
    server = server_store.get_server(session, task_id)
    if server is None:
        raise FedopsError(
            ErrorCode.SERVER_NOT_PROVISIONED,
            f"task {task_id!r} has no server; provision it first (POST /api/v1/tasks/{task_id}/server)",
        )
    return server
