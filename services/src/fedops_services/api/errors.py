"""Every error leaves the API as ``{"error": {code, message, details}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from fedops_services.errors import ErrorCode, FedopsError, validation_error

__all__ = ["error_response", "install_error_handlers"]

logger = logging.getLogger(__name__)


def error_response(error: FedopsError) -> JSONResponse:
    body = {
        "error": {
            "code": error.code.value,
            "message": error.message,
            "details": [{"field": d.field, "message": d.message} for d in error.details],
        }
    }
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return JSONResponse(body, status_code=error.status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FedopsError)
    async def _fedops(_request: Request, exc: FedopsError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(exc.errors(), skip=("body", "query", "path", "header")))

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        codes = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}
        code = codes.get(exc.status_code, ErrorCode.INTERNAL_ERROR)
        message = {404: "no such endpoint; see /docs", 405: "method not allowed on this endpoint"}.get(
            exc.status_code, "unexpected error"
        )
        return error_response(FedopsError(code, message))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            FedopsError(ErrorCode.INTERNAL_ERROR, "internal error; the server log has the details")
        )
