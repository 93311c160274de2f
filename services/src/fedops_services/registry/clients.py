"""Edge clients: enrolment with a task's token, heartbeats, the client-manager poll."""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from cachetools import TTLCache, cached
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from fedops.api.schemas import (
    ClientsPublic,
    EnrolledClient,
    EnrollmentRequest,
    EnrollmentTokenCreate,
    EnrollmentTokenPublic,
    HeartbeatRequest,
    ManagerState,
    TaskStatus,
)
from fedops_services.access import load_task
from fedops_services.config import Settings
from fedops_services.db.tables import ClientRow, utcnow
from fedops_services.errors import ErrorCode, FedopsError
from fedops_services.registry.views import client_public
from fedops_services.security import (
    CredentialCache,
    Principal,
    Role,
    TokenKind,
    hash_token,
    new_token,
    require_admin,
    require_task_scope,
)
from fedops_services.store import clients as client_store

__all__ = ["ClientService"]

logger = logging.getLogger(__name__)


class ClientService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        reads: Engine,
        settings: Settings,
        credentials: CredentialCache,
    ) -> None:
        self._sessions = sessions
        self._reads = reads
        self._settings = settings
        self._credentials = credentials
        # One answer per task, shared by its polls for poll_cache_seconds (0: not at all);
        # the lock because cachetools' caches are not thread-safe.
        self._manager_state: Callable[[str], ManagerState] = cached(
            TTLCache(maxsize=50_000, ttl=settings.poll_cache_seconds), lock=threading.Lock()
        )(self._query_manager_state)
        self._fleet_ca = settings.fleet_tls_ca.read_text() if settings.fleet_tls_ca else None
        self._heartbeat_timeout = timedelta(seconds=settings.heartbeat_timeout_seconds)

    def create_enrollment_token(
        self, principal: Principal, task_id: str, request: EnrollmentTokenCreate
    ) -> EnrollmentTokenPublic:
        require_admin(principal)
        token = new_token(TokenKind.ENROLLMENT)
        with self._sessions.begin() as session:
            load_task(session, principal, task_id)
            row = client_store.insert_enrollment_token(
                session,
                task_id,
                token_hash=hash_token(token),
                expires_at=utcnow() + timedelta(seconds=request.ttl_seconds),
                max_uses=request.max_uses,
            )
        return EnrollmentTokenPublic(
            id=row.id, task_id=task_id, token=token, expires_at=row.expires_at, max_uses=row.max_uses
        )

    def enroll(self, principal: Principal, task_id: str, request: EnrollmentRequest) -> EnrolledClient:
        """Trade an enrolment token (or the admin token) for a credential of this task only.

        A name that is enrolled already belongs to its client: enrolling it again (a
        reinstalled edge machine) needs that client's current credential in
        ``current_credential``, or the admin token; the client keeps its id and history and
        gets a new credential. Anyone else gets 409, and nothing changes. Every enrolment
        with an enrolment token counts one use of it.
        """
        if principal.role not in (Role.ENROLLMENT, Role.ADMIN):
            raise FedopsError(ErrorCode.FORBIDDEN, "enrolment needs the task's enrolment token")
        if request.node_public_key is not None:
            _check_node_key(request.node_public_key)
        credential = new_token(TokenKind.CLIENT)
        try:
            with self._sessions.begin() as session:
                load_task(session, principal, task_id, Role.ENROLLMENT)
                if principal.role is Role.ENROLLMENT:
                    _claim_use(session, principal, task_id)
                client = client_store.find_client_by_name(session, task_id, request.name)
                if client is None:
                    # A concurrent enrolment of the same name fails here (IntegrityError).
                    client = client_store.insert_client(
                        session,
                        task_id,
                        name=request.name,
                        hostname=request.hostname,
                        credential_hash=hash_token(credential),
                        node_public_key=request.node_public_key,
                    )
                    replaced = False
                else:
                    self._re_enroll(session, principal, client, request, credential)
                    replaced = True
                client_id, name = client.id, client.name
        except IntegrityError as exc:  # the same new name enrolled concurrently with another token
            raise _name_taken(request.name) from exc
        if replaced:
            self._credentials.revoke_all()  # after the commit, so no request re-caches the old one
        logger.info("client enrolled task=%s client=%s name=%s again=%s", task_id, client_id, name, replaced)
        return EnrolledClient(client_id=client_id, task_id=task_id, name=name, credential=credential)

    @staticmethod
    def _re_enroll(
        session: Session, principal: Principal, client: ClientRow, request: EnrollmentRequest, credential: str
    ) -> None:
        """Replace an existing client's credential and node key, once the caller proved to be
        that client (or is an admin)."""
        presented = request.current_credential
        if principal.role is Role.ADMIN and presented is None:
            presented_hash = None
        elif presented is not None and hmac.compare_digest(hash_token(presented), client.credential_hash):
            presented_hash = client.credential_hash
        else:
            raise _name_taken(request.name, presented=presented is not None)
        if not client_store.replace_client_credential(
            session,
            client.id,
            presented_hash=presented_hash,
            credential_hash=hash_token(credential),
            hostname=request.hostname,
            node_public_key=request.node_public_key,
        ):  # a concurrent re-enrolment with the same credential rotated it first
            raise _name_taken(request.name, presented=True)

    def heartbeat(
        self, principal: Principal, task_id: str, client_id: str, request: HeartbeatRequest
    ) -> None:
        with self._sessions.begin() as session:
            load_task(session, principal, task_id, Role.CLIENT)
            if principal.role is Role.CLIENT and principal.client_id != client_id:
                raise FedopsError(ErrorCode.FORBIDDEN, "a client may only send its own heartbeat")
            client = client_store.get_client(session, task_id, client_id)
            if client is None:
                raise FedopsError(ErrorCode.CLIENT_NOT_FOUND, f"no client {client_id!r} in task {task_id!r}")
            client.last_heartbeat_at = utcnow()
            client.online = request.online
            client.training = request.training
            if request.global_model_version is not None:
                client.global_model_version = request.global_model_version
            # Older clients send no backlog: keep the last known figure rather than erase it.
            if request.spool_backlog is not None:
                client.spool_backlog = request.spool_backlog

    def list_clients(self, principal: Principal, task_id: str, *, limit: int, offset: int) -> ClientsPublic:
        now = utcnow()
        with self._sessions() as session:
            load_task(session, principal, task_id, Role.SERVER)  # the server registers node keys
            rows, count = client_store.list_clients(session, task_id, limit=limit, offset=offset)
        data = [client_public(r, now=now, heartbeat_timeout=self._heartbeat_timeout) for r in rows]
        return ClientsPublic(data=data, count=count)

    def manager_state(self, principal: Principal, task_id: str) -> ManagerState:
        """The client-manager poll, on the hot path of every edge machine.

        One indexed query, its answer shared for ``poll_cache_seconds`` by all clients of
        the task: the database then sees one poll query per task per second, however many
        clients poll. The state is never older than that; readiness itself is observed by
        the reconciler every ``reconcile_interval_seconds`` anyway.
        """
        require_task_scope(principal, task_id, Role.CLIENT, Role.SERVER)
        state = self._manager_state(task_id)
        return (
            state
            if principal.client_id is None
            else state.model_copy(update={"client_id": principal.client_id})
        )

    def _query_manager_state(self, task_id: str) -> ManagerState:
        with self._reads.connect() as connection:
            row = client_store.manager_poll_state(connection, task_id)
        if row is None:
            raise FedopsError(ErrorCode.TASK_NOT_FOUND, f"no task with id {task_id!r}")
        status: TaskStatus = row.task_status  # type: ignore[assignment]  # stored values are TaskStatus
        return ManagerState(
            task_id=task_id,
            task_status=status,
            server_ready=row.server_ready,
            fleet_address=row.fleet_address,
            global_model_version=row.latest_model_version,
            heartbeat_interval_seconds=self._settings.heartbeat_interval_seconds,
            fleet_root_certificates=self._fleet_ca,
            supernode_auth=self._settings.supernode_auth,
        )


def _claim_use(session: Session, principal: Principal, task_id: str) -> None:
    """Count one use of the caller's enrolment token. This is the transaction's first
    write, so on SQLite it also serialises the rest of the enrolment behind it."""
    assert principal.token_id is not None
    if not client_store.claim_enrollment_use(session, principal.token_id, task_id, now=utcnow()):
        raise FedopsError(
            ErrorCode.ENROLLMENT_TOKEN_INVALID,
            "the enrolment token is expired or used up; ask the operator for a new one",
        )


def _name_taken(name: str, *, presented: bool = False) -> FedopsError:
    problem = (
        "the current_credential given is not that client's credential"
        if presented
        else "re-enrolling it needs that client's current credential"
    )
    return FedopsError(
        ErrorCode.CLIENT_NAME_TAKEN,
        f"name: a client named {name!r} is enrolled in this task already and {problem}. "
        "On that machine fedops-client sends it by itself (from its state directory); otherwise "
        "choose another name (--name), or have an admin re-enrol the name with the admin token",
    )


def _check_node_key(pem: str) -> None:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in (
        "secp256r1",
        "secp384r1",
        "secp521r1",
    ):
        raise FedopsError(
            ErrorCode.VALIDATION_ERROR,
            "node_public_key: give a PEM public key on a NIST curve (P-256, P-384 or P-521)",
        )
