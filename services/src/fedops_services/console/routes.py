"""``/`` (the page) and ``/console/<file>`` (its modules, styles and vendored libraries).

No authentication: the files are the same for everyone and hold no data; every datum the
page shows comes from the API, which needs the session. The security headers keep the page
from running anything but its own files and from being framed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from fedops_services.api.strict import StrictRoute
from fedops_services.console.assets import Asset, StaticAssets
from fedops_services.errors import ErrorCode, FedopsError

__all__ = ["SECURITY_HEADERS", "console_router"]

SECURITY_HEADERS = {
    # Only this origin's scripts, styles, images and API; no inline script, no eval, no frames.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
        "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def console_router(assets: StaticAssets) -> APIRouter:
    router = APIRouter(route_class=StrictRoute, include_in_schema=False)

    @router.get("/")
    def page(request: Request) -> Response:
        return _serve(assets.get("index.html"), request)

    @router.get("/console/{name:path}")
    def asset(name: str, request: Request) -> Response:
        return _serve(assets.get(name), request)

    return router


def _serve(asset: Asset | None, request: Request) -> Response:
    if asset is None:
        raise FedopsError(ErrorCode.NOT_FOUND, "no such console file")
    # Revalidated on every load (cheap: a 304 when unchanged), so an upgrade shows at once.
    headers = {**SECURITY_HEADERS, "ETag": asset.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    content = asset.content
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        content = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(content, media_type=asset.content_type, headers=headers)
