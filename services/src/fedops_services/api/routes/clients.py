"""Enrolment, heartbeats, the client-manager poll and global model versions."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from fedops.api.schemas import (
    ClientsPublic,
    EnrolledClient,
    EnrollmentRequest,
    EnrollmentTokenCreate,
    EnrollmentTokenPublic,
    HeartbeatRequest,
    ManagerState,
    ModelVersionCreate,
    ModelVersionPublic,
    ModelVersionsPublic,
)
from fedops_services.api.deps import PrincipalDep, ServicesDep
from fedops_services.api.routes._common import DEFAULT_LIMIT, ERRORS, Limit, Offset
from fedops_services.api.strict import StrictRoute

router = APIRouter(prefix="/api/v1/tasks/{task_id}", responses=ERRORS, route_class=StrictRoute)


@router.post(
    "/enrollment-tokens",
    status_code=status.HTTP_201_CREATED,
    operation_id="createEnrollmentToken",
    tags=["clients"],
)
def create_enrollment_token(
    task_id: str, request: EnrollmentTokenCreate, principal: PrincipalDep, services: ServicesDep
) -> EnrollmentTokenPublic:
    return services.clients.create_enrollment_token(principal, task_id, request)


@router.post("/clients", status_code=status.HTTP_201_CREATED, operation_id="enrollClient", tags=["clients"])
def enroll(
    task_id: str, request: EnrollmentRequest, principal: PrincipalDep, services: ServicesDep
) -> EnrolledClient:
    return services.clients.enroll(principal, task_id, request)


@router.get("/clients", operation_id="listClients", tags=["clients"])
def list_clients(
    task_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> ClientsPublic:
    return services.clients.list_clients(principal, task_id, limit=limit, offset=offset)


@router.put(
    "/clients/{client_id}/heartbeat",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="sendHeartbeat",
    tags=["clients"],
)
def heartbeat(
    task_id: str, client_id: str, request: HeartbeatRequest, principal: PrincipalDep, services: ServicesDep
) -> Response:
    services.clients.heartbeat(principal, task_id, client_id, request)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/manager-state", operation_id="getManagerState", tags=["clients"])
def manager_state(task_id: str, principal: PrincipalDep, services: ServicesDep) -> ManagerState:
    return services.clients.manager_state(principal, task_id)


@router.post(
    "/models",
    status_code=status.HTTP_201_CREATED,
    operation_id="registerModelVersion",
    tags=["models"],
    responses={200: {"model": ModelVersionPublic, "description": "Registered before: the same version"}},
)
def register_model_version(
    task_id: str,
    request: ModelVersionCreate,
    principal: PrincipalDep,
    services: ServicesDep,
    response: Response,
) -> ModelVersionPublic:
    version, created = services.models.register(principal, task_id, request)
    if not created:
        response.status_code = status.HTTP_200_OK
    return version


@router.get("/models", operation_id="listModelVersions", tags=["models"])
def list_model_versions(
    task_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> ModelVersionsPublic:
    return services.models.list_versions(principal, task_id, limit=limit, offset=offset)


@router.get("/models/latest", operation_id="getLatestModelVersion", tags=["models"])
def latest_model_version(task_id: str, principal: PrincipalDep, services: ServicesDep) -> ModelVersionPublic:
    return services.models.latest(principal, task_id)
