"""Dependencies the routes declare: the services and the calling principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import Scope

from fedops_services.container import Services
from fedops_services.security import Principal

__all__ = ["PrincipalDep", "ServicesDep", "authenticate", "get_principal", "remember_principal"]

# auto_error=False: missing credentials are answered by our own 401 with a stable code.
_bearer = HTTPBearer(auto_error=False, description="Admin token, client credential or server token")
_PRINCIPAL_KEY = "fedops.principal"


async def authenticate(services: Services, authorization: str | None) -> Principal:
    """The principal of an ``Authorization`` header, or FedopsError (401)."""
    cached = services.auth.cached(authorization)
    if cached is not None:
        return cached
    return await run_in_threadpool(services.auth.authenticate, authorization)  # may query the database


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
) -> Principal:
    # The guard middleware authenticated every route that declares this dependency before
    # the body was read; authenticating here again covers an app built without it.
    known = request.scope.get(_PRINCIPAL_KEY)
    if isinstance(known, Principal):
        return known
    return await authenticate(services, request.headers.get("authorization"))


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
