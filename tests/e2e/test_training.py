"""Federated training end to end: real Flower processes, real PyTorch, real Grad-CAM."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fedops.api.schemas import ClientRoundReport
from fedops.spec import STRATEGY_NAMES
from tests.e2e.conftest import PROJECT, mnist_task, run_task, start_federation
from tooling.local_federation import LocalFederation, wait_for

pytestmark = pytest.mark.slow


def test_two_clients_two_rounds_with_xai(federation: LocalFederation) -> None:
    task, final = run_task(federation, mnist_task("e2e-xai", rounds=2))

    assert final.status == "finished", final.status_reason
    rounds = federation.api.monitoring.rounds(task.id).data
    assert [r.round for r in rounds] == [1, 2]
    assert all(r.server is not None and r.server.accuracy is not None for r in rounds)
    # Every client asked to train either replied or counts as a failure (0 unless one was too slow).
    assert [r.server.num_clients + (r.server.num_failures or 0) for r in rounds if r.server] == [2, 2]
    assert all(r.server is not None and r.server.num_failures is not None for r in rounds)

    # Reports and images are delivered in the background: eventually, all of them.
    def all_reported() -> bool:
        return all(r.client_reports == 2 for r in federation.api.monitoring.rounds(task.id).data)

    wait_for(lambda: all_reported() or None, 60, "client reports")
    wait_for(lambda: federation.api.monitoring.artifacts(task.id).count == 40 or None, 60, "40 images")
    images: dict[tuple[int, str], set[str]] = defaultdict(set)
    kept: dict[int, list[float]] = defaultdict(list)
    for artifact in federation.api.monitoring.artifacts(task.id).data:
        images[(artifact.round, artifact.client_id)].add(artifact.class_label)
        assert artifact.method == "gradcam"
        # Confidence kept: a share of the model's confidence, never the old unbounded scale.
        assert artifact.faithfulness is not None and 0.0 <= artifact.faithfulness <= 1.0
        kept[artifact.round].append(artifact.faithfulness)
    print("confidence kept per round:", {r: round(sum(v) / len(v), 3) for r, v in sorted(kept.items())})
    assert len(images) == 4 and all(labels == {str(c) for c in range(10)} for labels in images.values())
    reports = federation.api.monitoring.reports(task.id, kind="client_round").data
    assert len(reports) == 4 and isinstance(reports[0], ClientRoundReport)
    assert all(isinstance(r, ClientRoundReport) and r.explanations_generated == 10 for r in reports)
    # The run controller read its task from the registry: the server's last-seen time is on /metrics.
    exposition = httpx.get(f"{federation.url}/metrics", timeout=30).text
    assert f'fedops_flserver_last_seen_timestamp_seconds{{task="{task.name}"}}' in exposition
    timings = reports[0].timings
    assert None not in (
        timings.wait,
        timings.load,
        timings.train,
        timings.evaluate,
        timings.xai,
        timings.upload,
    )
    versions = federation.api.registry.list_model_versions(task.id).data
    assert [v.round for v in versions] == [1, 2]
    server_file = Path(versions[-1].checkpoint_uri.removeprefix("file://"))
    assert server_file.exists()
    # The FL server uploaded each version's checkpoint to monitoring: what an operator
    # downloads is the server's file, byte for byte.
    uploaded = wait_for(
        lambda: (
            all(v.checkpoint_available for v in federation.api.registry.list_model_versions(task.id).data)
            or None
        ),
        60,
        "the uploaded checkpoints",
    )
    assert uploaded
    downloaded = io.BytesIO()
    name = federation.api.monitoring.download_checkpoint(task.id, versions[-1].version, downloaded)
    assert downloaded.getvalue() == server_file.read_bytes()
    assert name == f"{task.name}-round-2-v{versions[-1].version}.npz"
    print(f"MNIST CNN checkpoint: {len(downloaded.getvalue())} bytes")


def test_fedprox_mu_reaches_the_clients(federation: LocalFederation) -> None:
    spec = mnist_task("e2e-fedprox", rounds=1, strategy={"name": "FedProx", "params": {"proximal_mu": 0.25}},
                      xai={"enabled": False})  # fmt: skip
    task, final = run_task(federation, spec)

    assert final.status == "finished", final.status_reason
    wait_for(
        lambda: federation.api.monitoring.reports(task.id, kind="client_round").count == 2 or None,
        60,
        "reports",
    )
    reports = federation.api.monitoring.reports(task.id, kind="client_round").data
    assert all(isinstance(r, ClientRoundReport) and r.metrics.get("proximal_mu") == 0.25 for r in reports)


@pytest.fixture(scope="module")
def shared_federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    running = start_federation(tmp_path_factory.mktemp("matrix"))
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_every_strategy_completes_a_round(shared_federation: LocalFederation, strategy: str) -> None:
    params = {"QFedAvg": {"client_learning_rate": 0.1}}.get(strategy, {})
    # Bulyan aggregates only with 4f + 3 replies: three clients for every strategy.
    spec = mnist_task(f"matrix-{strategy.lower()}", rounds=1, strategy={"name": strategy, "params": params},
                      clients={"min_available": 3, "min_train": 3, "min_evaluate": 3},
                      xai={"enabled": False})  # fmt: skip
    task, final = run_task(shared_federation, spec, clients=3)

    assert final.status == "finished", final.status_reason
    rounds = shared_federation.api.monitoring.rounds(task.id).data
    assert [r.round for r in rounds] == [1] and rounds[0].server is not None
    assert rounds[0].server.num_clients == 3
    shared_federation.api.registry.delete_server(task.id)  # free the CPU for the next one


def test_a_fedops_style_client_main_trains_with_a_fedops_client_run(
    federation: LocalFederation, tmp_path: Path
) -> None:
    import subprocess
    import sys

    task = federation.create_task(mnist_task("fedops-style", rounds=1))
    federation.provision(task.id)
    token = federation.api.registry.create_enrollment_token(task.id).token
    env = {**federation.env, "FEDOPS_URL": federation.url, "FEDOPS_TOKEN": token,
           "FEDOPS_CLIENT_NAME": "fedops-style", "PARTITION_ID": "1", "NUM_PARTITIONS": "2"}  # fmt: skip
    log = (tmp_path / "client_main.log").open("wb")
    legacy = subprocess.Popen([sys.executable, str(PROJECT / "client_main.py")], cwd=tmp_path, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    federation.clients.append(legacy)  # stopped with the federation
    federation.start_clients(task.id, PROJECT, 1)

    federation.api.registry.start_run(task.id)
    final = federation.wait_until_ended(task.id, timeout=300)

    assert final.status == "finished", final.status_reason
    assert legacy.wait(timeout=60) == 0
    names = {c.name for c in federation.api.registry.list_clients(task.id).data}
    assert names == {"fedops-style", "edge-0"}
    assert (
        tmp_path / "outputs" / "xai" / "fedops-style" / task.id / "round-1" / "gradcam_class_0.jpg"
    ).exists()
