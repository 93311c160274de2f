"""The FedOps way to start this client: build `registration`, then FLClientTask(...).start().

FedOps projects end their client_main.py like this; with fedops it runs unchanged apart
from the data source. Settings come from conf/config.yaml, the registry and the token from
FEDOPS_URL / FEDOPS_TOKEN, this client's share of the data from PARTITION_ID and
NUM_PARTITIONS. `fedops-client run .` does the same without this file.
"""

from __future__ import annotations

import os
from pathlib import Path

import data_preparation
import models
import torch

from fedops.client.app import FLClientTask
from fedops.client.config import load_config

if __name__ == "__main__":
    torch.set_num_threads(1)
    cfg = load_config(Path(__file__).resolve().parent / "conf" / "config.yaml")
    train_loader, val_loader, test_loader = data_preparation.load_partition(
        dataset=cfg.dataset.name,
        validation_split=cfg.dataset.validation_split,
        batch_size=cfg.batch_size,
        partition_id=int(os.environ.get("PARTITION_ID", "0")),
        num_partitions=int(os.environ.get("NUM_PARTITIONS", "1")),
    )
    registration = {
        "train_loader": train_loader,
        "val_loader": val_loader,
        "test_loader": test_loader,
        "model": models.MNISTClassifier(output_size=cfg.model.output_size),
        "model_name": "MNISTClassifier",
        "train_torch": models.train_torch(),
        "test_torch": models.test_torch(),
    }
    raise SystemExit(FLClientTask(cfg, registration).start())
