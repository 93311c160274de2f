"""The spool against a real monitoring that misbehaves in every way the field has shown.

A real HTTP server on loopback answers 500, garbage, fields from a newer server, resets
and stalls; the real typed client and the real spool meet each. The worker must outlive
all of it, deliver every item exactly once, log each kind of failure once, report its
backlog, and never make the trainer wait for the network. Client crashes are real too:
the server SIGKILLs a client process in the middle of a delivery.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedops.api import FedopsClient
from fedops.api.schemas import HeartbeatRequest, ManagerState, ReportsPublic
from fedops.durable.spool import Spool
from tests.support.faulty_monitoring import FaultyMonitoring
from tests.support.processes import wait_until

TASK = "task-1"


def _report(report_id: str) -> dict[str, Any]:
    return {"kind": "system", "report_id": report_id, "task_id": TASK, "client_id": "c1", "round": 1}


def _fields(artifact_id: str) -> dict[str, str]:
    return {"round": "1", "client_id": "c1", "class_label": "7", "method": "gradcam", "layer": "conv2",
            "artifact_id": artifact_id}  # fmt: skip


@pytest.fixture
def monitoring() -> Iterator[FaultyMonitoring]:
    with FaultyMonitoring() as server:
        yield server


def _spool(directory: Path, api: FedopsClient, **kwargs: Any) -> Spool:
    return Spool(
        directory,
        deliver=api.monitoring.ingest_documents,
        upload=lambda fields, content: api.monitoring.upload_fields(TASK, fields, content),
        retry_initial_seconds=0.01,  # the backoff is exercised, not waited for
        retry_max_seconds=0.05,
        **kwargs,
    )


def _attempts(monitoring: FaultyMonitoring, mode: str, count: int) -> Callable[[], bool]:
    return lambda: monitoring.attempts[mode] >= count


def _failure_kinds(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        str(record.args[1])  # FailureLog logs (what, kind, message)
        for record in caplog.records
        if record.name == "fedops.durable.spool" and "failed (" in record.getMessage()
        if isinstance(record.args, tuple)
    ]


def test_the_worker_outlives_every_fault_and_delivers_each_item_once(
    monitoring: FaultyMonitoring, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fedops.durable.spool")
    api = FedopsClient(monitoring.url, "client-token", timeout=1.0)  # a stall costs one second
    spool = _spool(tmp_path, api)
    monitoring.set_mode("500")
    spool.add_report(_report("r1"))
    spool.add_artifact(_fields("a1"), b"jpeg-1")
    spool.add_report(_report("r2"))
    backlog = [spool.pending()]
    stop = threading.Event()
    worker = spool.deliver_in_background(stop, interval=0.05)
    try:
        for mode in ("500", "garbage", "reset", "stall"):
            monitoring.set_mode(mode)
            monitoring.wait_for(_attempts(monitoring, mode, 3), what=f"three {mode} attempts")
            assert worker.is_alive(), f"the spool worker died on {mode}"
            spool.add_report(_report(f"during-{mode}"))
            backlog.append(spool.pending())
        # The one-second timeout was for the stalls. From here answers must never time out:
        # on a loaded machine a stored report's answer may take longer than a second, and
        # the spool would then rightly send it again, which the once-only check below forbids.
        api.core._client.timeout = httpx.Timeout(60.0)
        monitoring.set_mode("extra")  # a newer server: valid answers with fields this client does not know
        wait_until(lambda: spool.pending() == 0, timeout=60, what="the backlog to drain")
        assert worker.is_alive(), "the spool worker died on an answer with unknown fields"
        backlog.append(spool.pending())
        monitoring.set_mode("good")
        spool.add_report(_report("after"))
        backlog.append(spool.pending())
        spool.wake()
        wait_until(lambda: spool.pending() == 0, timeout=60, what="the last report")
        backlog.append(spool.pending())
        assert worker.is_alive()
    finally:
        stop.set()
        spool.wake()
        worker.join(timeout=30)
        api.close()

    assert not worker.is_alive()
    expected = ["r1", "r2", "during-500", "during-garbage", "during-reset", "during-stall", "after"]
    assert monitoring.received_report_ids == expected  # in order, none lost, none sent twice
    assert monitoring.stored_artifact_ids == ["a1"]
    assert backlog == [3, 4, 5, 6, 7, 0, 1, 0]
    assert not list(tmp_path.glob("*.bin")) and not (tmp_path / "rejected").exists()
    kinds = _failure_kinds(caplog)
    assert sorted(set(kinds)) == sorted(kinds), f"a kind of failure was logged twice: {kinds}"
    assert {"HTTP 500 internal_error", "HTTP 200 invalid_response", "unreachable (ReadTimeout)"} <= set(kinds)
    assert any(k.startswith("unreachable (") and k != "unreachable (ReadTimeout)" for k in kinds), kinds
    recoveries = [r for r in caplog.records if "recovered after" in r.getMessage()]
    assert len(recoveries) == 1  # said once, when the newer server accepted the backlog


def test_adding_never_waits_for_a_delivery_in_flight(monitoring: FaultyMonitoring, tmp_path: Path) -> None:
    api = FedopsClient(monitoring.url, "client-token", timeout=60.0)  # the stall outlasts the test
    delivery_returned = threading.Event()

    def deliver(bodies: list[dict[str, Any]]) -> object:
        try:
            return api.monitoring.ingest_documents(bodies)
        finally:
            delivery_returned.set()

    spool = Spool(
        tmp_path,
        deliver,
        lambda fields, content: api.monitoring.upload_fields(TASK, fields, content),
        retry_initial_seconds=0.01,
        retry_max_seconds=0.05,
    )
    monitoring.set_mode("stall")
    spool.add_report(_report("r1"))
    stop = threading.Event()
    worker = spool.deliver_in_background(stop, interval=3600)  # only wake() starts a delivery
    try:
        spool.wake()
        assert monitoring.stalled.wait(60), "the delivery never reached the server"

        spool.add_report(_report("r2"))  # the trainer's side, while the delivery hangs
        spool.add_artifact(_fields("a1"), b"jpeg")

        assert not delivery_returned.is_set(), "adding waited for the stalled delivery to give up"
        assert spool.pending() == 3
        monitoring.set_mode("good")
        monitoring.release.set()  # the stalled request ends without an answer; the retry succeeds
        wait_until(lambda: spool.pending() == 0, timeout=60, what="the backlog to drain")
    finally:
        stop.set()
        monitoring.release.set()
        spool.wake()
        worker.join(timeout=30)
        api.close()
    assert monitoring.received_report_ids == ["r1", "r2"]
    assert monitoring.stored_artifact_ids == ["a1"]


def test_a_bug_in_the_delivery_does_not_kill_the_worker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fedops.durable.spool")
    sent: list[str] = []
    broken = threading.Event()
    broken.set()

    def deliver(bodies: list[dict[str, Any]]) -> None:
        if broken.is_set():
            raise KeyError("a bug")  # not an ApiError: the old worker died on this
        sent.extend(b["report_id"] for b in bodies)

    spool = Spool(tmp_path, deliver, lambda f, c: None, retry_initial_seconds=0.01, retry_max_seconds=0.05)
    spool.add_report(_report("r1"))
    stop = threading.Event()
    worker = spool.deliver_in_background(stop, interval=0.05)
    try:
        wait_until(lambda: len(_failure_kinds(caplog)) >= 1, timeout=30, what="the failure to be logged")
        broken.clear()
        wait_until(lambda: spool.pending() == 0, timeout=30, what="delivery after the bug went away")
        assert worker.is_alive()
    finally:
        stop.set()
        spool.wake()
        worker.join(timeout=30)
    assert sent == ["r1"] and _failure_kinds(caplog) == ["KeyError"]
    failure = next(r for r in caplog.records if "failed (" in r.getMessage())
    assert failure.exc_info is not None  # a bug is logged with its traceback, once


# --- crashes ---------------------------------------------------------------------------------

_CLIENT = """
import sys
from pathlib import Path
from fedops.api import FedopsClient
from fedops.durable.spool import Spool

url, directory, add = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "add"
api = FedopsClient(url, "client-token", timeout=30)
spool = Spool(directory, api.monitoring.ingest_documents,
              lambda fields, content: api.monitoring.upload_fields("task-1", fields, content))
if add:
    spool.add_report({"kind": "system", "report_id": "r1", "task_id": "task-1", "client_id": "c1"})
    spool.add_artifact({"round": "1", "client_id": "c1", "class_label": "7", "method": "gradcam",
                        "layer": "conv2", "artifact_id": "a1"}, b"jpeg")
    spool.add_report({"kind": "system", "report_id": "r2", "task_id": "task-1", "client_id": "c1"})
sys.exit(0 if spool.flush() else 3)
"""


def _client(monitoring: FaultyMonitoring, directory: Path, add: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _CLIENT, monitoring.url, str(directory), "add" if add else "no"],
        stdout=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("crash_at_request", [1, 2, 3])
def test_a_client_killed_mid_delivery_loses_nothing_and_stores_nothing_twice(
    monitoring: FaultyMonitoring, tmp_path: Path, crash_at_request: int
) -> None:
    """The server stores the request, then SIGKILLs the client before answering: the worst
    moment, as the client cannot know the item arrived. The restarted client resends it."""
    monitoring.set_mode("kill")
    monitoring.kill_on_request = crash_at_request
    first = _client(monitoring, tmp_path, add=True)  # it imports for a while before its first request
    monitoring.set_victim(first.pid)
    try:
        assert first.wait(timeout=60) == -9, "the client was not killed mid-delivery"
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    monitoring.set_mode("good")
    second = _client(monitoring, tmp_path, add=False)
    try:
        assert second.wait(timeout=60) == 0
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()

    assert monitoring.stored_report_ids == ["r1", "r2"]  # each once, in order
    assert monitoring.stored_artifact_ids == ["a1"]
    resent = len(monitoring.received_report_ids) + len(monitoring.received_artifact_ids) - 3
    assert resent == 1  # the item in flight when the client died went out again, nothing else
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no entry, image or temporary file left


def test_what_a_crash_while_adding_leaves_is_cleaned_up(monitoring: FaultyMonitoring, tmp_path: Path) -> None:
    """Adding writes image, then entry, each by an atomic rename; delivery deletes entry,
    then image. A crash between any two of those leaves one of these files behind."""
    api = FedopsClient(monitoring.url, "client-token", timeout=30)
    first = _spool(tmp_path, api)
    first.add_report(_report("r1"))
    (tmp_path / "000000000002.bin").write_bytes(b"image whose entry was never written")
    (tmp_path / "000000000003.json.part").write_bytes(b'{"kind": "rep')  # a write cut short
    (tmp_path / "000000000004.bin.part").write_bytes(b"half an ima")

    second = _spool(tmp_path, api)
    second.add_report(_report("r2"))
    assert second.flush() is True
    api.close()

    assert monitoring.received_report_ids == ["r1", "r2"] and monitoring.stored_artifact_ids == []
    assert list(tmp_path.iterdir()) == []


def test_an_entry_whose_image_is_gone_is_set_aside_and_does_not_block(
    monitoring: FaultyMonitoring, tmp_path: Path
) -> None:
    api = FedopsClient(monitoring.url, "client-token", timeout=30)
    spool = _spool(tmp_path, api)
    spool.add_artifact(_fields("a1"), b"jpeg")
    spool.add_report(_report("r1"))
    (tmp_path / "000000000001.bin").unlink()  # e.g. removed by hand
    (tmp_path / "000000000003.json").write_bytes(b"not json at all")  # a corrupted entry

    assert spool.flush() is True
    api.close()
    assert monitoring.received_report_ids == ["r1"]
    set_aside = sorted(p.name for p in (tmp_path / "rejected").iterdir())
    assert set_aside == ["000000000001.json", "000000000003.json"]
    again = _spool(tmp_path, api)  # a restart
    again.add_report(_report("r2"))  # a new item does not take a set-aside item's name
    assert len(list(tmp_path.glob("*.json"))) == 1 and not (tmp_path / "000000000003.json").exists()


# --- wire compatibility ------------------------------------------------------------------------


def test_answers_with_unknown_fields_parse_at_every_depth(monitoring: FaultyMonitoring) -> None:
    report = {**_report("r1"), "kind": "client_round", "added_later": True,
              "timings": {"train": 1.0, "a_new_phase": 2.0}}  # fmt: skip
    monitoring.get_answers["/api/v1/monitoring/tasks/task-1/reports"] = {
        "data": [report], "count": 1, "next_cursor": "abc",
    }  # fmt: skip
    api = FedopsClient(monitoring.url, "client-token", timeout=30)
    try:
        reports = api.monitoring.reports(TASK)
    finally:
        api.close()
    assert isinstance(reports, ReportsPublic) and reports.data[0].report_id == "r1"


def test_response_models_ignore_unknown_fields_and_request_models_refuse_them() -> None:
    state = ManagerState.model_validate(
        {"task_id": "t", "task_status": "running", "server_ready": True, "fleet_address": None,
         "global_model_version": None, "heartbeat_interval_seconds": 5, "a_newer_field": 1}
    )  # fmt: skip
    assert state.task_id == "t"
    with pytest.raises(ValueError, match="extra"):
        HeartbeatRequest.model_validate({"online": True, "a_newer_field": 1})
    assert HeartbeatRequest(spool_backlog=3).spool_backlog == 3
    with pytest.raises(ValueError):
        HeartbeatRequest(spool_backlog=-1)
