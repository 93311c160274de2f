"""``fedops model``: a task's global model versions and their checkpoints."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from fedops.api import FedopsClient
from fedops.cli.context import calling
from fedops.cli.output import emit, fail

app = typer.Typer(help="Download the global models a task's FL server trained.", no_args_is_help=True)


@app.command("download")
def download(
    ctx: typer.Context,
    task_id: str,
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Model version (default: the latest).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="File to write (default: <task>-round-<r>-v<version>.npz here)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a file of the default name that exists already.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Download a version's checkpoint (.npz of the model's arrays, numpy.load reads it).
    A file named by -o is overwritten; one of the default name only with --force."""
    directory = (output.parent if output is not None else Path.cwd()).resolve()
    if not directory.is_dir():
        raise fail(f"{directory} is not a directory", code="usage", as_json=as_json)

    def fetch(client: FedopsClient) -> tuple[int, Path, int]:
        number = version if version is not None else client.registry.latest_model_version(task_id).version
        # Written beside the target and renamed once complete: an interrupted download never
        # leaves a file that looks whole.
        descriptor, partial = tempfile.mkstemp(dir=directory, prefix=".fedops-model-", suffix=".part")
        try:
            with os.fdopen(descriptor, "wb") as file:
                suggested = client.monitoring.download_checkpoint(task_id, number, file)
            target = output if output is not None else directory / suggested
            if output is None and not force and os.path.lexists(target):
                raise fail(
                    f"{target} exists already: name it with -o to overwrite it, or give --force",
                    code="file_exists",
                    as_json=as_json,
                )
            Path(partial).replace(target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        return number, target, target.stat().st_size

    number, target, size = calling(ctx, as_json, fetch)
    emit(
        {"task_id": task_id, "version": number, "path": str(target), "size_bytes": size},
        as_json=as_json,
        text=f"model version {number} of task {task_id} written to {target} ({size} bytes)",
    )
