"""The FL server's round outbox: committed rounds are delivered once, in order, after their
model version; rounds that never committed are never sent (issue 8, defect 7).

The registry and monitoring are in-process sinks here; the end-to-end crash test
(tests/e2e/test_crash_between_rounds.py) runs the same code against the real services.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fedops.api import ApiError
from fedops.durable.spool import Spool
from fedops_services.flserver.checkpoints import CheckpointStore
from fedops_services.flserver.outbox import RoundOutbox, RoundRecord


class Registry:
    """Numbers versions like the real registry, idempotently; can be down."""

    def __init__(self) -> None:
        self.versions: dict[tuple[int, str], int] = {}
        self.down = False

    def register(self, record: RoundRecord) -> int:
        if self.down:
            raise ApiError(0, "unreachable", "connection refused")
        key = (record.round, record.sha256)
        return self.versions.setdefault(key, len(self.versions) + 1)


def _outbox(tmp_path: Path, registry: Registry, delivered: list[dict[str, Any]]) -> RoundOutbox:
    spool = Spool(tmp_path / "spool", delivered.extend, lambda fields, content: None)
    return RoundOutbox(tmp_path / "outbox", spool, registry.register)


def _record(round_number: int) -> RoundRecord:
    report = {
        "kind": "server_round",
        "report_id": f"server-round-{round_number}-run-1",
        "round": round_number,
    }
    return RoundRecord(
        round=round_number,
        checkpoint_uri=f"file:///r{round_number}",
        sha256=f"h{round_number}",
        report=report,
    )


def test_a_committed_round_waits_for_its_version_then_goes_out_once(tmp_path: Path) -> None:
    registry, delivered = Registry(), list[dict[str, Any]]()
    outbox = _outbox(tmp_path, registry, delivered)
    registry.down = True
    outbox.stage(_record(1))

    waiting = outbox.deliver(committed_round=1)
    registry.down = False
    restarted = _outbox(tmp_path, registry, delivered)  # a new process on the same volume
    done = restarted.deliver(committed_round=1)

    assert (waiting, done) == (False, True)
    assert [(r["round"], r["global_model_version"]) for r in delivered] == [(1, 1)]
    assert restarted.latest_version == 1 and restarted.pending() == 0


def test_a_round_that_never_committed_is_dropped(tmp_path: Path) -> None:
    registry, delivered = Registry(), list[dict[str, Any]]()
    outbox = _outbox(tmp_path, registry, delivered)
    outbox.stage(_record(1))
    outbox.stage(_record(2))  # staged, then the server crashed before the pointer moved

    assert outbox.deliver(committed_round=1)

    assert [r["round"] for r in delivered] == [1] and registry.versions == {(1, "h1"): 1}


def test_the_checkpoint_pointer_moves_only_on_commit(tmp_path: Path) -> None:
    import numpy as np

    store = CheckpointStore(tmp_path)
    store.commit(store.write(1, [np.zeros(2)]))
    written = store.write(2, [np.ones(2)])

    assert store.latest_round() == 1
    store.commit(written)
    assert store.latest_round() == 2


class Monitoring:
    """Keeps uploaded checkpoints by version; can be down, or refuse for good."""

    def __init__(self) -> None:
        self.files: dict[int, bytes] = {}
        self.down = False
        self.unreachable = False
        self.refuse = False
        self.attempts = 0

    def upload(self, record: RoundRecord) -> None:
        self.attempts += 1
        if self.unreachable:
            raise ApiError(0, "unreachable", "connection refused")
        if self.down:
            raise ApiError(503, "unavailable", "monitoring is restarting")
        if self.refuse:
            raise ApiError(422, "validation_error", "sha256 mismatch")
        assert record.version is not None
        self.files[record.version] = Path(record.checkpoint_uri.removeprefix("file://")).read_bytes()


def _uploading_outbox(
    tmp_path: Path, registry: Registry, monitoring: Monitoring, delivered: list[dict[str, Any]]
) -> RoundOutbox:
    spool = Spool(tmp_path / "spool", delivered.extend, lambda fields, content: None)
    return RoundOutbox(tmp_path / "outbox", spool, registry.register, monitoring.upload)


def _record_with_file(tmp_path: Path, round_number: int) -> RoundRecord:
    path = tmp_path / f"round-{round_number}.npz"
    path.write_bytes(f"weights of round {round_number}".encode())
    record = _record(round_number)
    record.checkpoint_uri = path.as_uri()
    return record


def test_a_checkpoint_uploads_after_its_report_and_survives_a_monitoring_outage(tmp_path: Path) -> None:
    registry, monitoring, delivered = Registry(), Monitoring(), list[dict[str, Any]]()
    outbox = _uploading_outbox(tmp_path, registry, monitoring, delivered)
    outbox.stage(_record_with_file(tmp_path, 1))
    monitoring.down = True

    waiting = outbox.deliver(committed_round=1)
    monitoring.down = False
    restarted = _uploading_outbox(tmp_path, registry, monitoring, delivered)  # same volume, new process
    done = restarted.deliver(committed_round=1)

    assert (waiting, done) == (False, True)
    assert monitoring.files == {1: b"weights of round 1"}
    # The report was spooled once, before the outage ended: a resumed delivery does not resend it.
    assert [r["round"] for r in delivered] == [1] and restarted.pending() == 0


def test_a_pruned_or_refused_checkpoint_does_not_hold_up_later_rounds(tmp_path: Path) -> None:
    registry, monitoring, delivered = Registry(), Monitoring(), list[dict[str, Any]]()
    outbox = _uploading_outbox(tmp_path, registry, monitoring, delivered)
    pruned = _record_with_file(tmp_path, 1)
    Path(pruned.checkpoint_uri.removeprefix("file://")).unlink()
    outbox.stage(pruned)
    outbox.stage(_record_with_file(tmp_path, 2))

    assert outbox.deliver(committed_round=2)
    monitoring.refuse = True
    outbox.stage(_record_with_file(tmp_path, 3))
    assert outbox.deliver(committed_round=3)

    assert monitoring.files == {2: b"weights of round 2"}
    assert [r["round"] for r in delivered] == [1, 2, 3] and outbox.pending() == 0


def test_a_monitoring_outage_holds_back_uploads_only_not_later_versions_or_reports(tmp_path: Path) -> None:
    registry, monitoring, delivered = Registry(), Monitoring(), list[dict[str, Any]]()
    outbox = _uploading_outbox(tmp_path, registry, monitoring, delivered)
    monitoring.down = True
    outbox.stage(_record_with_file(tmp_path, 1))
    first = outbox.deliver(committed_round=1)
    outbox.stage(_record_with_file(tmp_path, 2))
    second = outbox.deliver(committed_round=2)

    assert (first, second) == (False, False)
    assert registry.versions == {(1, "h1"): 1, (2, "h2"): 2} and outbox.latest_version == 2
    assert [(r["round"], r["global_model_version"]) for r in delivered] == [(1, 1), (2, 2)]
    assert monitoring.files == {} and outbox.pending() == 2

    monitoring.down = False
    restarted = _uploading_outbox(tmp_path, registry, monitoring, delivered)  # same volume, new process
    assert restarted.deliver(committed_round=2)
    assert monitoring.files == {1: b"weights of round 1", 2: b"weights of round 2"}
    assert len(delivered) == 2 and restarted.pending() == 0  # no report went twice


def test_an_unreachable_monitoring_is_tried_once_per_delivery(tmp_path: Path) -> None:
    registry, monitoring, delivered = Registry(), Monitoring(), list[dict[str, Any]]()
    outbox = _uploading_outbox(tmp_path, registry, monitoring, delivered)
    monitoring.unreachable = True
    outbox.stage(_record_with_file(tmp_path, 1))
    outbox.stage(_record_with_file(tmp_path, 2))

    assert not outbox.deliver(committed_round=2)
    assert monitoring.attempts == 1  # round 2's upload did not wait out a timeout of its own
    assert [r["round"] for r in delivered] == [1, 2] and outbox.pending() == 2
    monitoring.unreachable = False
    assert outbox.deliver(committed_round=2) and sorted(monitoring.files) == [1, 2]


def test_an_unreadable_checkpoint_is_skipped_not_raised(tmp_path: Path) -> None:
    registry, monitoring, delivered = Registry(), Monitoring(), list[dict[str, Any]]()
    outbox = _uploading_outbox(tmp_path, registry, monitoring, delivered)
    unreadable = _record_with_file(tmp_path, 1)
    unreadable_path = Path(unreadable.checkpoint_uri.removeprefix("file://"))
    unreadable_path.unlink()
    unreadable_path.mkdir()  # reading it raises IsADirectoryError: an OSError, not FileNotFoundError
    outbox.stage(unreadable)
    outbox.stage(_record_with_file(tmp_path, 2))

    assert outbox.deliver(committed_round=2)

    assert monitoring.files == {2: b"weights of round 2"}
    assert [r["round"] for r in delivered] == [1, 2] and outbox.pending() == 0
