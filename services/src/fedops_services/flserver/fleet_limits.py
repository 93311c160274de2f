"""How much an edge machine may make the fleet proxy (and the SuperLink behind it) hold.

The fleet port takes requests from anyone who can reach it, before any authentication
(SuperNode auth is checked by the SuperLink, after it has read the body). So:

- every fleet route has a body limit sized to what Flower itself sends on it (read from
  flwr's constants where they exist), and a body that declares or streams more is refused
  with 413 as soon as that is known, never held;
- bodies are streamed to the SuperLink, not buffered here, and the bytes they may occupy
  at once (which the SuperLink does buffer: its router parses whole protobuf messages)
  come from one budget; a request waits for its share and gets 503 if it cannot have it;
- a client that stops sending mid-body is dropped after an idle timeout.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from starlette.requests import Request

__all__ = [
    "BODY_IDLE_SECONDS",
    "IN_FLIGHT_BYTES",
    "MAX_BODY_BYTES",
    "SMALL_BODY_BYTES",
    "BodyRefusedError",
    "ByteBudget",
    "body_limits",
    "limited_body",
]

_MIB = 1024 * 1024
# Control messages (register/activate/heartbeat/pull/get-run/get-fab/confirm...): a node
# id, a run id, a public key, an object id; a few hundred bytes in practice.
SMALL_BODY_BYTES = 1 * _MIB
# PushMessages carries the reply's metadata and object tree (content goes by push-object):
# about 70 bytes per object, so ~50,000 arrays and chunks of a model fit.
_PUSH_MESSAGES_BYTES = 4 * _MIB
# Protobuf framing, object header, node and run ids around one object; and the objects
# that are not array chunks (ArrayRecord listings, MetricRecords) are far below a chunk.
_OBJECT_OVERHEAD_BYTES = 1 * _MIB


def _object_chunk_bytes() -> int:
    # Flower splits every array into chunks of this size before push-object.
    from flwr.common.constant import FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE

    return int(FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE)


MAX_BODY_BYTES = _object_chunk_bytes() + _OBJECT_OVERHEAD_BYTES  # push-object, the largest
# Bodies all fleet requests together may have in flight (about eight object chunks): the
# SuperLink holds each whole while it parses it.
IN_FLIGHT_BYTES = 8 * MAX_BODY_BYTES
BUDGET_WAIT_SECONDS = 60.0  # then 503: Flower's SuperNode retries
BODY_IDLE_SECONDS = 60.0  # no byte of the body for this long: the client is gone or stalling


@functools.cache
def body_limits() -> Mapping[str, int]:
    """Path -> the largest body the fleet proxy forwards on it."""
    from fedops_services.flserver.proxy import fleet_routes

    routes = fleet_routes()
    limits = dict.fromkeys(routes, SMALL_BODY_BYTES)
    for path, limit in (
        ("/v1/fleet/push-object", MAX_BODY_BYTES),
        ("/v1/fleet/push-messages", _PUSH_MESSAGES_BYTES),
    ):
        if path not in routes:  # a renamed route would silently get the small limit
            raise RuntimeError(f"Flower's fleet API has no {path}: is flwr the pinned version?")
        limits[path] = limit
    return limits


class BodyRefusedError(Exception):
    """The body is over its route's limit (413) or stalled (408)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def limited_body(
    request: Request, limit: int, *, idle: float = BODY_IDLE_SECONDS
) -> AsyncIterator[bytes]:
    """The request's body as it arrives, raising BodyRefusedError past ``limit`` bytes or ``idle`` s."""
    size = 0
    chunks = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), idle)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise BodyRefusedError(408, "request body stalled") from None
        size += len(chunk)
        if size > limit:
            raise BodyRefusedError(413, "request body too large")
        if chunk:
            yield chunk


class ByteBudget:
    """Bytes that requests in flight may hold, shared by all of them (one event loop)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._free = total
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def hold(self, size: int, *, wait: float = BUDGET_WAIT_SECONDS) -> AsyncIterator[None]:
        """Reserve ``size`` bytes for the block; TimeoutError if they are not free within ``wait`` s."""
        size = min(size, self.total)
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self._free >= size), wait)
            self._free -= size
        try:
            yield
        finally:
            async with self._changed:
                self._free += size
                self._changed.notify_all()
