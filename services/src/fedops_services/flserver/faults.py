"""Fault injection for tests only: crash the ServerApp at a named step of a round.

A test writes ``<step>:<round>`` to ``fedops-test-crash-at`` in the server's data
directory; when the ServerApp reaches that step of that round it renames the file to
``fedops-test-crashed-at`` (so it fires once, and the test knows it fired) and SIGKILLs
itself: no cleanup, no ``finally``, exactly what a crash leaves on disk. Without that file
(every real deployment) each crash point costs one failed ``open``.

Steps, in the order a round ends: ``before-checkpoint``, ``after-checkpoint-file``,
``after-stage``, ``after-commit``, ``after-register``, ``after-spool``, ``after-deliver``.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

__all__ = ["CRASHED_FILE", "STEPS", "TRIGGER_FILE", "crash_point"]

TRIGGER_FILE = "fedops-test-crash-at"
CRASHED_FILE = "fedops-test-crashed-at"
STEPS = (
    "before-checkpoint",
    "after-checkpoint-file",
    "after-stage",
    "after-commit",
    "after-register",
    "after-spool",
    "after-deliver",
)


def crash_point(data_dir: Path, step: str, round_number: int) -> None:
    trigger = data_dir / TRIGGER_FILE
    try:
        wanted = trigger.read_text().strip()
    except OSError:
        return
    if wanted != f"{step}:{round_number}":
        return
    trigger.replace(data_dir / CRASHED_FILE)
    os.kill(os.getpid(), signal.SIGKILL)
