"""A server that crashes anywhere between training and the next round loses nothing (issue 8, defect 7).

The ServerApp is SIGKILLed at each step of a round's end (``flserver/faults.py``: a file
in the server's volume names the step), then the rest of the FL server is killed as a
crashed pod would be. The supervisor restarts it, the run resumes, and every round has
exactly one server report and one model version, the report naming that version, and
every version's checkpoint is uploaded to monitoring.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

import pytest

from fedops.api.schemas import ServerRoundReport
from fedops_services.flserver.faults import CRASHED_FILE, STEPS, TRIGGER_FILE
from tests.e2e.conftest import PROJECT, mnist_task
from tooling.local_federation import LocalFederation, wait_for

pytestmark = pytest.mark.slow

ROUNDS = 2
# Every step in the first round (a second round runs after the resume), and the step right
# after the last round's commit (nothing is left to train: the resume only delivers).
CASES = [(step, 1) for step in STEPS] + [("after-commit", ROUNDS)]


@pytest.mark.parametrize(("step", "round_number"), CASES, ids=[f"{s}-round-{r}" for s, r in CASES])
def test_a_crash_at_any_step_loses_no_report_and_no_model_version(
    federation: LocalFederation, step: str, round_number: int
) -> None:
    task = federation.create_task(
        mnist_task(f"crash-{step}-{round_number}", rounds=ROUNDS, xai={"enabled": False})
    )
    federation.provision(task.id)
    volume = federation.root / "data" / "servers" / task.id / "data"
    (volume / TRIGGER_FILE).write_text(f"{step}:{round_number}")
    federation.start_clients(task.id, PROJECT, 2)
    federation.api.registry.start_run(task.id)

    wait_for((volume / CRASHED_FILE).exists, 240, f"the ServerApp to crash at {step} of round {round_number}")
    crashed = federation.server_pid(task.id)
    assert crashed is not None
    os.killpg(crashed, signal.SIGKILL)  # the rest of the FL server goes with it, as a crashed pod
    final = federation.wait_until_ended(task.id, timeout=300)

    assert final.status == "finished", final.status_reason
    assert federation.server_pid(task.id) != crashed  # the supervisor restarted it
    reports = federation.api.monitoring.reports(task.id, kind="server_round").data
    server_reports = [r for r in reports if isinstance(r, ServerRoundReport)]
    assert Counter(r.round for r in server_reports) == dict.fromkeys(range(1, ROUNDS + 1), 1)
    versions = federation.api.registry.list_model_versions(task.id).data
    assert [(v.version, v.round) for v in versions] == [(r, r) for r in range(1, ROUNDS + 1)]
    assert {r.round: r.global_model_version for r in server_reports} == {v.round: v.version for v in versions}
    rounds = federation.api.monitoring.rounds(task.id).data
    assert [r.round for r in rounds if r.server is not None] == list(range(1, ROUNDS + 1))
    # Each version's checkpoint reached monitoring too (the outbox uploads it, crash or not).
    wait_for(
        lambda: (
            all(v.checkpoint_available for v in federation.api.registry.list_model_versions(task.id).data)
            or None
        ),
        60,
        "every version's checkpoint in monitoring",
    )
