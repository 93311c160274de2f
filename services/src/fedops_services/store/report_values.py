"""The numbers of round reports, as typed columns of the ``reports`` table, for metrics.

A report's body is a JSON document; aggregating JSON fields over every report at every
scrape would grow with the history. Instead the numbers metrics need are extracted once,
when the report is first stored, into nullable columns of the same row: no extra row per
report (extra rows cost ingest more than the 10% budget of metrics), and a resent report
inserts nothing, so it adds nothing. The names are the contract between this extraction
and the scrape-time aggregation in ``store/metrics.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import InstrumentedAttribute

from fedops_services.db.tables import ReportRow

__all__ = [
    "CLIENT_PHASE_SECONDS",
    "CLIENT_TOTAL_SECONDS",
    "EXAMPLES_TRAINED",
    "EXPLANATIONS_GENERATED",
    "KIND_OF",
    "ROUND_FAILURES",
    "ROUND_PARTICIPANTS",
    "ROUND_SECONDS",
    "SERVER_PHASE_SECONDS",
    "VALUE_COLUMNS",
    "column_values",
    "value_column",
    "value_sources",
    "values_of",
]

ROUND_SECONDS = "round_seconds"
ROUND_PARTICIPANTS = "round_participants"
ROUND_FAILURES = "round_failures"
SERVER_PHASE_SECONDS = "server_phase_seconds:"  # + the phase
CLIENT_PHASE_SECONDS = "client_phase_seconds:"  # + the phase
CLIENT_TOTAL_SECONDS = "client_total_seconds"
EXAMPLES_TRAINED = "examples_trained"
EXPLANATIONS_GENERATED = "explanations_generated"

_SERVER_PHASES = ("configure", "wait", "aggregate", "evaluate")
_CLIENT_PHASES = ("wait", "load", "train", "evaluate", "xai", "upload")

# Per kind: (column, whether the number is in the body's timings, its field there).
_SOURCES: dict[str, tuple[tuple[str, bool, str], ...]] = {
    "server_round": (
        ("round_seconds", True, "total"),
        ("round_participants", False, "num_clients"),
        ("round_failures", False, "num_failures"),
        *((f"server_{phase}_seconds", True, phase) for phase in _SERVER_PHASES),
    ),
    "client_round": (
        ("client_total_seconds", True, "total"),
        ("examples_trained", False, "num_train_examples"),
        ("explanations_generated", False, "explanations_generated"),
        *((f"client_{phase}_seconds", True, phase) for phase in _CLIENT_PHASES),
    ),
}


# Each value's column of ReportRow.
_COLUMN_OF: dict[str, str] = {
    ROUND_SECONDS: "round_seconds",
    ROUND_PARTICIPANTS: "round_participants",
    ROUND_FAILURES: "round_failures",
    **{SERVER_PHASE_SECONDS + phase: f"server_{phase}_seconds" for phase in _SERVER_PHASES},
    CLIENT_TOTAL_SECONDS: "client_total_seconds",
    EXAMPLES_TRAINED: "examples_trained",
    EXPLANATIONS_GENERATED: "explanations_generated",
    **{CLIENT_PHASE_SECONDS + phase: f"client_{phase}_seconds" for phase in _CLIENT_PHASES},
}
# The kind of report that carries each column, and so each value.
_KIND_OF_COLUMN = {column: kind for kind, sources in _SOURCES.items() for column, _, _ in sources}
KIND_OF: dict[str, str] = {name: _KIND_OF_COLUMN[column] for name, column in _COLUMN_OF.items()}
VALUE_COLUMNS: tuple[str, ...] = tuple(_KIND_OF_COLUMN)


def value_column(name: str) -> InstrumentedAttribute[float | None]:
    """The ``reports`` column that holds the value called ``name``."""
    column: InstrumentedAttribute[float | None] = getattr(ReportRow, _COLUMN_OF[name])
    return column


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def values_of(kind: str, body: Mapping[str, Any]) -> dict[str, float]:
    """The numbers of one report's (validated, JSON-dumped) body, by value name; fields
    left unset give none."""
    columns = column_values(kind, body)
    return {name: value for name, column in _COLUMN_OF.items() if (value := columns.get(column)) is not None}


def column_values(kind: str, body: Mapping[str, Any]) -> dict[str, float | None]:
    """The value columns of a report of ``kind`` (None where the body has no such number),
    the same keys for every report of a kind, as a multi-row insert needs. On the ingest
    path, so one plain loop over the fields."""
    given = body.get("timings")
    timings: Mapping[str, Any] = given if isinstance(given, dict) else {}
    values: dict[str, float | None] = {}
    for column, in_timings, field in _SOURCES.get(kind, ()):
        values[column] = _number((timings if in_timings else body).get(field))
    return values


def value_sources() -> list[tuple[str, str, tuple[str, ...]]]:
    """(column, kind of report, JSON path of the number in its body) for every value
    column: the same extraction, for a database that does it in SQL."""
    return [
        (column, kind, ("timings", field) if in_timings else (field,))
        for kind, sources in _SOURCES.items()
        for column, in_timings, field in sources
    ]
