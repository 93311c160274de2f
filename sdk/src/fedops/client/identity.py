"""Who this edge client is: its default name, its stored credential, enrolment.

State lives under the client's work root (``<project>/.fedops-client``)::

    instance.json                       a random id naming this installation
    <task-id>/<name>/credential.json    client id and credential (0600)
    <task-id>/<name>/node_key           the SuperNode's private key (0600)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from fedops.api import ApiError, FedopsClient
from fedops.api.schemas import EnrollmentRequest

__all__ = ["ClientIdentity", "connect", "default_client_name"]

logger = logging.getLogger("fedops.client")
MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


@dataclass(frozen=True)
class ClientIdentity:
    task_id: str
    client_id: str
    credential: str
    node_key: Path | None = None  # the SuperNode's private key, for SuperNode authentication


def _machine_fingerprint() -> str:
    """A hash of the OS's machine id ('' if there is none, e.g. in many containers)."""
    for path in MACHINE_ID_FILES:
        with contextlib.suppress(OSError):
            value = path.read_text().strip()
            if value:
                # Hashed: systemd asks applications not to store or show the raw machine id.
                return hashlib.sha256(f"fedops-client:{value}".encode()).hexdigest()[:16]
    return ""


def _instance_id(work_root: Path) -> str:
    """A random id of this installation, kept in the work root.

    Neither part alone tells clones apart: a machine cloned before the first run has no
    id yet and draws its own, but a clone of a machine that ran already copies the file
    too; it is caught when the clone's OS got a new machine id (as cloud-init and
    ``systemd-firstboot`` give it), which no longer matches the one recorded here. A clone
    that also keeps the machine id is indistinguishable, and would share the credential.
    """
    path = work_root / "instance.json"
    machine = _machine_fingerprint()
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        saved = json.loads(path.read_text())
        if saved["machine"] == machine and re.fullmatch(r"[0-9a-f]{8}", saved["id"]):
            return str(saved["id"])
    instance = secrets.token_hex(4)
    work_root.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"id": instance, "machine": machine}))
    temporary.replace(path)  # atomic: two clients starting at once each see a whole file
    return instance


def default_client_name(work_root: Path) -> str:
    """The host name plus this installation's id, e.g. ``edge-07-3fa2c19b``: cloned machines
    share a host name, and two clients with one name would take turns replacing each other."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname().split(".")[0]).lstrip("._-")[:100]
    return f"{host or 'edge'}-{_instance_id(work_root)}"


def _write_private(path: Path, content: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)


def _new_node_key(path: Path) -> str:
    """An EC P-384 key pair for the SuperNode: private key kept here (0600, OpenSSH format,
    as Flower reads it), public key returned as PEM for the registry."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP384R1())
    _write_private(
        path,
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        ),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


def _state_file(work_root: Path, task_id: str, name: str) -> Path:
    return work_root / task_id / name / "credential.json"


def _saved(state: Path) -> tuple[str, str] | None:
    """(client id, credential) of an earlier enrolment, if one was stored."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        saved = json.loads(state.read_text())
        return str(saved["client_id"]), str(saved["credential"])
    return None


def _works(registry: str, credential: str, task_id: str, client_id: str) -> bool:
    """Whether the registry still accepts ``credential`` as that client."""
    try:
        with FedopsClient(registry, credential) as client:
            me = client.registry.whoami()
    except ApiError:
        return False
    return me.role == "client" and me.task_id == task_id and me.client_id == client_id


def _resume(registry: str, work_root: Path, name: str, task_id: str | None) -> ClientIdentity | None:
    """A stored, still valid identity of ``name``, for when the enrolment token itself is no
    longer accepted (expired or used up): a restarted machine keeps working without a new one."""
    pattern = f"{task_id}/{name}/credential.json" if task_id else f"*/{name}/credential.json"
    for state in sorted(work_root.glob(pattern)):
        saved = _saved(state)
        task = state.parent.parent.name
        if saved is not None and _works(registry, saved[1], task, saved[0]):
            key = state.with_name("node_key")
            return ClientIdentity(task, saved[0], saved[1], key if key.exists() else None)
    return None


def _enroll(
    registry: str, token: str, task_id: str, name: str, state: Path, current: str | None
) -> ClientIdentity:
    """Enrol ``name``, presenting the stored credential (if any) to prove a re-enrolment."""
    state.parent.mkdir(parents=True, exist_ok=True)
    node_key = state.with_name("node_key")
    fresh_key = state.with_name("node_key.new")  # the old key stays until the registry agrees
    request = EnrollmentRequest(
        name=name,
        hostname=socket.gethostname(),
        node_public_key=_new_node_key(fresh_key),
        current_credential=current,
    )
    try:
        with FedopsClient(registry, token) as enrolling:
            enrolled = enrolling.registry.enroll(task_id, request)
    except ApiError:
        fresh_key.unlink(missing_ok=True)
        raise
    fresh_key.replace(node_key)
    document = {"client_id": enrolled.client_id, "credential": enrolled.credential}
    _write_private(state, json.dumps(document).encode())
    logger.info("enrolled as %s (%s)", name, enrolled.client_id)
    return ClientIdentity(task_id, enrolled.client_id, enrolled.credential, node_key)


def connect(
    registry: str, token: str, work_root: Path, *, name: str | None = None, task_id: str | None = None
) -> tuple[ClientIdentity, str]:
    """A client credential for the task: given, kept from an earlier enrolment, or enrolled now.

    Raises ApiError when the registry refuses (e.g. ``client_name_taken``: the name belongs
    to another client and no credential of it is stored here).
    """
    name = name or default_client_name(work_root)
    try:
        with FedopsClient(registry, token) as probe:
            me = probe.registry.whoami()
    except ApiError as exc:
        resumed = (
            _resume(registry, work_root, name, task_id) if exc.code == "enrollment_token_invalid" else None
        )
        if resumed is None:
            raise
        logger.info("the enrolment token is not valid any more; continuing as %s", resumed.client_id)
        return resumed, name
    if me.task_id is None or (task_id and task_id != me.task_id):
        raise SystemExit(
            "the token must be a task's enrolment token or client credential (of --task, if given)"
        )
    state = _state_file(work_root, me.task_id, name)
    if me.role == "client" and me.client_id is not None:
        key = state.with_name("node_key")
        return ClientIdentity(me.task_id, me.client_id, token, key if key.exists() else None), name
    if me.role != "enrollment":
        raise SystemExit(f"a {me.role} token cannot run a client; use the task's enrolment token")
    saved = _saved(state)
    node_key = state.with_name("node_key")
    if saved is not None and node_key.exists() and _works(registry, saved[1], me.task_id, saved[0]):
        return ClientIdentity(me.task_id, saved[0], saved[1], node_key), name  # enrolled before
    # First enrolment, or a re-enrolment (lost key, credential replaced): the stored
    # credential, if any, proves this machine is the client that owns the name.
    return _enroll(registry, token, me.task_id, name, state, saved[1] if saved else None), name
