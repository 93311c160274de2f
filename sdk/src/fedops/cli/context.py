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
from fedops.cli.output import fail

__all__ = ["CliContext", "calling", "client_for"]

T = TypeVar("T")
DEFAULT_URL = "http://127.0.0.1:8080"


@dataclass
class CliContext:
    url: str
    token: str | None


def _embedded_token() -> str | None:
    """The token `fedops up` generated in the embedded default, if this is that machine."""
    path = Path(os.environ.get("FEDOPS_DATA_DIR", ".fedops")) / "admin-token"
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def client_for(ctx: typer.Context) -> FedopsClient:
    settings: CliContext = ctx.obj
    return FedopsClient(settings.url, settings.token or _embedded_token())


@contextmanager
def _api_errors(as_json: bool) -> Iterator[None]:
    try:
        yield
    except ApiError as exc:
        details = "".join(f"\n  {d.field or '-'}: {d.message}" for d in exc.details if d.field)
        raise fail(f"{exc.message}{details}", code=exc.code, as_json=as_json) from None


def calling(ctx: typer.Context, as_json: bool, call: Callable[[FedopsClient], T]) -> T:
    """Run ``call`` with a client, turning API errors into a clean CLI failure."""
    with _api_errors(as_json), client_for(ctx) as client:
        return call(client)
