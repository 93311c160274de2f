"""Typed client of the registry API (tasks, servers, clients, global model versions)."""

from __future__ import annotations

from typing import Any

from fedops.api.http import HttpCore
from fedops.api.schemas import (
    ClientsPublic,
    EnrolledClient,
    EnrollmentRequest,
    EnrollmentTokenCreate,
    EnrollmentTokenPublic,
    FedopsConfigConversion,
    FedopsConfigConversionRequest,
    HeartbeatRequest,
    LogsPublic,
    ManagerState,
    ModelVersionCreate,
    ModelVersionPublic,
    ModelVersionsPublic,
    RevisionsPublic,
    RunResult,
    ScaleRequest,
    ServerStatus,
    TaskPublic,
    TasksPublic,
    WhoAmI,
)
from fedops.spec import TaskSpec

__all__ = ["RegistryClient"]


class RegistryClient:
    """Calls ``/api/v1/tasks...``; every method returns a parsed wire model or raises ApiError."""

    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def whoami(self) -> WhoAmI:
        return self._core.json("GET", "/api/v1/whoami", WhoAmI)

    def convert_fedops_config(self, config: str, *, name: str | None = None) -> FedopsConfigConversion:
        """The task spec a FedOps ``conf/config.yaml`` (its text) becomes, with a note per key
        not mapped; creates nothing. ApiError 422 names each unusable key as ``config.<key>``."""
        request = FedopsConfigConversionRequest(config=config, name=name)
        return self._core.json(
            "POST",
            "/api/v1/conversions/fedops-config",
            FedopsConfigConversion,
            json=request.model_dump(exclude_none=True),
        )

    # tasks
    def create_task(self, spec: TaskSpec) -> TaskPublic:
        return self._core.json("POST", "/api/v1/tasks", TaskPublic, json=spec.to_document())

    def list_tasks(
        self, *, status: str | None = None, name: str | None = None, limit: int = 100, offset: int = 0
    ) -> TasksPublic:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status:
            params["status"] = status
        if name:
            params["name"] = name
        return self._core.json("GET", "/api/v1/tasks", TasksPublic, params=params)

    def get_task(self, task_id: str) -> TaskPublic:
        return self._core.json("GET", f"/api/v1/tasks/{task_id}", TaskPublic)

    def update_task(self, task_id: str, spec: TaskSpec) -> TaskPublic:
        return self._core.json("PUT", f"/api/v1/tasks/{task_id}", TaskPublic, json=spec.to_document())

    def delete_task(self, task_id: str) -> None:
        self._core.request("DELETE", f"/api/v1/tasks/{task_id}")

    def list_revisions(self, task_id: str, *, limit: int = 100, offset: int = 0) -> RevisionsPublic:
        params = {"limit": limit, "offset": offset}
        return self._core.json("GET", f"/api/v1/tasks/{task_id}/revisions", RevisionsPublic, params=params)

    # server management
    def provision_server(self, task_id: str) -> ServerStatus:
        return self._core.json("POST", f"/api/v1/tasks/{task_id}/server", ServerStatus)

    def server_status(self, task_id: str) -> ServerStatus:
        return self._core.json("GET", f"/api/v1/tasks/{task_id}/server", ServerStatus)

    def scale_server(self, task_id: str, request: ScaleRequest) -> ServerStatus:
        body = request.model_dump(mode="json", exclude_none=True)
        return self._core.json("PATCH", f"/api/v1/tasks/{task_id}/server", ServerStatus, json=body)

    def pause_server(self, task_id: str) -> ServerStatus:
        return self._core.json("POST", f"/api/v1/tasks/{task_id}/server/pause", ServerStatus)

    def resume_server(self, task_id: str) -> ServerStatus:
        return self._core.json("POST", f"/api/v1/tasks/{task_id}/server/resume", ServerStatus)

    def server_logs(self, task_id: str, *, tail: int = 100) -> LogsPublic:
        return self._core.json(
            "GET", f"/api/v1/tasks/{task_id}/server/logs", LogsPublic, params={"tail": tail}
        )

    def start_run(self, task_id: str) -> TaskPublic:
        return self._core.json("POST", f"/api/v1/tasks/{task_id}/server/run", TaskPublic)

    def stop_run(self, task_id: str) -> TaskPublic:
        return self._core.json("DELETE", f"/api/v1/tasks/{task_id}/server/run", TaskPublic)

    def report_run_result(self, task_id: str, result: RunResult) -> TaskPublic:
        body = result.model_dump(mode="json")
        return self._core.json("POST", f"/api/v1/tasks/{task_id}/server/run/result", TaskPublic, json=body)

    def delete_server(self, task_id: str) -> None:
        self._core.request("DELETE", f"/api/v1/tasks/{task_id}/server")

    # clients
    def create_enrollment_token(
        self, task_id: str, request: EnrollmentTokenCreate | None = None
    ) -> EnrollmentTokenPublic:
        body = (request or EnrollmentTokenCreate()).model_dump(mode="json")
        return self._core.json(
            "POST", f"/api/v1/tasks/{task_id}/enrollment-tokens", EnrollmentTokenPublic, json=body
        )

    def enroll(self, task_id: str, request: EnrollmentRequest) -> EnrolledClient:
        """Call with an HttpCore holding the enrolment token as its bearer token."""
        return self._core.json(
            "POST", f"/api/v1/tasks/{task_id}/clients", EnrolledClient, json=request.model_dump()
        )

    def list_clients(self, task_id: str, *, limit: int = 100, offset: int = 0) -> ClientsPublic:
        """One page (``count`` is the total); ``fedops.api.all_pages`` walks them all."""
        params = {"limit": limit, "offset": offset}
        return self._core.json("GET", f"/api/v1/tasks/{task_id}/clients", ClientsPublic, params=params)

    def heartbeat(self, task_id: str, client_id: str, request: HeartbeatRequest) -> None:
        self._core.request(
            "PUT", f"/api/v1/tasks/{task_id}/clients/{client_id}/heartbeat", json=request.model_dump()
        )

    def manager_state(self, task_id: str) -> ManagerState:
        return self._core.json("GET", f"/api/v1/tasks/{task_id}/manager-state", ManagerState)

    # global model versions
    def register_model_version(self, task_id: str, request: ModelVersionCreate) -> ModelVersionPublic:
        return self._core.json(
            "POST",
            f"/api/v1/tasks/{task_id}/models",
            ModelVersionPublic,
            json=request.model_dump(mode="json"),
        )

    def list_model_versions(self, task_id: str, *, limit: int = 100, offset: int = 0) -> ModelVersionsPublic:
        params = {"limit": limit, "offset": offset}
        return self._core.json("GET", f"/api/v1/tasks/{task_id}/models", ModelVersionsPublic, params=params)

    def latest_model_version(self, task_id: str) -> ModelVersionPublic:
        return self._core.json("GET", f"/api/v1/tasks/{task_id}/models/latest", ModelVersionPublic)
