"""/api/v1/session: the web console's sign-in (see security/sessions.py), and /api/v1/whoami."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from fedops.api.schemas import SessionPublic, WhoAmI
from fedops_services.api.deps import PrincipalDep, ServicesDep, SessionCookieDep
from fedops_services.api.routes._common import ERRORS
from fedops_services.api.strict import StrictRoute
from fedops_services.errors import ErrorCode, FedopsError
from fedops_services.security.sessions import SESSION_COOKIE, ConsoleSession

router = APIRouter(prefix="/api/v1", tags=["auth"], responses=ERRORS, route_class=StrictRoute)


@router.get("/whoami", operation_id="getWhoAmI")
def whoami(principal: PrincipalDep) -> WhoAmI:
    """The role and scope of the presented credential (clients use it to find their task)."""
    return WhoAmI(role=principal.role.value, task_id=principal.task_id, client_id=principal.client_id)


@router.post("/session", status_code=status.HTTP_201_CREATED, operation_id="signIn")
def sign_in(
    request: Request, response: Response, principal: PrincipalDep, services: ServicesDep
) -> SessionPublic:
    """Exchange the admin token (``Authorization: Bearer``) for a session cookie (HttpOnly,
    SameSite=Strict) and the CSRF token to send as ``X-CSRF-Token``. No body."""
    if "authorization" not in request.headers:
        # The cookie alone cannot extend itself: a session ends when its TTL says so.
        raise FedopsError(ErrorCode.UNAUTHENTICATED, "sign in with 'Authorization: Bearer <admin token>'")
    opened = services.console_sessions.open(principal, replacing=request.cookies.get(SESSION_COOKIE))
    response.set_cookie(
        SESSION_COOKIE,
        opened.secret,
        max_age=services.settings.session_ttl_seconds,
        path=_cookie_path(services),
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return _public(opened.session)


@router.get("/session", operation_id="getSession")
async def current_session(secret: SessionCookieDep, services: ServicesDep) -> SessionPublic:
    """The session of the cookie (401 without a live one): the page's CSRF token after a reload."""
    sessions = services.console_sessions
    found = sessions.cached(secret) if secret else None
    if found is None:
        found = await run_in_threadpool(sessions.authenticate, secret)
    return _public(found)


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT, operation_id="signOut")
def sign_out(request: Request, _principal: PrincipalDep, services: ServicesDep) -> Response:
    """Revoke the cookie's session (with the cookie: the CSRF token too) and clear the cookie."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        services.console_sessions.revoke(secret)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(
        SESSION_COOKIE,
        path=_cookie_path(services),
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


def _cookie_path(services: ServicesDep) -> str:
    return services.settings.path_prefix + "/"


def _public(session: ConsoleSession) -> SessionPublic:
    return SessionPublic(csrf_token=session.csrf_token, expires_at=session.expires_at, role="admin")
