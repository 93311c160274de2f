"""A correlation id per request: in every answer's ``X-Request-ID`` and in the log of a 5xx."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REQUEST_ID_HEADER", "RequestIdMiddleware", "request_id_of"]

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_SCOPE_KEY = "fedops.request_id"
# An id a proxy already assigned is kept so both logs name the same request; anything
# else (too long, odd characters that could forge log lines) is replaced.
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id_of(scope: Scope) -> str | None:
    value = scope.get(_SCOPE_KEY)
    return value if isinstance(value, str) else None


class RequestIdMiddleware:
    """Outermost fedops middleware: names the request and answers what escapes as a 500.

    Catching here (rather than in Starlette's ServerErrorMiddleware) logs each failure once,
    with its id, and still answers in the error shape.
    """

    def __init__(self, app: ASGIApp, *, render_error: Callable[[str], ASGIApp]) -> None:
        self.app = app
        self._render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = Headers(scope=scope).get(REQUEST_ID_HEADER)
        request_id = offered if offered and _ACCEPTABLE.match(offered) else uuid.uuid4().hex
        scope[_SCOPE_KEY] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception(
                "unhandled error on %s %s (request %s)", scope.get("method"), scope.get("path"), request_id
            )
            if started:  # too late for an error answer; the server drops the connection
                raise
            await self._render_error(request_id)(scope, receive, send_with_id)
