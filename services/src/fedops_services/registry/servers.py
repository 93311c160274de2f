"""Server management: desired state in the database, reconciled through a Provisioner.

Every mutation records the desired state and applies it in the same transaction, so a
request the provisioner refuses changes nothing. ``reconcile_all`` replays the database
onto the backend: after a registry restart it re-attaches to what runs, restarts what
should run and removes what no task owns. A lock per task serialises the operations and
the background reconciler, so a reconcile pass that read a server just before its
deletion cannot bring it back.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from pydantic import ValidationError
from sqlalchemy import event
from sqlalchemy.orm import Session, object_session, sessionmaker

from fedops.api.schemas import LogsPublic, RunResult, ScaleRequest, ServerStatus, TaskPublic
from fedops.spec import TaskSpec
from fedops.spec.task import ResourcesSpec
from fedops_services.config import Settings
from fedops_services.db.tables import ServerRow, TaskRow, utcnow
from fedops_services.errors import ErrorCode, FedopsError, validation_error
from fedops_services.provisioners import (
    CredentialsMissingError,
    ObservedServer,
    Provisioner,
    ProvisionerError,
    ServerDeployment,
)
from fedops_services.registry.common import load_task
from fedops_services.registry.views import task_public
from fedops_services.security import Principal, Role, TokenKind, hash_token, new_token, require_admin
from fedops_services.store import servers as server_store
from fedops_services.store import tasks as task_store

__all__ = ["ServerService", "runtime_environment"]

logger = logging.getLogger(__name__)


class ServerService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        provisioner: Provisioner,
        settings: Settings,
        credentials_revoked: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self.credentials_revoked = credentials_revoked
        self._provisioner = provisioner
        self._settings = settings
        self._guard = threading.Lock()
        self._task_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    # --- operations ----------------------------------------------------------------------

    def provision(self, principal: Principal, task_id: str) -> ServerStatus:
        """Create the task's server; provisioning an existing one only reconciles it."""
        require_admin(principal)
        with self.task_lock(task_id), self._sessions.begin() as session:
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
                _set_status(task, "provisioning", "waiting for the server to become ready")
                self._apply(task, server, secret_env={"FEDOPS_SERVER_TOKEN": token})
            else:
                self._apply(task, server)
        return self.reconcile(task_id)

    def status(self, principal: Principal, task_id: str) -> ServerStatus:
        with self._sessions() as session:
            load_task(session, principal, task_id, Role.SERVER)
            self._require_server(session, task_id)
        return self.reconcile(task_id)

    def scale(self, principal: Principal, task_id: str, request: ScaleRequest) -> ServerStatus:
        """Change replicas/resources: a new spec revision, rolled out by the provisioner."""
        require_admin(principal)
        with self.task_lock(task_id), self._sessions.begin() as session:
            task = load_task(session, principal, task_id, for_update=True)
            self._require_server(session, task_id)
            spec = TaskSpec.model_validate(task.spec)
            changes = request.model_dump(exclude_none=True)
            try:
                resources = ResourcesSpec.model_validate({**spec.resources.model_dump(), **changes})
            except ValidationError as exc:
                raise validation_error(exc.errors()) from None
            new_spec = spec.model_copy(update={"resources": resources})
            task_store.add_revision(session, task, new_spec.to_document())
            self.follow_spec(session, task, new_spec)
        return self.reconcile(task_id)

    def set_paused(self, principal: Principal, task_id: str, paused: bool) -> ServerStatus:
        require_admin(principal)
        with self.task_lock(task_id), self._sessions.begin() as session:
            task = load_task(session, principal, task_id, for_update=True)
            server = self._require_server(session, task_id)
            server.paused = paused
            self._apply(task, server)
        return self.reconcile(task_id)

    def logs(self, principal: Principal, task_id: str, tail: int) -> LogsPublic:
        require_admin(principal)
        with self._sessions() as session:
            load_task(session, principal, task_id)
            self._require_server(session, task_id)
        try:
            lines = self._provisioner.logs(task_id, tail)
        except ProvisionerError as exc:
            raise _provisioner_failure(exc) from exc
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
            server = self._require_server(session, task_id)
            if not server.ready:
                raise FedopsError(ErrorCode.INVALID_STATE, f"the server is not ready: {server.reason}")
            _set_status(task, "running", "")
            return task_public(task)

    def stop_run(self, principal: Principal, task_id: str) -> TaskPublic:
        require_admin(principal)
        with self._sessions.begin() as session:
            task = load_task(session, principal, task_id, for_update=True)
            if task.status != "running":
                raise FedopsError(ErrorCode.INVALID_STATE, f"the task is {task.status}, not running")
            _set_status(task, "stopped", "stopped by the operator")
            return task_public(task)

    def report_run_result(self, principal: Principal, task_id: str, result: RunResult) -> TaskPublic:
        """The FL server runtime says how the run ended."""
        with self._sessions.begin() as session:
            task = load_task(session, principal, task_id, Role.SERVER, for_update=True)
            if task.status != "running":
                raise FedopsError(ErrorCode.INVALID_STATE, f"the task is {task.status}, not running")
            _set_status(task, result.status, result.reason)
            return task_public(task)

    def delete(self, principal: Principal, task_id: str) -> None:
        require_admin(principal)
        with self._sessions() as session:
            load_task(session, principal, task_id)
            self._require_server(session, task_id)
        self.teardown(task_id)

    # --- reconciliation ------------------------------------------------------------------

    def follow_spec(self, session: Session, task: TaskRow, spec: TaskSpec) -> None:
        """Roll a provisioned server out to the spec's resources, inside the caller's
        transaction and under its ``task_lock``: a refusal rolls the revision back."""
        server = server_store.get_server(session, task.id)
        if server is not None:
            server.resources = spec.resources.model_dump(mode="json")
            server.replicas = spec.resources.replicas
            self._apply(task, server)

    def teardown(self, task_id: str) -> None:
        """Forget the server, then remove it from the backend.

        The desired state goes first: should the backend fail, the server is an orphan
        that the next reconcile pass removes, never one that is silently kept.
        """
        with self.task_lock(task_id):
            with self._sessions.begin() as session:
                task = task_store.get_task(session, task_id, for_update=True)
                server = server_store.get_server(session, task_id)
                if server is not None:
                    session.delete(server)
                if task is not None:
                    was_run = task.status in ("running", "finished", "failed", "stopped")
                    _set_status(task, "stopped" if was_run else "created", "server deleted")
            self.credentials_revoked()  # the server token is gone
            try:
                self._provisioner.delete(task_id)
            except ProvisionerError as exc:
                raise _provisioner_failure(exc) from exc

    def reconcile(self, task_id: str) -> ServerStatus:
        """Observe the backend and record what it says; answers the server's status."""
        observed = self._observe(task_id)
        with self._sessions.begin() as session:
            task = task_store.get_task(session, task_id, for_update=True)
            server = server_store.get_server(session, task_id)
            if task is None or server is None:
                raise FedopsError(ErrorCode.SERVER_NOT_PROVISIONED, f"task {task_id!r} has no server")
            if _not_older(observed, server):
                _record(task, server, observed)
            return _status(server, observed)

    def reconcile_all(self) -> None:
        """Make the backend match the database: apply every desired server, drop orphans."""
        with self._sessions() as session:
            wanted = {server.task_id for server in server_store.list_servers(session)}
        with self._provisioner.one_view():
            for task_id in sorted(wanted | self._provisioner.managed_task_ids()):
                try:
                    self._reconcile_one(task_id)
                except (FedopsError, ProvisionerError) as exc:
                    logger.warning("reconciling task %s failed: %s", task_id, exc)

    def _reconcile_one(self, task_id: str) -> None:
        with self.task_lock(task_id):
            with self._sessions.begin() as session:
                task = task_store.get_task(session, task_id)
                server = server_store.get_server(session, task_id)
                if task is None or server is None:
                    logger.warning("removing the server of task %s: no task owns it", task_id)
                    self._provisioner.delete(task_id)
                    return
                self._apply(task, server)
            self.reconcile(task_id)

    # --- internals -----------------------------------------------------------------------

    @contextmanager
    def task_lock(self, task_id: str) -> Iterator[None]:
        """Serialises changes to one task's server; always taken before a transaction."""
        with self._guard:
            lock = self._task_locks[task_id]
        with lock:
            yield

    def _require_server(self, session: Session, task_id: str) -> ServerRow:
        server = server_store.get_server(session, task_id)
        if server is None:
            raise FedopsError(
                ErrorCode.SERVER_NOT_PROVISIONED,
                f"task {task_id!r} has no server; provision it first (POST /api/v1/tasks/{task_id}/server)",
            )
        return server

    def _apply(self, task: TaskRow, server: ServerRow, secret_env: dict[str, str] | None = None) -> None:
        deployment = ServerDeployment(
            task_id=task.id,
            task_name=task.name,
            replicas=0 if server.paused else server.replicas,
            resources=ResourcesSpec.model_validate(server.resources),
            env=runtime_environment(self._settings, task.id, task.name),
            secret_env=secret_env,
        )
        try:
            try:
                self._provisioner.apply(deployment)
            except CredentialsMissingError as missing:
                token = self._reissue_token(server, str(missing))
                self._provisioner.apply(replace(deployment, secret_env={"FEDOPS_SERVER_TOKEN": token}))
        except ProvisionerError as exc:
            raise _provisioner_failure(exc) from exc

    def _reissue_token(self, server: ServerRow, why: str) -> str:
        """A new server token for a backend that lost the old one: only its hash is kept, in
        the caller's transaction, and cached credentials are dropped once that commits (the
        old token then stops working)."""
        logger.warning("issuing a new server token for task %s: %s", server.task_id, why)
        token = new_token(TokenKind.SERVER)
        server.token_hash = hash_token(token)
        session = object_session(server)
        if session is not None:
            event.listen(session, "after_commit", lambda _: self.credentials_revoked(), once=True)
        return token

    def _observe(self, task_id: str) -> ObservedServer:
        try:
            return self._provisioner.observe(task_id)
        except ProvisionerError as exc:
            raise _provisioner_failure(exc) from exc


def runtime_environment(settings: Settings, task_id: str, task_name: str) -> dict[str, str]:
    """What the FL server of a task is told, built from named settings only: never the
    registry's own environment (its admin token, its database URL). Provisioners pass it
    through an allow-list as well (``provisioners.environment``)."""
    env = {
        "FEDOPS_TASK_ID": task_id,
        "FEDOPS_TASK_NAME": task_name,
        "FEDOPS_API_URL": settings.api_url,
        "FEDOPS_MONITORING_URL": settings.monitoring_url or settings.api_url,
        "FEDOPS_ROUND_TIMEOUT_SECONDS": f"{settings.round_timeout_seconds:g}",
        "FEDOPS_WAIT_FOR_CLIENTS_SECONDS": f"{settings.wait_for_clients_seconds:g}",
        "FLWR_TELEMETRY_ENABLED": "0",
    }
    if settings.fleet_tls:
        env |= {
            "FEDOPS_FLEET_TLS_CERT": str(settings.fleet_tls_cert),
            "FEDOPS_FLEET_TLS_KEY": str(settings.fleet_tls_key),
            "FEDOPS_FLEET_TLS_CA": str(settings.fleet_tls_ca),
            "FEDOPS_SUPERNODE_AUTH": "1" if settings.supernode_auth else "0",
        }
    return env


def _set_status(task: TaskRow, status: str, reason: str) -> None:
    task.status = status
    task.status_reason = reason
    task.updated_at = utcnow()


def _record(task: TaskRow, server: ServerRow, observed: ObservedServer) -> None:
    ready = observed.ready_replicas > 0 and not server.paused
    server.ready = ready
    server.fleet_address = observed.fleet_address
    server.reason = "paused by the operator" if server.paused else observed.reason
    server.observed_at = observed.observed_at or utcnow()
    if task.status == "provisioning" and ready:
        _set_status(task, "ready", "")
    elif task.status == "ready" and not ready:
        _set_status(task, "provisioning", server.reason)


def _not_older(observed: ObservedServer, server: ServerRow) -> bool:
    """A reconcile pass reads once, then records task by task; a status request may have
    recorded a newer reading in between, which must stand."""
    if observed.observed_at is None or server.observed_at is None:
        return True
    return observed.observed_at >= server.observed_at


def _status(server: ServerRow, observed: ObservedServer) -> ServerStatus:
    return ServerStatus(
        task_id=server.task_id,
        provisioner=server.provisioner,
        provisioned=observed.exists,
        paused=server.paused,
        replicas=0 if server.paused else server.replicas,
        ready_replicas=observed.ready_replicas,
        available_replicas=observed.available_replicas,
        volume_phase=observed.volume_phase,
        fleet_address=observed.fleet_address,
        reason=server.reason,
        resources=ResourcesSpec.model_validate(server.resources),
        pods=list(observed.pods),
    )


def _provisioner_failure(exc: ProvisionerError) -> FedopsError:
    if exc.unsupported:
        return FedopsError(ErrorCode.UNSUPPORTED_BY_PROVISIONER, exc.public_message)
    logger.error("provisioner failed: %s", exc)
    return FedopsError(ErrorCode.PROVISIONER_FAILED, exc.public_message)
