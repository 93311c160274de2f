"""The HTTP core shared by the typed clients: base URL, bearer token, error mapping."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from fedops.api.schemas import ErrorDetail, ErrorPublic

__all__ = ["ApiError", "HttpCore"]

ModelT = TypeVar("ModelT", bound=BaseModel)


class ApiError(Exception):
    """A non-2xx answer, or no answer at all (status 0, code ``unreachable``)."""

    def __init__(
        self, status: int, code: str, message: str, details: list[ErrorDetail] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


class HttpCore:
    """Owns one ``httpx.Client``; the typed clients share it."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(0, "unreachable", f"cannot reach {self.base_url}: {exc}") from exc
        if response.is_success:
            return response
        raise _error_from(response)

    def json(self, method: str, path: str, model: type[ModelT], **kwargs: Any) -> ModelT:
        response = self.request(method, path, **kwargs)
        return model.model_validate_json(response.content)


def _error_from(response: httpx.Response) -> ApiError:
    try:
        body = ErrorPublic.model_validate_json(response.content).error
    except ValidationError:
        return ApiError(response.status_code, "http_error", response.text[:500] or response.reason_phrase)
    return ApiError(response.status_code, body.code, body.message, body.details)
