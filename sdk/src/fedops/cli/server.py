"""``fedops server``: the FL server of a task."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from fedops.api.schemas import ScaleRequest, ServerStatus
from fedops.cli.context import calling
from fedops.cli.output import emit, fail

app = typer.Typer(help="Provision and operate a task's FL server.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _summary(status: ServerStatus) -> str:
    pods = "".join(
        f"\n  pod {pod.name}: {pod.phase}" + (", ready" if pod.ready else f" ({pod.reason or 'not ready'})")
        for pod in status.pods
    )
    return (
        f"task {status.task_id}: {status.ready_replicas}/{status.replicas} ready, "
        f"{status.available_replicas} available, volume {status.volume_phase}, "
        f"fleet {status.fleet_address or '-'}\n{status.reason}{pods}"
    )


@app.command("provision")
def provision(ctx: typer.Context, task_id: str, as_json: JsonOption = False) -> None:
    """Provision (or re-apply) the task's FL server."""
    status = calling(ctx, as_json, lambda c: c.registry.provision_server(task_id))
    emit(status, as_json=as_json, text=_summary(status))


@app.command("status")
def status(ctx: typer.Context, task_id: str, as_json: JsonOption = False) -> None:
    """Replicas, readiness, volume and the reason for the current state."""
    result = calling(ctx, as_json, lambda c: c.registry.server_status(task_id))
    emit(result, as_json=as_json, text=_summary(result))


@app.command("scale")
def scale(
    ctx: typer.Context,
    task_id: str,
    replicas: Annotated[int | None, typer.Option(help="Number of replicas.")] = None,
    cpu: Annotated[str | None, typer.Option(help="CPU, e.g. 500m or 2.")] = None,
    memory: Annotated[str | None, typer.Option(help="Memory, e.g. 2Gi.")] = None,
    gpu: Annotated[str | None, typer.Option(help="Whole number of GPUs.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change replicas and/or resources (a new spec revision, rolled out)."""
    try:
        request = ScaleRequest(replicas=replicas, cpu=cpu, memory=memory, gpu=gpu)
    except ValidationError as exc:  # e.g. --replicas 2: the same sentence the API would give
        problems = "; ".join(f"{e['loc'][0]}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
        raise fail(problems, code="validation_error", as_json=as_json) from None
    result = calling(ctx, as_json, lambda c: c.registry.scale_server(task_id, request))
    emit(result, as_json=as_json, text=_summary(result))


@app.command("pause")
def pause(ctx: typer.Context, task_id: str, as_json: JsonOption = False) -> None:
    """Stop the server's processes, keeping its data (0 replicas)."""
    result = calling(ctx, as_json, lambda c: c.registry.pause_server(task_id))
    emit(result, as_json=as_json, text=_summary(result))


@app.command("resume")
def resume(ctx: typer.Context, task_id: str, as_json: JsonOption = False) -> None:
    """Start a paused server again."""
    result = calling(ctx, as_json, lambda c: c.registry.resume_server(task_id))
    emit(result, as_json=as_json, text=_summary(result))


@app.command("logs")
def logs(
    ctx: typer.Context,
    task_id: str,
    tail: Annotated[int, typer.Option(help="Number of lines.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """The last lines the server wrote."""
    result = calling(ctx, as_json, lambda c: c.registry.server_logs(task_id, tail=tail))
    emit(result, as_json=as_json, text="\n".join(result.lines))


@app.command("start-run")
def start_run(ctx: typer.Context, task_id: str, as_json: JsonOption = False) -> None:
    """Start the task's federated run (the server must be ready)."""
    task = calling(ctx, as_json, lambda c: c.registry.start_run(task_id))
    emit(task, as_json=as_json, text=f"task {task.name}: {task.status}")


@app.command("stop-run")
def stop_run(ctx: typer.Context, task_id: str, as_json: JsonOption = False) -> None:
    """Stop the task's federated run."""
    task = calling(ctx, as_json, lambda c: c.registry.stop_run(task_id))
    emit(task, as_json=as_json, text=f"task {task.name}: {task.status}")


@app.command("delete")
def delete(ctx: typer.Context, task_id: str, as_json: JsonOption = False) -> None:
    """Remove the server and its data; the task stays."""
    calling(ctx, as_json, lambda c: c.registry.delete_server(task_id))
    emit({"deleted_server_of": task_id}, as_json=as_json, text=f"deleted the server of task {task_id}")
