"""Free loopback ports, for the processes fedops starts on one machine (and for tests).

The one helper both sides use (the SDK's client manager, the FL server runtime, local
federations, tests, benchmarks). Kept here rather than taken from a library (portpicker):
it is four lines of the standard library. The port is free when this returns; whoever
binds it next gets it, so callers bind soon after.
"""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
