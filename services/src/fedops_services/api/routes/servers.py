"""/api/v1/tasks/{task_id}/server: the task's FL server, through the provisioner."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from fedops.api.schemas import LogsPublic, RunResult, ScaleRequest, ServerStatus, TaskPublic
from fedops_services.api.deps import PrincipalDep, ServicesDep
from fedops_services.api.routes._common import ERRORS, SERVER_ERRORS
from fedops_services.api.strict import StrictRoute

router = APIRouter(
    prefix="/api/v1/tasks/{task_id}/server",
    tags=["servers"],
    responses=ERRORS | SERVER_ERRORS,
    route_class=StrictRoute,
)


@router.post("", status_code=status.HTTP_202_ACCEPTED, operation_id="provisionServer")
def provision(task_id: str, principal: PrincipalDep, services: ServicesDep) -> ServerStatus:
    return services.servers.provision(principal, task_id)


@router.get("", operation_id="getServerStatus")
def get_status(task_id: str, principal: PrincipalDep, services: ServicesDep) -> ServerStatus:
    return services.servers.status(principal, task_id)


@router.patch("", operation_id="scaleServer")
def scale(
    task_id: str, request: ScaleRequest, principal: PrincipalDep, services: ServicesDep
) -> ServerStatus:
    return services.servers.scale(principal, task_id, request)


@router.post("/pause", operation_id="pauseServer")
def pause(task_id: str, principal: PrincipalDep, services: ServicesDep) -> ServerStatus:
    return services.servers.set_paused(principal, task_id, True)


@router.post("/resume", operation_id="resumeServer")
def resume(task_id: str, principal: PrincipalDep, services: ServicesDep) -> ServerStatus:
    return services.servers.set_paused(principal, task_id, False)


@router.get("/logs", operation_id="getServerLogs")
def logs(
    task_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    tail: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> LogsPublic:
    return services.servers.logs(principal, task_id, tail)


@router.post("/run", operation_id="startRun")
def start_run(task_id: str, principal: PrincipalDep, services: ServicesDep) -> TaskPublic:
    return services.servers.start_run(principal, task_id)


@router.delete("/run", operation_id="stopRun")
def stop_run(task_id: str, principal: PrincipalDep, services: ServicesDep) -> TaskPublic:
    return services.servers.stop_run(principal, task_id)


@router.post("/run/result", operation_id="reportRunResult")
def report_run_result(
    task_id: str, result: RunResult, principal: PrincipalDep, services: ServicesDep
) -> TaskPublic:
    return services.servers.report_run_result(principal, task_id, result)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteServer")
def delete(task_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    services.servers.delete(principal, task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
