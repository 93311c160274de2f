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

__all__ = ["SECURITY_HEADERS", "accepts_gzip", "console_router"]

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


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether gzip is acceptable: named with a q above 0, or, when not named, ``*`` is (RFC 9110 12.5.3)."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0  # unreadable: not taken as a yes
        weights["gzip" if coding == "x-gzip" else coding] = q
    q = weights.get("gzip", weights.get("*", 0.0))
    return q > 0


def _matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match against one ETag: a list, ``*``, and weak comparison (RFC 9110 13.1.2)."""
    if if_none_match is None:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or etag in (tag.removeprefix("W/") for tag in tags)


def _serve(asset: Asset | None, request: Request) -> Response:
    if asset is None:
        raise FedopsError(ErrorCode.NOT_FOUND, "no such console file")
    content, etag, coding = asset.content, asset.etag, None
    wants_gzip = accepts_gzip(request.headers.get("accept-encoding", ""))
    if wants_gzip and asset.gzipped is not None and asset.gzip_etag is not None:
        content, etag, coding = asset.gzipped, asset.gzip_etag, "gzip"
    # Revalidated on every load (cheap: a 304 when unchanged), so an upgrade shows at once. The
    # 304 is for the representation this request would get: each content coding has its ETag.
    headers = {**SECURITY_HEADERS, "ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if coding:
        headers["Content-Encoding"] = coding
    return Response(content, media_type=asset.content_type, headers=headers)
