"""A FedOps ``conf/config.yaml`` sent as text, turned into a task spec (the console's import).

The conversion is the CLI's (``fedops task create --from-fedops-config``); this adds what
text from a browser needs first. The YAML is parsed safely (no Python objects), and the
parsed document is walked once, within bounds, before the conversion does: YAML aliases
let a few hundred bytes stand for an exponentially large tree, and nesting can be deep
enough to exhaust recursion. Values JSON cannot carry (``.inf``, ``.nan``, dates, sets,
binaries) and NUL characters (which no store accepts) are refused here, naming their key,
instead of failing later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import yaml

from fedops.api.schemas import ConversionNotePublic, FedopsConfigConversion
from fedops.spec import FedopsConfigError, convert_fedops_config
from fedops_services.errors import ErrorCode, FedopsError, FieldProblem
from fedops_services.security import Principal, require_admin

__all__ = ["MAX_CONFIG_DEPTH", "MAX_CONFIG_NODES", "convert_fedops_config_text"]

MAX_CONFIG_DEPTH = 32  # FedOps files nest 4 levels
MAX_CONFIG_NODES = 10_000  # values visited, aliases counted each time they are used
_PLAIN = (str, int, float, bool, type(None), dict, list)


def convert_fedops_config_text(
    principal: Principal, text: str, *, name: str | None
) -> FedopsConfigConversion:
    """The spec and notes, or FedopsError 403 (not the admin) or 422 (an unusable file)."""
    require_admin(principal)
    document = _parse(text)
    try:
        conversion = convert_fedops_config(document, name=name)
    except FedopsConfigError as exc:
        problems = [(f"config.{p.key}", p.message.removeprefix("Value error, ")) for p in exc.problems]
        raise _invalid(problems) from None
    return FedopsConfigConversion(
        spec=conversion.spec,
        notes=[ConversionNotePublic(key=note.key, message=note.message) for note in conversion.notes],
    )


def _parse(text: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise _invalid([("config", f"not valid YAML{where}: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise _invalid([("config", f"not valid YAML: {exc}")]) from None
    except RecursionError:
        raise _invalid([("config", f"nested deeper than {MAX_CONFIG_DEPTH} levels")]) from None
    except (ValueError, OverflowError) as exc:  # a constructor's, e.g. the timestamp 2001-13-45
        raise _invalid([("config", f"not valid YAML: {exc}")]) from None
    if not isinstance(document, dict):
        kind = "empty" if document is None else f"a {type(document).__name__}"
        raise _invalid([("config", f"must be a YAML mapping (key: value lines), not {kind}")])
    _screen(document)
    return document


def _screen(document: dict[str, Any]) -> None:
    visited = 0
    stack: list[tuple[str, Any, int]] = [("", document, 0)]
    while stack:
        path, value, depth = stack.pop()
        visited += 1
        field = f"config.{path}" if path else "config"
        if visited > MAX_CONFIG_NODES:
            raise _invalid(
                [("config", f"holds more than {MAX_CONFIG_NODES} values (YAML aliases count each use)")]
            )
        if depth > MAX_CONFIG_DEPTH:
            raise _invalid([(field, f"nested deeper than {MAX_CONFIG_DEPTH} levels")])
        if not isinstance(value, _PLAIN):
            # YAML's dates, sets and binaries: no FedOps setting is one, and JSON has none.
            raise _invalid([(field, "must be text, a number, true/false, a list or a mapping")])
        if isinstance(value, float) and not math.isfinite(value):
            raise _invalid([(field, f"{value} is not a finite number")])
        if isinstance(value, str) and "\x00" in value:
            raise _invalid([(field, "must not contain NUL characters")])
        if isinstance(value, Mapping):
            for key, item in value.items():
                if "\x00" in str(key):
                    raise _invalid([(field, "a key must not contain NUL characters")])
                stack.append((f"{path}.{key}" if path else str(key), item, depth + 1))
        elif isinstance(value, list):
            stack.extend(
                (f"{path}.{index}" if path else str(index), item, depth + 1)
                for index, item in enumerate(value)
            )


def _invalid(problems: list[tuple[str, str]]) -> FedopsError:
    first_field, first_message = problems[0]
    summary = f"{first_field}: {first_message}"
    if len(problems) > 1:
        summary += f" (and {len(problems) - 1} more problem(s), see details)"
    return FedopsError(
        ErrorCode.VALIDATION_ERROR, summary, [FieldProblem(field, message) for field, message in problems]
    )
