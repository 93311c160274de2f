"""Every error leaves the API as ``{"error": {code, message, details}}``.

Every answer carries ``X-Request-ID`` (see :mod:`request_ids`); a 5xx is logged with that
id, and its message repeats it, so an operator can find the log line from what a user saw.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from fedops_services.api.request_ids import REQUEST_ID_HEADER, request_id_of
from fedops_services.errors import ErrorCode, FedopsError, validation_error

__all__ = ["RejectedRequest", "error_response", "install_error_handlers", "internal_error"]

logger = logging.getLogger(__name__)

# Statuses that Starlette, FastAPI or python-multipart raise themselves, e.g. 400 for a
# multipart body without a boundary; their detail is written for the caller.
_CODE_BY_STATUS = {
    400: ErrorCode.MALFORMED_REQUEST,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.VALIDATION_ERROR,
}
_MESSAGE_BY_STATUS = {404: "no such endpoint; see /openapi.json", 405: "method not allowed on this endpoint"}


class RejectedRequest(HTTPException):
    """A FedopsError raised while FastAPI reads the body.

    FastAPI turns any other exception from body parsing into a bare 400 and passes only
    HTTPExceptions through, so errors found there travel as this subclass.
    """

    def __init__(self, error: FedopsError) -> None:
        super().__init__(error.status, error.message)
        self.error = error


def error_response(
    error: FedopsError, *, request_id: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "error": {
            "code": error.code.value,
            "message": error.message,
            "details": [{"field": d.field, "message": d.message} for d in error.details],
        }
    }
    all_headers = dict(headers or {})
    if error.status == 401:
        all_headers["WWW-Authenticate"] = "Bearer"
    if request_id is not None:
        all_headers[REQUEST_ID_HEADER] = request_id
    return JSONResponse(body, status_code=error.status, headers=all_headers or None)


def internal_error(request_id: str | None) -> FedopsError:
    where = f" under request id {request_id}" if request_id else ""
    return FedopsError(ErrorCode.INTERNAL_ERROR, f"internal error; the server log has the details{where}")


def _allowed_methods(request: Request) -> list[str]:
    paths: dict[str, dict[str, Any]] = request.app.openapi()["paths"]
    for template, operations in paths.items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), request.url.path):
            return sorted(method.upper() for method in operations)
    return []


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FedopsError)
    async def _fedops(request: Request, exc: FedopsError) -> JSONResponse:
        if exc.status >= 500:
            logger.error("request %s failed: %s", request_id_of(request.scope), exc)
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(exc.errors(), skip=("body", "query", "path", "header")))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc, RejectedRequest):
            return error_response(exc.error)
        code = _CODE_BY_STATUS.get(exc.status_code)
        if code is None:
            # Nothing in fedops raises other statuses; if a library does, it is our bug.
            logger.error(
                "request %s: unexpected HTTP %s: %s", request_id_of(request.scope), exc.status_code, exc
            )
            return error_response(internal_error(request_id_of(request.scope)))
        message = _MESSAGE_BY_STATUS.get(exc.status_code, str(exc.detail))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route matching the path only; a path
            # served by several routes (GET and POST /tasks) supports all of theirs.
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return error_response(FedopsError(code, message), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Normally RequestIdMiddleware catches these first; this is the last resort for
        # failures outside it.
        request_id = request_id_of(request.scope)
        logger.exception(
            "unhandled error on %s %s (request %s)", request.method, request.url.path, request_id
        )
        return error_response(internal_error(request_id), request_id=request_id)
