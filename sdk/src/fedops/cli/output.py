"""How CLI commands print: aligned text for people, ``--json`` for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import typer
from pydantic import BaseModel

__all__ = ["emit", "emit_table", "fail"]


def emit(value: BaseModel | dict[str, Any] | None, *, as_json: bool, text: str | None = None) -> None:
    """Print ``value`` as JSON, or ``text`` (default: the value's fields, one per line)."""
    document = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    if as_json:
        typer.echo(json.dumps(document, indent=2, sort_keys=True))
        return
    if text is not None:
        typer.echo(text)
        return
    for key, field in (document or {}).items():
        rendered = json.dumps(field) if isinstance(field, (dict, list)) else field
        typer.echo(f"{key}: {rendered}")


def emit_table(
    rows: Sequence[Sequence[Any]], headers: Sequence[str], *, as_json: bool, document: Any
) -> None:
    if as_json:
        typer.echo(json.dumps(document, indent=2, sort_keys=True))
        return
    cells = [[str(c) for c in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def fail(message: str, *, code: str = "error", as_json: bool = False, exit_code: int = 1) -> typer.Exit:
    """Print an error (to stderr, or as JSON) and return the Exit to raise."""
    if as_json:
        typer.echo(json.dumps({"error": {"code": code, "message": message}}, indent=2))
    else:
        typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(exit_code)
