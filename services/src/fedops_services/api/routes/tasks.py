"""/api/v1/tasks: create, list, read, revise and delete tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from fedops.api.schemas import RevisionsPublic, TaskPublic, TasksPublic, TaskStatus
from fedops.spec import TaskSpec
from fedops_services.api.deps import PrincipalDep, ServicesDep
from fedops_services.api.routes._common import DEFAULT_LIMIT, ERRORS, Limit, Offset
from fedops_services.api.strict import StrictRoute

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], responses=ERRORS, route_class=StrictRoute)


@router.post("", status_code=status.HTTP_201_CREATED, operation_id="createTask")
def create_task(spec: TaskSpec, principal: PrincipalDep, services: ServicesDep) -> TaskPublic:
    return services.tasks.create(principal, spec)


@router.get("", operation_id="listTasks")
def list_tasks(
    principal: PrincipalDep,
    services: ServicesDep,
    status: TaskStatus | None = None,
    name: Annotated[str | None, Query(max_length=64, description="Substring of the name")] = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> TasksPublic:
    return services.tasks.list_tasks(principal, status=status, name=name, limit=limit, offset=offset)


@router.get("/{task_id}", operation_id="getTask")
def get_task(task_id: str, principal: PrincipalDep, services: ServicesDep) -> TaskPublic:
    return services.tasks.get(principal, task_id)


@router.put("/{task_id}", operation_id="updateTask")
def update_task(task_id: str, spec: TaskSpec, principal: PrincipalDep, services: ServicesDep) -> TaskPublic:
    return services.tasks.update(principal, task_id, spec)


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="deleteTask")
def delete_task(task_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    services.tasks.delete(principal, task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{task_id}/revisions", operation_id="listTaskRevisions")
def list_revisions(
    task_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> RevisionsPublic:
    return services.tasks.revisions(principal, task_id, limit=limit, offset=offset)
