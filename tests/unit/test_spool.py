"""The client's outbox: nothing lost while monitoring is down, nothing sent twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fedops.api import ApiError
from fedops.durable.spool import Spool


class FakeMonitoring:
    """Stands in for the HTTP API in this unit test (the integration tests use the real one)."""

    def __init__(self) -> None:
        self.up = True
        self.reports: list[dict[str, Any]] = []
        self.images: list[tuple[dict[str, str], bytes]] = []

    def deliver(self, bodies: list[dict[str, Any]]) -> None:
        if not self.up:
            raise ApiError(0, "unreachable", "down")
        self.reports.extend(bodies)

    def upload(self, fields: dict[str, str], content: bytes) -> None:
        if not self.up:
            raise ApiError(503, "unavailable", "down")
        self.images.append((fields, content))


def test_items_wait_while_monitoring_is_down_and_go_out_in_order(tmp_path: Path) -> None:
    monitoring = FakeMonitoring()
    spool = Spool(tmp_path, monitoring.deliver, monitoring.upload)
    monitoring.up = False

    spool.add_report({"report_id": "r1"})
    spool.add_artifact({"artifact_id": "a1"}, b"jpeg")
    spool.add_report({"report_id": "r2"})
    delivered_while_down = spool.flush()
    monitoring.up = True
    delivered = spool.flush()

    assert delivered_while_down is False and delivered is True
    assert [r["report_id"] for r in monitoring.reports] == ["r1", "r2"]
    assert monitoring.images == [({"artifact_id": "a1"}, b"jpeg")]
    assert spool.pending() == 0 and not list(tmp_path.glob("*.bin"))


def test_the_spool_survives_a_restart(tmp_path: Path) -> None:
    monitoring = FakeMonitoring()
    monitoring.up = False
    first = Spool(tmp_path, monitoring.deliver, monitoring.upload)
    first.add_report({"report_id": "r1"})
    first.flush()

    monitoring.up = True
    second = Spool(tmp_path, monitoring.deliver, monitoring.upload)
    second.add_report({"report_id": "r2"})
    second.flush()

    assert [r["report_id"] for r in monitoring.reports] == ["r1", "r2"]


def test_a_refused_item_is_set_aside_and_does_not_block_the_rest(tmp_path: Path) -> None:
    sent: list[str] = []

    def deliver(bodies: list[dict[str, Any]]) -> None:
        if any(b["report_id"] == "bad" for b in bodies):
            raise ApiError(422, "validation_error", "bad report")
        sent.extend(b["report_id"] for b in bodies)

    spool = Spool(tmp_path, deliver, lambda fields, content: None)
    spool.add_report({"report_id": "bad"})
    spool.flush()
    spool.add_report({"report_id": "good"})

    assert spool.flush() is True and sent == ["good"]
    assert len(list((tmp_path / "rejected").iterdir())) == 1
