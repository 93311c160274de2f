"""The FL server counts as failed every client asked to train that did not reply usefully."""

from __future__ import annotations

from fedops_services.flserver.strategies import RoundRecorder


def test_failures_are_clients_asked_minus_replies_aggregated() -> None:
    recorder = RoundRecorder(grid=None)  # type: ignore[arg-type]  # the grid is only read for waits
    recorder.asked.update({1: 3, 2: 2})
    recorder.clients.update({1: 1, 2: 2})

    assert [recorder.failures(number) for number in (1, 2, 3)] == [2, 0, 0]
