"""Pieces of the FL server runtime that need no running federation."""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

from fedops.flower_tuning import cap_sleeps, shorten_pull_backoff
from fedops.spec import TaskSpec
from fedops_services.flserver.checkpoints import CheckpointStore
from fedops_services.flserver.fab import CLIENTAPP, SERVERAPP, build_fab
from fedops_services.flserver.runtime import FleetTls, superlink_command
from fedops_services.flserver.strategies import strategy_kwargs


def test_checkpoints_are_atomic_pointers_to_the_latest_round(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    assert store.latest() is None

    for round_number in range(1, 6):
        store.save(round_number, [np.full((2, 2), round_number, dtype=np.float32), np.arange(3)])
    latest = store.latest()

    assert latest is not None and latest.round == 5
    assert float(latest.arrays[0][0, 0]) == 5.0 and latest.arrays[1].tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.glob("round-*.npz")) == [f"round-0000{r}.npz" for r in (3, 4, 5)]
    assert not list(tmp_path.glob("*.part"))


def test_a_corrupted_checkpoint_is_detected(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    checkpoint = store.save(1, [np.zeros(4)])
    checkpoint.path.write_bytes(b"not the model")

    with pytest.raises(RuntimeError, match="hash"):
        store.latest()


def test_the_bundle_carries_configuration_only() -> None:
    content, digest = build_fab()

    names = zipfile.ZipFile(BytesIO(content)).namelist()
    pyproject = zipfile.ZipFile(BytesIO(content)).read("pyproject.toml").decode()
    assert not [n for n in names if n.endswith(".py")]
    assert SERVERAPP in pyproject and CLIENTAPP in pyproject and len(digest) == 64
    assert build_fab() == (content, digest)  # deterministic: one hash per fedops version


def test_superlink_listens_on_loopback_with_tls_and_auth_when_configured(tmp_path: Path) -> None:
    plain = superlink_command(port=9000, data_dir=tmp_path)
    secure = superlink_command(
        port=9000, data_dir=tmp_path, tls=FleetTls(Path("c"), Path("k"), Path("a"), supernode_auth=True)
    )

    assert "--insecure" in plain and plain[plain.index("--host") + 1] == "127.0.0.1"
    assert "--disable-runtime-dependency-installation" in plain
    assert "--insecure" not in secure and "--enable-supernode-auth" in secure
    assert secure[secure.index("--ssl-ca-certfile") + 1] == "a"


def test_strategy_arguments_combine_params_and_client_selection() -> None:
    spec = TaskSpec.model_validate(
        {"name": "t", "strategy": {"name": "FedProx", "params": {"proximal_mu": 0.5}},
         "clients": {"min_available": 3, "min_train": 2, "min_evaluate": 1, "fraction_evaluate": 0.5}}
    )  # fmt: skip

    assert strategy_kwargs(spec) == {
        "proximal_mu": 0.5, "fraction_train": 1.0, "fraction_evaluate": 0.5,
        "min_train_nodes": 2, "min_evaluate_nodes": 1, "min_available_nodes": 3,
    }  # fmt: skip


def test_the_flower_internals_fedops_tunes_are_still_there() -> None:
    # flwr is pinned; this fails loudly if an upgrade moves what fedops_tuning relies on.
    cap_sleeps("flwr.supernode.start_client_internal", 0.05)
    shorten_pull_backoff()

    from flwr.supercore.inflatable import inflatable_utils

    assert inflatable_utils.pull_objects.__kwdefaults__["initial_backoff"] == 0.02
