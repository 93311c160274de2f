"""What Grafana would send to Prometheus for a dashboard JSON file, without Grafana.

``panel_queries`` walks every panel (rows' nested panels included) and yields its targets'
expressions; ``variable_queries`` reads the template variables; ``resolve_variables``
picks a value for each variable the way Grafana's defaults would (the first value, or the
"All" value), in order, so a variable that depends on an earlier one (``$client`` on
``$task``) is resolved with it; ``substitute`` fills them and Grafana's built-in interval
variables into an expression. Nothing here talks to Prometheus: the caller passes a
function that answers ``label_values`` questions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LabelValues",
    "PanelQuery",
    "Variable",
    "builtin_variables",
    "panel_queries",
    "parse_label_values",
    "resolve_variables",
    "substitute",
    "unresolved",
    "variables",
]

# label_values(metric_selector, label) or label_values(label), Grafana's variable function.
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<match>.+?)\s*,\s*)?(?P<label>[A-Za-z_]\w*)\s*\)\s*$")
# $name, ${name}, ${name:format} and the deprecated [[name]].
_REFERENCE = r"\$\{{{name}(?::[^}}]*)?\}}|\$(?:{name})\b|\[\[{name}\]\]"
_ANY_REFERENCE = re.compile(r"\$\{\w+(?::[^}]*)?\}|\$[A-Za-z_]\w*|\[\[\w+\]\]")

# (selector or None, label) -> the label's values, as /api/v1/label/<label>/values answers.
LabelValues = Callable[[str | None, str], list[str]]


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref_id: str
    expr: str
    instant: bool  # Grafana sends an instant query (stat/table panels set this) instead of a range


@dataclass(frozen=True)
class Variable:
    name: str
    type: str  # query, custom, constant, datasource, interval, textbox
    query: str
    include_all: bool
    all_value: str | None
    options: tuple[str, ...]  # for custom variables, the listed values


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row keeps its panels inside


def panel_queries(dashboard: Mapping[str, Any]) -> Iterator[PanelQuery]:
    """Every Prometheus target of every panel (expression-less targets are skipped)."""
    title = str(dashboard.get("title", dashboard.get("uid", "?")))
    for panel in _panels(list(dashboard.get("panels", []))):
        for target in panel.get("targets", []):
            expr = target.get("expr")
            if not expr:
                continue
            instant = bool(target.get("instant")) and not target.get("range", False)
            yield PanelQuery(title, str(panel.get("title", panel.get("id"))), str(target.get("refId", "?")),
                             str(expr), instant)  # fmt: skip


def variables(dashboard: Mapping[str, Any]) -> list[Variable]:
    found = []
    for entry in dashboard.get("templating", {}).get("list", []):
        query = entry.get("query", "")
        if isinstance(query, dict):  # newer Grafana: {"query": "...", "refId": ...}
            query = query.get("query", "")
        options = tuple(str(o.get("value")) for o in entry.get("options", []) if o.get("value") != "$__all")
        found.append(Variable(str(entry["name"]), str(entry.get("type", "")), str(query or ""),
                              bool(entry.get("includeAll")), entry.get("allValue"), options))  # fmt: skip
    return found


def parse_label_values(query: str) -> tuple[str | None, str] | None:
    """``label_values(selector, label)`` -> (selector, label); None for any other query."""
    match = _LABEL_VALUES.match(query)
    if match is None:
        return None
    return match.group("match"), match.group("label")


def builtin_variables(*, range_seconds: int, rate_interval: str, interval: str) -> dict[str, str]:
    """Grafana's own variables; with 1 s scrapes, a rate interval of a few scrapes."""
    interval_ms = int(interval.removesuffix("s")) * 1000
    return {
        "__rate_interval": rate_interval,
        "__interval": interval,
        "__interval_ms": str(interval_ms),
        "__range": f"{range_seconds}s",
        "__range_s": str(range_seconds),
        "__range_ms": str(range_seconds * 1000),
    }


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Fill ``values`` into every reference form ($x, ${x}, ${x:fmt}, [[x]]); longest names first."""
    for name in sorted(values, key=len, reverse=True):
        # A literal replacement (not a template): values such as ".*" or "\\d" stay as they are.
        text = re.sub(_REFERENCE.format(name=re.escape(name)), _literal(values[name]), text)
    return text


def _literal(value: str) -> Callable[[re.Match[str]], str]:
    return lambda _: value


def unresolved(text: str) -> list[str]:
    """Variable references left in ``text`` (a dashboard that uses an undefined variable)."""
    return _ANY_REFERENCE.findall(text)


def resolve_variables(
    dashboard: Mapping[str, Any], label_values: LabelValues, *, preferred: Mapping[str, str],
    builtins: Mapping[str, str],
) -> dict[str, str]:  # fmt: skip
    """Each variable's value as Grafana would pick it; ``preferred`` wins for a label's variable.

    ``preferred`` maps a label name (``task``) to the value to choose when a ``label_values``
    variable lists it; the value must be among those listed (else AssertionError).
    A variable with no values resolves to its "All" value if it has one, else it fails.
    """
    values: dict[str, str] = dict(builtins)
    values["datasource"] = "prometheus"
    for variable in variables(dashboard):
        if variable.type in ("datasource", "adhoc"):
            continue
        if variable.type in ("constant", "textbox", "interval"):
            values[variable.name] = variable.query.split(",")[0].strip()
            continue
        if variable.type == "custom":
            listed = list(variable.options) or [v.strip() for v in variable.query.split(",") if v.strip()]
            values[variable.name] = _choose(variable, listed, None)
            continue
        parsed = parse_label_values(substitute(variable.query, values))
        if parsed is None:
            raise AssertionError(f"variable {variable.name}: unsupported query {variable.query!r}")
        selector, label = parsed
        values[variable.name] = _choose(variable, label_values(selector, label), preferred.get(label))
    return values


def _choose(variable: Variable, listed: list[str], preferred: str | None) -> str:
    if preferred is not None:
        if preferred not in listed:
            raise AssertionError(f"variable {variable.name} lists {listed}, not {preferred!r}")
        return preferred
    if listed:
        return listed[0]
    if variable.include_all:
        return variable.all_value or ".*"
    raise AssertionError(f"variable {variable.name} ({variable.query!r}) has no values")
