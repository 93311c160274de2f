"""Dependencies the routes declare: the services and the calling principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fedops_services.container import Services
from fedops_services.security import Principal

__all__ = ["PrincipalDep", "ServicesDep"]

# auto_error=False: missing credentials are answered by our own 401 with a stable code.
_bearer = HTTPBearer(auto_error=False, description="Admin token, client credential or server token")


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
    header = request.headers.get("authorization")
    cached = services.auth.cached(header)
    if cached is not None:
        return cached
    return await run_in_threadpool(services.auth.authenticate, header)  # may query the database


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
