"""Edge clients: enrolment with a task's token, heartbeats, the client-manager poll."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, func, select
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
from fedops_services.config import Settings
from fedops_services.db.tables import (
    ClientRow,
    EnrollmentTokenRow,
    ModelVersionRow,
    ServerRow,
    TaskRow,
    utcnow,
)
from fedops_services.errors import ErrorCode, FedopsError
from fedops_services.registry.common import load_task
from fedops_services.registry.views import client_public
from fedops_services.security import (
    Principal,
    Role,
    TokenKind,
    hash_token,
    new_token,
    require_admin,
    require_task_scope,
)
from fedops_services.store import clients as client_store
from fedops_services.store.ids import new_id
from fedops_services.ttl_cache import TtlCache

__all__ = ["ClientService"]

logger = logging.getLogger(__name__)


class ClientService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        reads: Engine,
        settings: Settings,
        credentials_replaced: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self._reads = reads
        self._settings = settings
        self._credentials_replaced = credentials_replaced
        self._poll_cache: TtlCache[str, ManagerState] = TtlCache(settings.poll_cache_seconds)
        self._fleet_ca = settings.fleet_tls_ca.read_text() if settings.fleet_tls_ca else None
        self._heartbeat_timeout = timedelta(seconds=settings.heartbeat_timeout_seconds)

    def create_enrollment_token(
        self, principal: Principal, task_id: str, request: EnrollmentTokenCreate
    ) -> EnrollmentTokenPublic:
        require_admin(principal)
        token = new_token(TokenKind.ENROLLMENT)
        with self._sessions.begin() as session:
            load_task(session, principal, task_id)
            row = EnrollmentTokenRow(
                id=new_id(),
                task_id=task_id,
                token_hash=hash_token(token),
                expires_at=utcnow() + timedelta(seconds=request.ttl_seconds),
                max_uses=request.max_uses,
                uses=0,
                created_at=utcnow(),
            )
            session.add(row)
        return EnrollmentTokenPublic(
            id=row.id, task_id=task_id, token=token, expires_at=row.expires_at, max_uses=row.max_uses
        )

    def enroll(self, principal: Principal, task_id: str, request: EnrollmentRequest) -> EnrolledClient:
        """Trade an enrolment token for a credential of this task only.

        Enrolling an existing name again (a reinstalled edge machine) keeps the client's
        id and history and replaces its credential.
        """
        if principal.role is not Role.ENROLLMENT:
            raise FedopsError(ErrorCode.FORBIDDEN, "enrolment needs the task's enrolment token")
        if request.node_public_key is not None:
            _check_node_key(request.node_public_key)
        credential = new_token(TokenKind.CLIENT)
        with self._sessions.begin() as session:
            load_task(session, principal, task_id, Role.ENROLLMENT)
            token = session.scalar(
                select(EnrollmentTokenRow)
                .where(EnrollmentTokenRow.id == principal.token_id, EnrollmentTokenRow.task_id == task_id)
                .with_for_update()  # two machines enrolling at once cannot exceed max_uses
            )
            if token is None or (token.max_uses is not None and token.uses >= token.max_uses):
                raise FedopsError(ErrorCode.ENROLLMENT_TOKEN_INVALID, "the enrolment token is used up")
            token.uses += 1
            client = client_store.find_client_by_name(session, task_id, request.name)
            if client is None:
                client = ClientRow(
                    id=new_id(),
                    task_id=task_id,
                    name=request.name,
                    hostname=request.hostname,
                    credential_hash=hash_token(credential),
                    enrolled_at=utcnow(),
                    last_heartbeat_at=None,
                    online=False,
                    training=False,
                    global_model_version=None,
                    node_public_key=request.node_public_key,
                )
                session.add(client)
            else:
                client.credential_hash = hash_token(credential)
                client.hostname = request.hostname
                client.node_public_key = request.node_public_key
                self._credentials_replaced()
        logger.info("client enrolled task=%s client=%s name=%s", task_id, client.id, client.name)
        return EnrolledClient(client_id=client.id, task_id=task_id, name=client.name, credential=credential)

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

    def list_clients(self, principal: Principal, task_id: str) -> ClientsPublic:
        now = utcnow()
        with self._sessions() as session:
            load_task(session, principal, task_id, Role.SERVER)  # the server registers node keys
            rows = client_store.list_clients(session, task_id)
        data = [client_public(r, now=now, heartbeat_timeout=self._heartbeat_timeout) for r in rows]
        return ClientsPublic(data=data, count=len(data))

    def manager_state(self, principal: Principal, task_id: str) -> ManagerState:
        """The client-manager poll, on the hot path of every edge machine.

        One indexed query, its answer shared for ``poll_cache_seconds`` by all clients of
        the task: the database then sees one poll query per task per second, however many
        clients poll. The state is never older than that; readiness itself is observed by
        the reconciler every ``reconcile_interval_seconds`` anyway.
        """
        require_task_scope(principal, task_id, Role.CLIENT, Role.SERVER)
        state = self._poll_cache.get(task_id)
        if state is None:
            state = self._query_manager_state(task_id)
            self._poll_cache.put(task_id, state)
        return (
            state
            if principal.client_id is None
            else state.model_copy(update={"client_id": principal.client_id})
        )

    def _query_manager_state(self, task_id: str) -> ManagerState:
        latest_version = (
            select(func.max(ModelVersionRow.version))
            .where(ModelVersionRow.task_id == TaskRow.id)
            .correlate(TaskRow)
            .scalar_subquery()
        )
        query = (
            select(TaskRow.status, ServerRow.ready, ServerRow.fleet_address, latest_version)
            .select_from(TaskRow)
            .outerjoin(ServerRow, ServerRow.task_id == TaskRow.id)
            .where(TaskRow.id == task_id)
        )
        with self._reads.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            raise FedopsError(ErrorCode.TASK_NOT_FOUND, f"no task with id {task_id!r}")
        status: TaskStatus = row[0]
        return ManagerState(
            task_id=task_id,
            task_status=status,
            server_ready=bool(row[1]),
            fleet_address=row[2],
            global_model_version=row[3],
            heartbeat_interval_seconds=self._settings.heartbeat_interval_seconds,
            fleet_root_certificates=self._fleet_ca,
            supernode_auth=self._settings.supernode_auth,
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
