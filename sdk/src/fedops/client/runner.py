"""Assemble a client from a credential and a project: enrolment, trainer, manager.

Used by ``fedops-client run`` and by the ``FLClientTask`` Python API.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedops.api import FedopsClient
from fedops.api.schemas import EnrollmentRequest
from fedops.client.config import Config
from fedops.client.manager import ClientManager, ManagerOptions
from fedops.client.project import Registration, load_project
from fedops.client.spool import Spool
from fedops.client.trainer import Progress, Trainer
from fedops.spec import TaskSpec

__all__ = ["ClientIdentity", "RunOptions", "connect", "run_client", "spec_overrides"]

logger = logging.getLogger("fedops.client")


@dataclass(frozen=True)
class ClientIdentity:
    task_id: str
    client_id: str
    credential: str
    node_key: Path | None = None  # the SuperNode's private key, for SuperNode authentication


def _new_node_key(path: Path) -> str:
    """An EC P-384 key pair for the SuperNode: private key kept here (0600, OpenSSH format,
    as Flower reads it), public key returned as PEM for the registry."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP384R1())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(
            private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
            )
        )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


@dataclass
class RunOptions:
    registry: str
    token: str
    name: str | None = None
    task_id: str | None = None
    node_config: dict[str, Any] | None = None
    max_wait_seconds: float = 3600.0


def _state_file(work_root: Path, task_id: str, name: str) -> Path:
    return work_root / task_id / name / "credential.json"


def connect(options: RunOptions, work_root: Path) -> tuple[ClientIdentity, str]:
    """A client credential for the task: kept from an earlier enrolment, given, or enrolled now."""
    name = options.name or socket.gethostname().split(".")[0]
    with FedopsClient(options.registry, options.token) as probe:
        me = probe.registry.whoami()
    if me.task_id is None or (options.task_id and options.task_id != me.task_id):
        raise SystemExit(
            "the token must be a task's enrolment token or client credential (of --task, if given)"
        )
    if me.role == "client" and me.client_id is not None:
        key = _state_file(work_root, me.task_id, name).with_name("node_key")
        return ClientIdentity(me.task_id, me.client_id, options.token, key if key.exists() else None), name
    if me.role != "enrollment":
        raise SystemExit(f"a {me.role} token cannot run a client; use the task's enrolment token")
    state = _state_file(work_root, me.task_id, name)
    node_key = state.with_name("node_key")
    if state.exists():  # enrolled before: keep the identity (and its history)
        saved = json.loads(state.read_text())
        return ClientIdentity(me.task_id, saved["client_id"], saved["credential"], node_key), name
    state.parent.mkdir(parents=True, exist_ok=True)
    request = EnrollmentRequest(
        name=name, hostname=socket.gethostname(), node_public_key=_new_node_key(node_key)
    )
    with FedopsClient(options.registry, options.token) as enrolling:
        enrolled = enrolling.registry.enroll(me.task_id, request)
    descriptor = os.open(state, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"client_id": enrolled.client_id, "credential": enrolled.credential}, handle)
    logger.info("enrolled as %s (%s)", name, enrolled.client_id)
    return ClientIdentity(me.task_id, enrolled.client_id, enrolled.credential, node_key), name


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
    identity, name = connect(options, work_root)
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
