"""Dependencies the routes declare: the services and the calling principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fedops_services.container import Services
from fedops_services.security import Principal

__all__ = ["PrincipalDep", "ServicesDep"]

# auto_error=False: missing credentials are answered by our own 401 with a stable code.
_bearer = HTTPBearer(auto_error=False, description="Admin token, client credential or server token")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_principal(
    request: Request,
    services: Annotated[Services, Depends(get_services)],
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return services.auth.authenticate(request.headers.get("authorization"))


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
