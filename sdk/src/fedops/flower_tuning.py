"""Shorter waits inside Flower 1.41, where it has no setting for them.

Flower polls with fixed waits: the SuperNode sleeps 3 s when it finds no message, and
payload pulls back off from 1 s when a message's arrays are not uploaded yet (the normal
case right after a message is created). With warm executors a round takes about a
second, so these waits would dominate it. Nothing else in Flower changes. flwr is pinned
(==1.41.0) because this relies on its module layout; a test checks it still holds.
"""

from __future__ import annotations

import importlib
import time
import types

__all__ = ["cap_sleeps", "shorten_pull_backoff", "tune_flower"]

_SUPERNODE_LOOP = "flwr.supernode.start_client_internal"
_PAYLOAD_PULLS = "flwr.supercore.inflatable.inflatable_utils"


def cap_sleeps(module_name: str, max_seconds: float) -> None:
    """Give one module a ``time`` whose ``sleep`` never exceeds ``max_seconds``."""
    module = importlib.import_module(module_name)
    if getattr(module, "time", None) is not time:
        raise RuntimeError(f"{module_name} no longer uses the time module the way fedops expects")
    capped = types.SimpleNamespace(
        **{name: getattr(time, name) for name in dir(time) if not name.startswith("__")}
    )
    capped.sleep = lambda seconds: time.sleep(min(seconds, max_seconds))
    module.time = capped  # type: ignore[attr-defined]


def shorten_pull_backoff(initial_seconds: float = 0.02, cap_seconds: float = 0.25) -> None:
    """Retry payload pulls after 20 ms, doubling up to 250 ms, instead of 1 s up to 10 s."""
    module = importlib.import_module(_PAYLOAD_PULLS)
    for name in ("pull_objects", "pull_and_inflate_object_from_tree"):
        defaults = getattr(module, name).__kwdefaults__
        if defaults is None or "initial_backoff" not in defaults or "backoff_cap" not in defaults:
            raise RuntimeError(f"{_PAYLOAD_PULLS}.{name} no longer has the backoff fedops tunes")
        defaults["initial_backoff"] = initial_seconds
        defaults["backoff_cap"] = cap_seconds


def tune_flower(*, supernode: bool, max_sleep_seconds: float = 0.05) -> None:
    """Everything above for this process (``supernode``: also the SuperNode's idle sleeps)."""
    shorten_pull_backoff()
    if supernode:
        cap_sleeps(_SUPERNODE_LOOP, max_sleep_seconds)
