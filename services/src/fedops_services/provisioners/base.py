"""The interface every provisioner implements: reconcile a desired server, observe it.

It is shaped like a Kubernetes controller, so the local backend and the Kubernetes
backend are interchangeable: ``apply`` is an idempotent "make it so" of a desired
state (replicas 0 means paused), ``observe`` reads back what actually runs, and
``delete`` removes everything the provisioner created for a task, data included.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from fedops.api.schemas import PodStatus
from fedops.spec.task import ResourcesSpec

__all__ = [
    "CredentialsMissingError",
    "ObservedServer",
    "Provisioner",
    "ProvisionerError",
    "ServerDeployment",
    "require_single_replica",
]


@dataclass(frozen=True)
class ServerDeployment:
    """What should run for one task."""

    task_id: str
    task_name: str
    replicas: int
    resources: ResourcesSpec
    env: dict[str, str] = field(default_factory=dict)
    # Credentials for the runtime; a Secret on Kubernetes, a 0600 file locally. None keeps
    # the ones given before: the registry stores only their hashes and cannot resend them.
    secret_env: dict[str, str] | None = None


@dataclass(frozen=True)
class ObservedServer:
    """What runs for one task, as the backend reports it."""

    exists: bool
    replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    volume_phase: str = "Absent"
    fleet_address: str | None = None
    reason: str = ""
    pods: tuple[PodStatus, ...] = ()
    # Restarts the backend counts for what runs now (the local supervisor's count, the sum
    # of the pods' container restartCount); it starts again at 0 when that is replaced.
    # None: not known from this reading.
    restarts: int | None = None
    # When the backend was read, if not just now (a reconcile pass reads once for all
    # tasks): an older reading never overwrites a newer one.
    observed_at: datetime | None = None


class ProvisionerError(Exception):
    """The backend failed; ``public_message`` is safe to show, the rest goes to the log."""

    def __init__(self, public_message: str, *, unsupported: bool = False) -> None:
        super().__init__(public_message)
        self.public_message = public_message
        self.unsupported = unsupported


class CredentialsMissingError(ProvisionerError):
    """``apply`` without credentials found none kept by the backend (a Deployment deleted by
    hand took its token Secret along; a local deployment file was lost). The registry keeps
    only a hash of the token, so it issues a new one and applies again."""


def require_single_replica(deployment: ServerDeployment) -> None:
    """A server is one SuperLink with one state file on one ReadWriteOnce volume: a second
    replica would share (and corrupt) both, so 0 (paused) or 1 it is, on every backend."""
    if deployment.replicas not in (0, 1):
        raise ProvisionerError(
            f"a server runs at most 1 replica (0 pauses it), not {deployment.replicas}: scale it "
            "vertically with cpu, memory and gpu",
            unsupported=True,
        )


class Provisioner(ABC):
    name: str

    @abstractmethod
    def apply(self, deployment: ServerDeployment) -> None:
        """Create or update the task's server to match ``deployment``; safe to repeat.

        Raises ``CredentialsMissingError`` (before changing anything) when ``deployment`` has no
        ``secret_env`` and the backend has lost the one given before."""

    @abstractmethod
    def observe(self, task_id: str) -> ObservedServer:
        """Current state of the task's server, read from the backend."""

    @abstractmethod
    def logs(self, task_id: str, tail: int) -> list[str]:
        """The last ``tail`` lines the server wrote."""

    @abstractmethod
    def delete(self, task_id: str) -> None:
        """Remove the server and its data; nothing of the task is left. Safe to repeat."""

    @abstractmethod
    def managed_task_ids(self) -> set[str]:
        """Tasks this backend holds resources for (to find orphans after a restart)."""

    @contextlib.contextmanager
    def one_view(self) -> Iterator[None]:
        """Within this block, this thread's reads may share one view of the backend taken
        at entry (a reconcile pass over many tasks then reads once, not once per task)."""
        yield

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release client resources; servers keep running."""
