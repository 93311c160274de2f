"""Reconciliation: each task's server lock, and the loop that makes the backend match the database.

The desired state of a task's server lives in the database; the provisioner makes the
backend match it. Every change to it runs in ``Reconciler.locked_transaction``: the task's
lock, then a database transaction, in which the caller records the desired state and
``apply``-s it, so a request the provisioner refuses changes nothing. ``reconcile_all``
replays the database onto the backend: after a registry restart it re-attaches to what
runs, restarts what should run and removes what no task owns. It takes the same lock, so a
pass that read a server just before its deletion cannot bring it back.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from sqlalchemy.orm import Session, object_session, sessionmaker

from fedops.api.schemas import ServerStatus
from fedops.spec import TaskSpec
from fedops.spec.task import ResourcesSpec
from fedops_services.config import Settings
from fedops_services.db.tables import ServerRow, TaskRow
from fedops_services.errors import ErrorCode, FedopsError
from fedops_services.provisioners import (
    CredentialsMissingError,
    ObservedServer,
    Provisioner,
    ProvisionerError,
    ServerDeployment,
)
from fedops_services.registry.server_environment import runtime_environment
from fedops_services.registry.server_status import (
    is_not_older,
    provisioner_failure,
    record_observation,
    server_status,
    set_task_status,
)
from fedops_services.security import CredentialCache, TokenKind, hash_token, new_token
from fedops_services.store import servers as server_store
from fedops_services.store import tasks as task_store

__all__ = ["Reconciler"]

logger = logging.getLogger(__name__)


class _TaskLocks:
    """One lock per task, and which of them the current thread holds."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._held = threading.local()

    @contextmanager
    def hold(self, task_id: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks[task_id]
        with lock:
            held = self._held_here()
            held.add(task_id)
            try:
                yield
            finally:
                held.discard(task_id)

    def held(self, task_id: str) -> bool:
        return task_id in self._held_here()

    def _held_here(self) -> set[str]:
        held: set[str] | None = getattr(self._held, "task_ids", None)
        if held is None:
            held = self._held.task_ids = set()
        return held


class Reconciler:
    """The one owner of the per-task lock: operations, spec revisions and the reconcile
    loop change a task's server only through it."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        provisioner: Provisioner,
        settings: Settings,
        credentials: CredentialCache,
    ) -> None:
        self._sessions = sessions
        self._provisioner = provisioner
        self._settings = settings
        self._credentials = credentials
        self._locks = _TaskLocks()

    @contextmanager
    def locked_transaction(self, task_id: str) -> Iterator[Session]:
        """A transaction in which to change one task's server, under that task's lock.

        The lock is always taken before the transaction, never inside one: a thread waiting
        for it then holds no database lock another thread's transaction might wait for.
        """
        with self._locks.hold(task_id), self._sessions.begin() as session:
            yield session

    def apply(self, task: TaskRow, server: ServerRow, *, secret_env: dict[str, str] | None = None) -> None:
        """Make the backend run ``server`` as recorded in the caller's ``locked_transaction``;
        a refusal raises FedopsError, and the caller's transaction rolls back with it."""
        if not self._locks.held(task.id):
            raise RuntimeError(f"task {task.id}'s server applied outside its locked_transaction")
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
            raise provisioner_failure(exc) from exc

    def follow_spec(self, session: Session, task: TaskRow, spec: TaskSpec) -> None:
        """Roll a provisioned server out to the spec's resources, in the caller's
        ``locked_transaction``: a refusal rolls the revision back."""
        server = server_store.get_server(session, task.id)
        if server is not None:
            server.resources = spec.resources.model_dump(mode="json")
            server.replicas = spec.resources.replicas
            self.apply(task, server)

    def teardown(self, task_id: str) -> None:
        """Forget the server, then remove it from the backend.

        The desired state goes first: should the backend fail, the server is an orphan
        that the next reconcile pass removes, never one that is silently kept.
        """
        with self._locks.hold(task_id):
            with self._sessions.begin() as session:
                task = task_store.get_task(session, task_id, for_update=True)
                server = server_store.get_server(session, task_id)
                if server is not None:
                    session.delete(server)
                if task is not None:
                    was_run = task.status in ("running", "finished", "failed", "stopped")
                    set_task_status(task, "stopped" if was_run else "created", "server deleted")
                self._credentials.revoke_all_after_commit(session)  # the server token is gone
            try:
                self._provisioner.delete(task_id)
            except ProvisionerError as exc:
                raise provisioner_failure(exc) from exc

    def reconcile(self, task_id: str) -> ServerStatus:
        """Observe the backend and record what it says; answers the server's status."""
        observed = self._observe(task_id)
        with self._sessions.begin() as session:
            task = task_store.get_task(session, task_id, for_update=True)
            server = server_store.get_server(session, task_id)
            if task is None or server is None:
                raise FedopsError(ErrorCode.SERVER_NOT_PROVISIONED, f"task {task_id!r} has no server")
            if is_not_older(observed, server):
                record_observation(task, server, observed)
            return server_status(server, observed)

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
        with self._locks.hold(task_id):
            with self._sessions.begin() as session:
                task = task_store.get_task(session, task_id)
                server = server_store.get_server(session, task_id)
                if task is None or server is None:
                    logger.warning("removing the server of task %s: no task owns it", task_id)
                    self._provisioner.delete(task_id)
                    return
                self.apply(task, server)
            self.reconcile(task_id)

    def _reissue_token(self, server: ServerRow, why: str) -> str:
        """A new server token for a backend that lost the old one: only its hash is kept, in
        the caller's transaction, and cached credentials are revoked once that commits (the
        old token then stops working)."""
        logger.warning("issuing a new server token for task %s: %s", server.task_id, why)
        token = new_token(TokenKind.SERVER)
        server.token_hash = hash_token(token)
        session = object_session(server)
        if session is not None:
            self._credentials.revoke_all_after_commit(session)
        return token

    def _observe(self, task_id: str) -> ObservedServer:
        try:
            return self._provisioner.observe(task_id)
        except ProvisionerError as exc:
            raise provisioner_failure(exc) from exc
