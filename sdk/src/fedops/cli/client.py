"""``fedops client``: enrolment tokens and the clients of a task."""

from __future__ import annotations

from typing import Annotated

import typer

from fedops.api.schemas import EnrollmentTokenCreate
from fedops.cli.context import calling
from fedops.cli.output import emit, emit_table

app = typer.Typer(help="Enrol edge clients and see them.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("token")
def token(
    ctx: typer.Context,
    task_id: str,
    ttl_hours: Annotated[float, typer.Option(help="Validity in hours.")] = 168.0,
    max_uses: Annotated[int | None, typer.Option(help="How many clients may enrol with it.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an enrolment token for the task (shown once)."""
    request = EnrollmentTokenCreate(ttl_seconds=int(ttl_hours * 3600), max_uses=max_uses)
    result = calling(ctx, as_json, lambda c: c.registry.create_enrollment_token(task_id, request))
    emit(result, as_json=as_json, text=f"{result.token}\n(valid until {result.expires_at.isoformat()})")


@app.command("list")
def list_clients(ctx: typer.Context, task_id: str, as_json: JsonOption = False) -> None:
    """Clients enrolled in the task, with online status from their heartbeats."""
    result = calling(ctx, as_json, lambda c: c.registry.list_clients(task_id))
    rows = [
        (
            c.id,
            c.name,
            c.hostname,
            "online" if c.online else "offline",
            "yes" if c.training else "no",
            c.global_model_version,
        )
        for c in result.data
    ]
    emit_table(
        rows,
        ("ID", "NAME", "HOST", "STATE", "TRAINING", "MODEL"),
        as_json=as_json,
        document=result.model_dump(mode="json"),
    )
