"""How the backend's answers become state: what a provisioner observes becomes the stored
server and task status and the public ``ServerStatus``; its failures become API errors."""

from __future__ import annotations

import logging

from fedops.api.schemas import ServerStatus
from fedops.spec.task import ResourcesSpec
from fedops_services.db.tables import ServerRow, TaskRow, utcnow
from fedops_services.errors import ErrorCode, FedopsError
from fedops_services.provisioners import ObservedServer, ProvisionerError

__all__ = ["is_not_older", "provisioner_failure", "record_observation", "server_status", "set_task_status"]

logger = logging.getLogger(__name__)


def set_task_status(task: TaskRow, status: str, reason: str) -> None:
    task.status = status
    task.status_reason = reason
    task.updated_at = utcnow()


def record_observation(task: TaskRow, server: ServerRow, observed: ObservedServer) -> None:
    """Store what the backend says; a task waiting for its server becomes ready with it, and
    a ready task whose server is lost waits again."""
    ready = observed.ready_replicas > 0 and not server.paused
    server.ready = ready
    server.fleet_address = observed.fleet_address
    server.reason = "paused by the operator" if server.paused else observed.reason
    server.observed_at = observed.observed_at or utcnow()
    _count_restarts(server, observed.restarts)
    if task.status == "provisioning" and ready:
        set_task_status(task, "ready", "")
    elif task.status == "ready" and not ready:
        set_task_status(task, "provisioning", server.reason)


def _count_restarts(server: ServerRow, backend_count: int | None) -> None:
    """Add the restarts since the last observation to the server's counter. The backend's
    count starts again from 0 when what runs is replaced (a new supervisor, a new pod): a
    count below the last one seen is then all new."""
    if backend_count is None:
        return
    last = server.backend_restarts or 0
    new = backend_count - last if backend_count >= last else backend_count
    server.restarts = (server.restarts or 0) + new
    server.backend_restarts = backend_count


def is_not_older(observed: ObservedServer, server: ServerRow) -> bool:
    """A reconcile pass reads once, then records task by task; a status request may have
    recorded a newer reading in between, which must stand."""
    if observed.observed_at is None or server.observed_at is None:
        return True
    return observed.observed_at >= server.observed_at


def server_status(server: ServerRow, observed: ObservedServer) -> ServerStatus:
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


def provisioner_failure(exc: ProvisionerError) -> FedopsError:
    if exc.unsupported:
        return FedopsError(ErrorCode.UNSUPPORTED_BY_PROVISIONER, exc.public_message)
    logger.error("provisioner failed: %s", exc)
    return FedopsError(ErrorCode.PROVISIONER_FAILED, exc.public_message)
