"""The HTTP core shared by the typed clients: base URL, bearer token, error mapping."""

from __future__ import annotations

import ipaddress
from typing import Any, BinaryIO, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from fedops.api.schemas import ErrorDetail, ErrorPublic

__all__ = ["ApiError", "HttpCore", "is_loopback_url"]

ModelT = TypeVar("ModelT", bound=BaseModel)


class ApiError(Exception):
    """A non-2xx answer, no answer at all (status 0, code ``unreachable``: refused, reset,
    timed out), or a 2xx answer that cannot be parsed (code ``invalid_response``)."""

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
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, **_direct_to_loopback(self.base_url)
        )

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

    def download(self, path: str, destination: BinaryIO) -> httpx.Response:
        """GET ``path`` into ``destination`` in chunks (a large file is never held in memory);
        returns the response (headers) once the body is written."""
        try:
            with self._client.stream("GET", path) as response:
                if not response.is_success:
                    response.read()
                    raise _error_from(response)
                for chunk in response.iter_bytes(1024 * 1024):
                    destination.write(chunk)
                return response
        except httpx.TransportError as exc:
            raise ApiError(0, "unreachable", f"cannot reach {self.base_url}: {exc}") from exc

    def json(self, method: str, path: str, model: type[ModelT], **kwargs: Any) -> ModelT:
        """Parse a 2xx answer into ``model``. Unknown fields are ignored at every depth (a
        newer server may add some); an answer that is not the model at all is an ApiError
        with code ``invalid_response`` and the answer's status, like any other bad answer."""
        response = self.request(method, path, **kwargs)
        try:
            return model.model_validate_json(response.content, extra="ignore")
        except ValidationError as exc:
            raise ApiError(
                response.status_code,
                "invalid_response",
                f"{self.base_url} answered {method} {path} with something that is not a valid "
                f"{model.__name__}: {exc.errors(include_url=False, include_input=False)[:3]}",
            ) from exc


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` names this machine by a loopback address (127.0.0.0/8, ::1) or
    ``localhost``; decided from the text alone, without resolving anything."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # any other name: it could resolve anywhere
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _direct_to_loopback(base_url: str) -> dict[str, Any]:
    """Client options that keep a loopback URL off any proxy.

    A proxy's loopback is another machine's: through HTTP_PROXY/ALL_PROXY a request meant for
    this machine, with its bearer token (the local admin token file's, for the CLI), would go
    to the proxy in cleartext. httpx honours those variables unless ``trust_env`` is off, and
    does not exempt 127.0.0.1 or ::1 unless NO_PROXY lists them (0.28), so it is switched off
    for loopback URLs. ``trust_env`` also covers SSL_CERT_FILE/SSL_CERT_DIR, which an https
    loopback URL still honours through a context built from the environment.
    """
    if not is_loopback_url(base_url):
        return {}
    options: dict[str, Any] = {"trust_env": False}
    if urlsplit(base_url).scheme == "https":
        options["verify"] = httpx.create_ssl_context(trust_env=True)
    return options


def _error_from(response: httpx.Response) -> ApiError:
    try:
        body = ErrorPublic.model_validate_json(response.content, extra="ignore").error
    except ValidationError:
        return ApiError(response.status_code, "http_error", response.text[:500] or response.reason_phrase)
    return ApiError(response.status_code, body.code, body.message, body.details)
