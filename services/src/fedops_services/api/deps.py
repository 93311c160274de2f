"""Dependencies the routes declare: the services and the calling principal.

A request is authenticated by its ``Authorization`` header when it has one, else by the
console's session cookie (as the admin), else refused with 401. A request the cookie
authenticates must carry the session's CSRF token unless its method changes nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import Scope

from fedops_services.container import Services
from fedops_services.security import Principal, Role
from fedops_services.security.sessions import (
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_COOKIE,
    ConsoleSession,
    check_csrf,
)

__all__ = [
    "PrincipalDep",
    "ServicesDep",
    "SessionCookieDep",
    "authenticate",
    "authenticate_request",
    "console_session_of",
    "get_principal",
    "remember_principal",
]

# auto_error=False: missing credentials are answered by our own 401 with a stable code.
_bearer = HTTPBearer(auto_error=False, description="Admin token, client credential or server token")
# Documents the console's session; authenticate_request reads it (with the CSRF check).
_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="Web console session (POST /api/v1/session); requests that change something "
    f"also need the {CSRF_HEADER} header. Used only without an Authorization header.",
)
_PRINCIPAL_KEY = "fedops.principal"
_SESSION_KEY = "fedops.console_session"


async def authenticate(services: Services, authorization: str | None) -> Principal:
    """The principal of an ``Authorization`` header, or FedopsError (401)."""
    cached = services.auth.cached(authorization)
    if cached is not None:
        return cached
    return await run_in_threadpool(services.auth.authenticate, authorization)  # may query the database


async def authenticate_request(services: Services, request: Request) -> Principal:
    """The principal of a request's headers alone (the body is not read): its bearer
    credential, or its console session; FedopsError 401, or 403 for a missing CSRF token."""
    authorization = request.headers.get("authorization")
    secret = request.cookies.get(SESSION_COOKIE)
    if authorization is not None or secret is None:
        return await authenticate(services, authorization)
    sessions = services.console_sessions
    session = sessions.cached(secret)
    if session is None:
        session = await run_in_threadpool(sessions.authenticate, secret)
    if request.method not in SAFE_METHODS:
        check_csrf(session, request.headers.get(CSRF_HEADER))
    request.scope[_SESSION_KEY] = session
    return Principal(Role.ADMIN)


def console_session_of(request: Request) -> ConsoleSession | None:
    """The console session that authenticated this request, if the cookie did."""
    session = request.scope.get(_SESSION_KEY)
    return session if isinstance(session, ConsoleSession) else None


def remember_principal(scope: Scope, principal: Principal) -> None:
    """Record who was authenticated before the route ran (see api/guard.py)."""
    scope[_PRINCIPAL_KEY] = principal


# Both dependencies are async so that they run on the event loop: a sync dependency
# costs a thread-pool hop per request, which dominated the client-manager poll.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_principal(
    request: Request,
    services: Annotated[Services, Depends(get_services)],
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _session: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    # The guard middleware authenticated every route that declares this dependency before
    # the body was read; authenticating here again covers an app built without it.
    known = request.scope.get(_PRINCIPAL_KEY)
    if isinstance(known, Principal):
        return known
    return await authenticate_request(services, request)


ServicesDep = Annotated[Services, Depends(get_services)]
SessionCookieDep = Annotated[str | None, Depends(_cookie)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
