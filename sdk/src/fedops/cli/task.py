"""``fedops task``: create, list, show, revise and delete tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError

from fedops.cli.context import calling
from fedops.cli.output import emit, emit_table, fail
from fedops.spec import FedopsConfigError, TaskSpec, convert_fedops_config

app = typer.Typer(help="Create and inspect FL tasks.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _read_yaml(path: Path, as_json: bool) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise fail(f"cannot read {path}: {exc}", code="invalid_file", as_json=as_json) from None
    if not isinstance(document, dict):
        raise fail(f"{path} must hold a YAML mapping", code="invalid_file", as_json=as_json)
    return document


def _load_spec(file: Path | None, fedops_config: Path | None, name: str | None, as_json: bool) -> TaskSpec:
    if (file is None) == (fedops_config is None):
        raise fail("give exactly one of -f/--file or --from-fedops-config", code="usage", as_json=as_json)
    if file is not None:
        document = _read_yaml(file, as_json)
        if name is not None:
            document["name"] = name
        try:
            return TaskSpec.model_validate(document)
        except ValidationError as exc:
            lines = "".join(
                f"\n  {'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
            raise fail(
                f"{file} is not a valid task spec:{lines}", code="validation_error", as_json=as_json
            ) from None
    assert fedops_config is not None
    try:
        conversion = convert_fedops_config(_read_yaml(fedops_config, as_json), name=name)
    except FedopsConfigError as exc:
        raise fail(str(exc), code="validation_error", as_json=as_json) from None
    if not as_json:
        for note in conversion.notes:
            typer.secho(f"note: {note.key}: {note.message}", err=True, fg=typer.colors.YELLOW)
    return conversion.spec


@app.command("create")
def create(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Option("-f", "--file", help="Task spec (YAML).")] = None,
    from_fedops_config: Annotated[
        Path | None, typer.Option("--from-fedops-config", help="A FedOps conf/config.yaml to convert.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Override the task name.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a task from a spec file or a FedOps config."""
    spec = _load_spec(file, from_fedops_config, name, as_json)
    task = calling(ctx, as_json, lambda c: c.registry.create_task(spec))
    emit(task, as_json=as_json, text=f"created task {task.name} ({task.id}), status {task.status}")


@app.command("update")
def update(
    ctx: typer.Context,
    task_id: str,
    file: Annotated[Path, typer.Option("-f", "--file", help="The new task spec (YAML).")],
    as_json: JsonOption = False,
) -> None:
    """Replace a task's spec; this makes a new revision."""
    spec = _load_spec(file, None, None, as_json)
    task = calling(ctx, as_json, lambda c: c.registry.update_task(task_id, spec))
    emit(task, as_json=as_json, text=f"task {task.name} is at revision {task.revision}")


@app.command("list")
def list_tasks(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only tasks in this status.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List tasks."""
    tasks = calling(ctx, as_json, lambda c: c.registry.list_tasks(status=status, limit=500))
    rows = [(t.id, t.name, t.status, t.revision, t.spec.strategy.name, t.spec.rounds) for t in tasks.data]
    emit_table(
        rows,
        ("ID", "NAME", "STATUS", "REV", "STRATEGY", "ROUNDS"),
        as_json=as_json,
        document=tasks.model_dump(mode="json"),
    )


@app.command("show")
def show(ctx: typer.Context, task_id: str, as_json: JsonOption = False) -> None:
    """Show one task with its spec."""
    task = calling(ctx, as_json, lambda c: c.registry.get_task(task_id))
    text = None if as_json else yaml.safe_dump(task.model_dump(mode="json"), sort_keys=False).rstrip()
    emit(task, as_json=as_json, text=text)


@app.command("revisions")
def revisions(ctx: typer.Context, task_id: str, as_json: JsonOption = False) -> None:
    """List a task's spec revisions."""
    result = calling(ctx, as_json, lambda c: c.registry.list_revisions(task_id))
    rows = [(r.revision, r.created_at.isoformat(timespec="seconds"), r.spec.rounds) for r in result.data]
    emit_table(
        rows, ("REVISION", "CREATED", "ROUNDS"), as_json=as_json, document=result.model_dump(mode="json")
    )


@app.command("delete")
def delete(ctx: typer.Context, task_id: str, as_json: JsonOption = False) -> None:
    """Delete a task, its server, clients, reports and artifacts."""
    calling(ctx, as_json, lambda c: c.registry.delete_task(task_id))
    emit({"deleted": task_id}, as_json=as_json, text=f"deleted task {task_id}")
