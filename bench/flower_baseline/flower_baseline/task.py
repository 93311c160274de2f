"""Model, data and training shared by the baseline's ServerApp and ClientApp.

The example project (clients/mnist-xai) is on PYTHONPATH, so both sides train exactly
what the fedops runtime trains.
"""

from __future__ import annotations

import time
from typing import Any

import torch

torch.set_num_threads(1)

import data_preparation  # noqa: E402 - after the thread setting
import models  # noqa: E402


class _Config:
    learning_rate = 0.01


def build_model() -> torch.nn.Module:
    model: torch.nn.Module = models.MNISTClassifier(output_size=10)
    return model


def local_train(model: torch.nn.Module, partition_id: int, num_partitions: int) -> tuple[int, float]:
    """One epoch on this client's share; returns (examples, seconds of compute)."""
    started = time.perf_counter()
    train_loader, _, _ = data_preparation.load_partition(
        "mnist", 0.2, 32, partition_id=partition_id, num_partitions=num_partitions
    )
    models.train_torch()(model, train_loader, 1, _Config())
    return len(train_loader.dataset), time.perf_counter() - started


def to_arrays(model: torch.nn.Module) -> list[Any]:
    return [v.detach().cpu().numpy() for v in model.state_dict().values()]


def load_arrays(model: torch.nn.Module, arrays: list[Any]) -> None:
    keys = list(model.state_dict().keys())
    model.load_state_dict({k: torch.from_numpy(a) for k, a in zip(keys, arrays, strict=True)})
