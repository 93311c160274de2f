"""The only door edge machines get: Flower's Fleet API and health, nothing else.

The SuperLink serves its Fleet, Control and Runtime APIs on one port, and the Control
API has no authentication in open-source Flower (anyone reaching it could start a run,
i.e. run code on the server). So the SuperLink listens on loopback only, and this proxy
forwards exactly the routes of Flower's Fleet router and its health route, with the
methods they take, read from the installed flwr package (a Flower upgrade that adds or
renames a fleet route changes the list with it, never by hand).

A path is matched on its canonical form: the raw request target is percent-decoded,
backslashes read as slashes, dot segments and doubled slashes resolved. Anything that
this normalisation changes is refused outright, not "cleaned up": ``/v1/fleet/../x``,
``%2e%2e``, ``%2F``, ``//`` never reach the SuperLink, whose HTTP client (or any hop
after it) might resolve them differently from us. What is forwarded is the canonical
path from the table, never the bytes the client sent.

Bodies are streamed to the SuperLink within per-route limits and a shared budget of bytes
in flight (``fleet_limits``); ``server_config`` is the uvicorn configuration that bounds
what a connection can hold before a request reaches this code.
"""

from __future__ import annotations

import functools
import posixpath
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import httpx
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from fedops_services.flserver.fleet_limits import (
    IN_FLIGHT_BYTES,
    MAX_BODY_BYTES,
    BodyRefusedError,
    ByteBudget,
    body_limits,
    limited_body,
)

if TYPE_CHECKING:
    import uvicorn

__all__ = ["MAX_BODY_BYTES", "canonical_path", "fleet_proxy", "fleet_routes", "server_config"]

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}


@functools.cache
def fleet_routes() -> Mapping[str, frozenset[str]]:
    """Path -> methods of every route of Flower's Fleet API and of its health check."""
    from fastapi.routing import APIRoute
    from flwr.supercore.routers.health.router import router as health_router
    from flwr.superlink.routers.fleet.router import router as fleet_router

    table: dict[str, set[str]] = {}
    for route in [*fleet_router.routes, *health_router.routes]:
        if isinstance(route, APIRoute):  # path parameters would need a matcher; Flower has none
            if "{" in route.path:
                raise RuntimeError(f"unexpected parametrised Flower route {route.path}")
            table.setdefault(route.path, set()).update(route.methods or ())
    if not any(path.startswith("/v1/fleet/") for path in table) or "/health" not in table:
        raise RuntimeError("Flower's fleet route table was not found: is flwr the pinned version?")
    return {path: frozenset(methods) for path, methods in table.items()}


def canonical_path(raw: bytes) -> str | None:
    """The route ``raw`` (a request target's path, as sent) names, or None if it must be refused.

    Refused: anything that is not plain ASCII, or that percent-decoding or normalisation
    would change, or that is not exactly one of Flower's fleet routes.
    """
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    decoded = unquote(text, errors="replace")  # an undecodable escape turns into U+FFFD: refused
    normalised = posixpath.normpath(decoded.replace("\\", "/"))
    if normalised.startswith("//"):  # POSIX keeps a leading "//"; a URL path must not
        return None
    if not (text == decoded == normalised):
        return None
    return normalised if normalised in fleet_routes() else None


def _declared_length(request: Request) -> int | None:
    """The body length the client declared: -1 for a chunked body, None if malformed."""
    declared = request.headers.get("content-length")
    if declared is None:  # HTTP/1.1: no length and not chunked means no body at all
        return -1 if "transfer-encoding" in request.headers else 0
    return int(declared) if declared.isdigit() else None


def fleet_proxy(
    upstream: str, *, ca: Path | None = None, in_flight_bytes: int = IN_FLIGHT_BYTES
) -> Starlette:
    """Forward the fleet API to ``upstream`` (the SuperLink; verified against ``ca`` over TLS)."""
    routes = fleet_routes()
    limits = body_limits()
    budget = ByteBudget(in_flight_bytes)
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca)) if ca else True
    client = httpx.AsyncClient(base_url=upstream, timeout=httpx.Timeout(300.0, connect=5.0), verify=verify)
    base = httpx.URL(upstream)

    async def forward(request: Request) -> Response:
        # raw_path is what the client sent (uvicorn's ``path`` is already percent-decoded).
        path = canonical_path(request.scope.get("raw_path") or request.scope["path"].encode())
        if path is None:
            return PlainTextResponse("not found", status_code=404)
        if request.method not in routes[path]:
            allowed = ", ".join(sorted(routes[path]))
            return PlainTextResponse("method not allowed", status_code=405, headers={"Allow": allowed})
        limit = limits[path]
        declared = _declared_length(request)
        if declared is None:
            return PlainTextResponse("bad content-length", status_code=400)
        if declared > limit:  # refused before a byte of the body is read
            return PlainTextResponse(
                "request body too large", status_code=413, headers={"Connection": "close"}
            )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        if declared >= 0:  # forwarded as declared (else chunked): the SuperLink checks the length too
            headers["content-length"] = str(declared)
        try:
            async with budget.hold(declared if declared >= 0 else limit):
                # The URL is built from the canonical path alone: no query string (no fleet
                # route reads one) and nothing httpx could re-interpret.
                upstream_request = client.build_request(
                    request.method,
                    base.copy_with(raw_path=path.encode()),
                    headers=headers,
                    content=limited_body(request, limit),  # streamed: never whole in memory here
                )
                reply = await client.send(upstream_request, stream=True)
        except BodyRefusedError as refused:
            return PlainTextResponse(
                refused.reason, status_code=refused.status, headers={"Connection": "close"}
            )
        except ClientDisconnect:  # gone mid-body: nobody reads this answer
            return PlainTextResponse("incomplete request body", status_code=400)
        except TimeoutError:  # the budget stayed taken: the SuperNode retries
            return PlainTextResponse("FL server busy", status_code=503)
        except httpx.TransportError:
            return PlainTextResponse("FL server starting", status_code=503)

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in reply.aiter_raw():
                    yield chunk
            finally:
                await reply.aclose()

        kept = {k: v for k, v in reply.headers.items() if k.lower() not in _HOP_BY_HOP}
        return StreamingResponse(body(), status_code=reply.status_code, headers=kept)

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        # Every request lands here, whatever its path or method: no router in front that
        # could match (or normalise) differently from canonical_path.
        if scope["type"] != "http":  # websockets: Flower's fleet API has none
            await send({"type": "websocket.close", "code": 1008})
            return
        response = await forward(Request(scope, receive))
        await response(scope, receive, send)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    app = Starlette(lifespan=lifespan)
    app.router.default = endpoint  # Starlette calls the router's default for unmatched requests
    return app


# Requests handled at once (SuperNodes keep one or two keep-alive connections each); past
# it uvicorn answers 503, which Flower's SuperNode retries.
LIMIT_CONCURRENCY = 512
KEEP_ALIVE_SECONDS = 15  # SuperNodes poll more often than this, so their connections stay
HEADER_BYTES = 16 * 1024  # request line and headers, per connection (h11's default, explicit)


def server_config(
    app: ASGIApp, *, host: str, port: int, cert: Path | None = None, key: Path | None = None
) -> uvicorn.Config:
    """uvicorn settings for the public fleet port.

    h11, not httptools: h11 bounds the request line and headers a connection may buffer
    (``HEADER_BYTES``), httptools does not. uvicorn pauses reading a body the app has not
    asked for past 64 KiB, so each connection holds a bounded amount. What uvicorn cannot
    bound: it has no timeout for reading a request's headers and no cap on accepted
    connections, so a slowloris client holding many half-sent requests costs file
    descriptors (about HEADER_BYTES each at most) until the process's descriptor limit,
    not unbounded memory; a reverse proxy in front is where that is bounded.
    """
    import uvicorn

    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False,
        http="h11", h11_max_incomplete_event_size=HEADER_BYTES,
        limit_concurrency=LIMIT_CONCURRENCY, timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=10,  # a stuck fleet request must not hold the exit up
        ssl_certfile=str(cert) if cert else None, ssl_keyfile=str(key) if key else None,
    )  # fmt: skip
