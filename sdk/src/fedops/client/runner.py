"""Assemble a client from a credential and a project: enrolment, trainer, manager.

Used by ``fedops-client run`` and by the ``FLClientTask`` Python API.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedops.api import FedopsClient
from fedops.client.config import Config
from fedops.client.identity import connect
from fedops.client.manager import ClientManager, ManagerOptions
from fedops.client.project import Registration, load_project
from fedops.client.trainer import Progress, Trainer
from fedops.durable.spool import Spool
from fedops.spec import TaskSpec

__all__ = ["RunOptions", "run_client", "spec_overrides"]

logger = logging.getLogger("fedops.client")


@dataclass
class RunOptions:
    registry: str
    token: str
    name: str | None = None
    task_id: str | None = None
    node_config: dict[str, Any] | None = None
    max_wait_seconds: float = 3600.0


def spec_overrides(spec: TaskSpec) -> dict[str, Any]:
    """Task-spec values that win over the project's config.yaml."""
    overrides: dict[str, Any] = {
        "learning_rate": spec.training.learning_rate,
        "num_epochs": spec.training.epochs,
        "batch_size": spec.training.batch_size,
        "num_rounds": spec.rounds,
        "xai": spec.xai.model_dump(mode="json"),
    }
    if spec.training.seed is not None:
        overrides["random_seed"] = spec.training.seed
    return overrides


def run_client(
    project: Path | None,
    options: RunOptions,
    *,
    progress: Progress | None = None,
    loaded: tuple[Config, Registration] | None = None,
    work_root: Path | None = None,
) -> int:
    """Enrol if needed, load the project (or use ``loaded``), and take part until the task ends."""
    import torch

    torch.set_num_threads(int(os.environ.get("FEDOPS_TORCH_THREADS", "1")))  # 2-core edge boxes
    root = (project or Path.cwd()).resolve()
    work_root = work_root or root / ".fedops-client"
    identity, name = connect(
        options.registry, options.token, work_root, name=options.name, task_id=options.task_id
    )
    api = FedopsClient(options.registry, identity.credential)
    spec = api.registry.get_task(identity.task_id).spec
    node_config: Mapping[str, Any] = options.node_config or {}
    if loaded is None:
        cfg, registration = load_project(root, overrides=spec_overrides(spec), node_config=node_config)
    else:
        cfg, registration = loaded[0].merged(spec_overrides(spec)), loaded[1]
    work_dir = work_root / identity.task_id / name
    spool = Spool(
        work_dir / "spool",
        deliver=api.monitoring.ingest_documents,
        upload=lambda fields, content: api.monitoring.upload_fields(identity.task_id, fields, content),
    )
    trainer = Trainer(
        spec=spec,
        cfg=cfg,
        registration=registration,
        task_id=identity.task_id,
        client_id=identity.client_id,
        spool=spool,
        xai_dir=root / spec.xai.output_dir / name,
        progress=progress or Progress(),
    )
    manager = ClientManager(
        api,
        identity.task_id,
        identity.client_id,
        trainer,
        ManagerOptions(
            node_config=dict(node_config),
            work_dir=work_dir,
            max_wait_seconds=options.max_wait_seconds,
            node_key=identity.node_key,
        ),
    )
    signal.signal(signal.SIGTERM, manager.stop)
    signal.signal(signal.SIGINT, manager.stop)
    try:
        return manager.run()
    finally:
        api.close()
