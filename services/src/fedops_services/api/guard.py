"""Authenticate, then bound the body, before a route reads a byte of it.

FastAPI reads and parses a body (JSON, or a multipart form spooled to disk) before it
runs dependencies such as authentication, so without this an anonymous caller could make
the server read and parse hundreds of MiB before its 401. :class:`StrictRoute` calls
:func:`admit` first: if the route declares the principal dependency, the bearer credential
is checked from the headers alone; then the body is refused with 413 at once when
Content-Length says it is too large, and otherwise counted as it streams in (chunked
bodies too) and refused at the first byte past the limit.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from starlette.types import Message, Receive

from fedops_services.api.deps import authenticate_request, get_principal, remember_principal
from fedops_services.api.errors import RejectedRequest
from fedops_services.container import Services
from fedops_services.errors import ErrorCode, FedopsError

__all__ = ["admit", "depends_on_principal"]


def depends_on_principal(dependant: Dependant) -> bool:
    return any(sub.call is get_principal or depends_on_principal(sub) for sub in dependant.dependencies)


async def admit(request: Request, *, authenticated: bool, limit: int) -> Receive:
    """Raise FedopsError (401, 403, 413) or return the ``receive`` the route must read through."""
    if authenticated:
        services: Services = request.app.state.services
        remember_principal(request.scope, await authenticate_request(services, request))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    return _counting(request.receive, limit)


def _too_large(limit: int) -> FedopsError:
    return FedopsError(ErrorCode.PAYLOAD_TOO_LARGE, f"the request body exceeds the limit of {limit} bytes")


def _counting(receive: Receive, limit: int) -> Receive:
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                # An HTTPException: FastAPI lets it out of body parsing, the handler answers 413.
                raise RejectedRequest(_too_large(limit))
        return message

    return counted
