"""Where the CLI finds its server and credential."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import typer

from fedops.api import ApiError, FedopsClient
from fedops.api.http import is_loopback_url
from fedops.cli.output import fail

__all__ = ["CliContext", "calling", "client_for", "is_loopback_url", "token_for"]

T = TypeVar("T")
DEFAULT_URL = "http://127.0.0.1:8080"


@dataclass
class CliContext:
    url: str
    token: str | None


class MissingTokenError(Exception):
    """No token may be sent to this URL; the message says where one can come from."""


def _token_file() -> Path:
    return Path(os.environ.get("FEDOPS_DATA_DIR", ".fedops")) / "admin-token"


def _embedded_token() -> str | None:
    """The token `fedops up` generated in the embedded default, if this is that machine."""
    try:
        return _token_file().read_text().strip() or None
    except OSError:
        return None


def token_for(url: str, given: str | None) -> str | None:
    """The token to send to ``url``: the one given, else the local admin token file, but
    only to a loopback URL. That file holds the admin token of the services on this
    machine; sent elsewhere, it would hand them to whoever answers at that URL."""
    if given:
        return given
    if is_loopback_url(url):
        return _embedded_token()
    raise MissingTokenError(
        f"no token for {url}: give --token or set FEDOPS_TOKEN to that installation's admin "
        "token (its FEDOPS_ADMIN_TOKEN; a Helm install keeps it under the key admin-token of the "
        "Secret '<fullname>-auth', or in the Secret auth.existingSecret names). The token "
        f"`fedops up` wrote to {_token_file()} is only sent to loopback URLs "
        "(127.0.0.0/8, ::1, localhost)."
    )


def client_for(ctx: typer.Context) -> FedopsClient:
    settings: CliContext = ctx.obj
    return FedopsClient(settings.url, token_for(settings.url, settings.token))


@contextmanager
def _api_errors(as_json: bool) -> Iterator[None]:
    try:
        yield
    except MissingTokenError as exc:
        raise fail(str(exc), code="missing_token", as_json=as_json) from None
    except ApiError as exc:
        details = "".join(f"\n  {d.field or '-'}: {d.message}" for d in exc.details if d.field)
        raise fail(f"{exc.message}{details}", code=exc.code, as_json=as_json) from None


def calling(ctx: typer.Context, as_json: bool, call: Callable[[FedopsClient], T]) -> T:
    """Run ``call`` with a client, turning API errors into a clean CLI failure."""
    with _api_errors(as_json), client_for(ctx) as client:
        return call(client)
