"""The one place requests are screened before FastAPI reads them and pydantic sees them.

Every route is a :class:`StrictRoute`. It authenticates and bounds the body first
(:mod:`guard`), then refuses, for all parameters and bodies alike:
NUL characters in any string (PostgreSQL cannot store them in text or JSON, and no
identifier or label needs one), JSON that is not UTF-8, non-finite numbers (``NaN``,
``1e999``: not JSON, and not storable), nesting deeper than any schema here needs, and
multipart forms with more parts or larger fields than an upload has. Doing it here, not per
field, means a new field or route cannot forget it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response, params
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from fedops_services.api.errors import RejectedRequest
from fedops_services.api.guard import admit, depends_on_principal
from fedops_services.config import Settings
from fedops_services.errors import ErrorCode, FedopsError, FieldProblem

__all__ = ["MAX_JSON_DEPTH", "UPLOAD_FORM_OVERHEAD", "CheckpointRoute", "StrictRoute"]

MAX_JSON_DEPTH = 32  # the task spec, the deepest schema, nests 3 levels
_MAX_FORM_FIELDS = 32
_MAX_FORM_FILES = 1
_MAX_FORM_FIELD_BYTES = 64 * 1024  # labels and ids are at most a few hundred characters
# An upload's body may exceed FEDOPS_MAX_ARTIFACT_BYTES by its fields and multipart framing.
UPLOAD_FORM_OVERHEAD = 64 * 1024

_Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class StrictRoute(APIRoute):
    def body_limit(self, settings: Settings) -> int:
        """The largest body this route reads: JSON, or an artifact upload's form."""
        if any(isinstance(field.field_info, params.File) for field in self.dependant.body_params):
            return settings.max_artifact_bytes + UPLOAD_FORM_OVERHEAD
        return settings.max_body_bytes

    def get_route_handler(self) -> _Handler:
        handler = super().get_route_handler()
        authenticated = depends_on_principal(self.dependant)

        async def screened(request: Request) -> Response:
            limit = self.body_limit(request.app.state.services.settings)
            receive = await admit(request, authenticated=authenticated, limit=limit)
            for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
                _refuse_nul(name, name, value)
            return await handler(_StrictRequest(request.scope, receive))

        return screened


class CheckpointRoute(StrictRoute):
    """A raw checkpoint body (application/octet-stream) the route streams to disk itself."""

    def body_limit(self, settings: Settings) -> int:
        return settings.max_checkpoint_bytes


class _StrictRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = _parse_json(await self.body())
        return self._json

    async def _get_form(
        self,
        *,
        max_files: int | float = _MAX_FORM_FILES,
        max_fields: int | float = _MAX_FORM_FIELDS,
        max_part_size: int = _MAX_FORM_FIELD_BYTES,
    ) -> FormData:
        # FastAPI asks with Starlette's defaults (1000 parts of 1 MiB); ours are tighter.
        form = await super()._get_form(
            max_files=min(max_files, _MAX_FORM_FILES),
            max_fields=min(max_fields, _MAX_FORM_FIELDS),
            max_part_size=min(max_part_size, _MAX_FORM_FIELD_BYTES),
        )
        for name, value in form.multi_items():
            _refuse_nul(name, name, value if isinstance(value, str) else "")
        return form


def _parse_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _rejected(ErrorCode.MALFORMED_REQUEST, None, "the body is not UTF-8 encoded JSON") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise _too_deep() from None
    _screen(value, "", 0)
    return value


def _no_constant(name: str) -> Any:
    raise _rejected(ErrorCode.VALIDATION_ERROR, None, f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _rejected(ErrorCode.VALIDATION_ERROR, None, f"{text[:32]} is out of range for a number")
    return value


def _screen(value: Any, path: str, depth: int) -> None:
    """Walk parsed JSON (bounded by MAX_JSON_DEPTH, so the recursion is too)."""
    if depth > MAX_JSON_DEPTH:
        raise _too_deep()
    if isinstance(value, str):
        _refuse_nul(path, path, value)
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            _refuse_nul(child, key, "")
            _screen(item, child, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _screen(item, f"{path}.{index}" if path else str(index), depth + 1)


def _refuse_nul(field: str, name: str, value: str) -> None:
    if "\x00" in name or "\x00" in value:
        raise _rejected(
            ErrorCode.VALIDATION_ERROR, field.replace("\x00", "\\x00"), "must not contain NUL characters"
        )


def _too_deep() -> RejectedRequest:
    return _rejected(ErrorCode.VALIDATION_ERROR, None, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")


def _rejected(code: ErrorCode, field: str | None, message: str) -> RejectedRequest:
    summary = f"{field}: {message}" if field else message
    return RejectedRequest(FedopsError(code, summary, [FieldProblem(field, message)]))
