"""The only door edge machines get: Flower's fleet API and health, nothing else.

The SuperLink serves its Fleet, Control and Runtime APIs on one port, and the Control
API has no authentication in open-source Flower (anyone reaching it could start a run,
i.e. run code on the server). So the SuperLink listens on loopback only, and this proxy
forwards ``/v1/fleet/*`` and ``/health`` from the public fleet port; every other path is
refused.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["ALLOWED_PREFIXES", "fleet_proxy"]

ALLOWED_PREFIXES = ("/v1/fleet/",)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}


def fleet_proxy(upstream: str, *, ca: Path | None = None) -> Starlette:
    """Forward the fleet API to ``upstream`` (the SuperLink; verified against ``ca`` over TLS)."""
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca)) if ca else True
    client = httpx.AsyncClient(base_url=upstream, timeout=httpx.Timeout(300.0, connect=5.0), verify=verify)

    async def forward(request: Request) -> Response:
        path = request.url.path
        if not (path == "/health" or path.startswith(ALLOWED_PREFIXES)):
            return PlainTextResponse("not found", status_code=404)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream_request = client.build_request(
            request.method, path, params=request.query_params, headers=headers, content=await request.body()
        )
        try:
            reply = await client.send(upstream_request, stream=True)
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

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)], lifespan=lifespan)
