"""FL server restarts: what each backend counts, and the registry's counter over it."""

from __future__ import annotations

from typing import Any

import pytest

from fedops_services.db.tables import ServerRow, TaskRow, utcnow
from fedops_services.provisioners import ObservedServer
from fedops_services.provisioners.kubernetes.status import restart_count
from fedops_services.registry.server_status import record_observation


def _rows() -> tuple[TaskRow, ServerRow]:
    task = TaskRow(id="t", name="t", status="running", status_reason="", revision=1, spec={})
    server = ServerRow(task_id="t", paused=False, restarts=0, backend_restarts=0, created_at=utcnow())
    return task, server


@pytest.mark.parametrize(
    ("readings", "counted"),
    [
        ([0, 0, 1, 1, 3], 3),  # the backend's count grows: only the increase is new
        ([2, 0, 1], 3),  # replaced (a new supervisor or pod) starts at 0: 2 before, then 1 more
        ([1, None, 1], 1),  # a reading without a count changes nothing
        ([4], 4),  # restarts before the first observation count too
    ],
)
def test_the_counter_follows_the_backends_count(readings: list[int | None], counted: int) -> None:
    task, server = _rows()
    for reading in readings:
        record_observation(task, server, ObservedServer(exists=True, restarts=reading))

    assert server.restarts == counted


def _pod(*restarts: int, init: int = 0) -> dict[str, Any]:
    return {
        "metadata": {"name": "p"},
        "status": {
            "initContainerStatuses": [{"restartCount": init}],
            "containerStatuses": [{"restartCount": count} for count in restarts],
        },
    }


def test_a_pods_restarts_are_its_containers() -> None:
    assert restart_count(_pod(2, 1, init=1)) == 4
    assert restart_count({"metadata": {"name": "p"}, "status": {}}) == 0
