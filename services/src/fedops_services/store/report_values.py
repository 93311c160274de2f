"""The numbers of round reports as typed rows (``report_values``), for metrics.

A report's body is a JSON document; aggregating JSON fields over every report at every
scrape would grow with the history. Instead the numbers metrics need are extracted once,
when the report is first stored, in the same transaction: a resent report inserts no
report row and so no values. The names are the contract between this extraction and
the scrape-time aggregation in ``store/metrics.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from fedops_services.db.tables import ReportValueRow

__all__ = [
    "CLIENT_PHASE_SECONDS",
    "CLIENT_TOTAL_SECONDS",
    "EXAMPLES_TRAINED",
    "EXPLANATIONS_GENERATED",
    "ROUND_FAILURES",
    "ROUND_PARTICIPANTS",
    "ROUND_SECONDS",
    "SERVER_PHASE_SECONDS",
    "insert_values",
    "value_rows",
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


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def values_of(kind: str, body: Mapping[str, Any]) -> dict[str, float]:
    """The numbers of one report's (validated, JSON-dumped) body; fields left unset give none."""
    given = body.get("timings")
    timings: Mapping[str, Any] = given if isinstance(given, dict) else {}
    found: dict[str, float | None] = {}
    if kind == "server_round":
        found[ROUND_SECONDS] = _number(timings.get("total"))
        found[ROUND_PARTICIPANTS] = _number(body.get("num_clients"))
        found[ROUND_FAILURES] = _number(body.get("num_failures"))
        for phase in _SERVER_PHASES:
            found[SERVER_PHASE_SECONDS + phase] = _number(timings.get(phase))
    elif kind == "client_round":
        found[CLIENT_TOTAL_SECONDS] = _number(timings.get("total"))
        found[EXAMPLES_TRAINED] = _number(body.get("num_train_examples"))
        found[EXPLANATIONS_GENERATED] = _number(body.get("explanations_generated"))
        for phase in _CLIENT_PHASES:
            found[CLIENT_PHASE_SECONDS + phase] = _number(timings.get(phase))
    return {name: value for name, value in found.items() if value is not None}


def value_rows(report_pk: int, task_id: str, kind: str, body: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    round_number = body.get("round")
    if not isinstance(round_number, int):
        return []
    client_id = body.get("client_id")
    return [
        {
            "report_pk": report_pk,
            "name": name,
            "task_id": task_id,
            "round": round_number,
            "client_id": client_id if isinstance(client_id, str) else None,
            "value": value,
        }
        for name, value in values_of(kind, body).items()
    ]


def insert_values(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert extracted values (rows of ``value_rows``) in one statement."""
    if rows:
        session.execute(insert(ReportValueRow), list(rows))
