"""``fedops-client``: join a federated-learning task from an edge machine."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from fedops.client.trainer import Progress

app = typer.Typer(name="fedops-client", help="Train a fedops task with your own code and data.",
                  no_args_is_help=True, pretty_exceptions_enable=False)  # fmt: skip


def _rich_progress(rounds: int) -> tuple[Progress, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bars

    bars = Bars(TextColumn("{task.description:<8}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[note]}"), TimeElapsedColumn())  # fmt: skip
    round_bar = bars.add_task("rounds", total=rounds, note="")
    epoch_bar = bars.add_task("epochs", total=1, note="")

    def round_started(round_number: int, epochs: int) -> None:
        bars.update(round_bar, note=f"round {round_number}")
        bars.reset(epoch_bar, total=epochs, note="")

    def round_done(round_number: int, summary: dict[str, Any]) -> None:
        note = f"round {round_number}: val acc {summary['val_accuracy']:.3f}, {summary['seconds']:.2f} s"
        bars.update(round_bar, completed=round_number, note=note)

    progress = Progress(round_started, lambda epoch: bars.update(epoch_bar, completed=epoch), round_done)
    return progress, bars


@app.callback()
def _group() -> None:
    """Keeps `run` a subcommand (more commands will follow)."""


@app.command("run")
def run(
    project: Annotated[Path, typer.Argument(help="A FedOps-style project directory.")] = Path(),
    registry: Annotated[
        str, typer.Option(envvar="FEDOPS_URL", help="URL of the fedops API.")
    ] = "http://127.0.0.1:8080",
    token: Annotated[
        str, typer.Option(envvar="FEDOPS_TOKEN", help="The task's enrolment token or a client credential.")
    ] = "",
    task: Annotated[str | None, typer.Option(help="Task id (checked against the token).")] = None,
    name: Annotated[
        str | None,
        typer.Option(help="This client's name (default: the host name and an id of this installation)."),
    ] = None,
    node_config: Annotated[
        str, typer.Option(help='Flower node config, e.g. "partition-id=0 num-partitions=2".')
    ] = "",
    max_wait: Annotated[float, typer.Option(help="Seconds to wait for the task to start.")] = 3600.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log lines instead of progress bars.")] = False,
) -> None:
    """Enrol (first time), wait for the task's server, train every round, then exit."""
    from flwr.common.config import parse_config_args

    from fedops.client.runner import RunOptions, run_client

    if not token:
        raise typer.BadParameter("give --token or FEDOPS_TOKEN (the task's enrolment token)")
    logging.basicConfig(level=logging.INFO if quiet else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    logging.getLogger("httpx").setLevel(logging.WARNING)
    options = RunOptions(
        registry=registry, token=token, name=name, task_id=task,
        node_config=dict(parse_config_args([node_config])) if node_config else {}, max_wait_seconds=max_wait,
    )  # fmt: skip
    from fedops.api import ApiError

    try:
        if quiet:
            raise typer.Exit(run_client(project, options))
        progress, bars = _rich_progress(probe_rounds(registry, token))
        with bars:
            code = run_client(project, options, progress=progress)
    except ApiError as exc:
        typer.secho(f"error: {exc.message} ({exc.code})", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    raise typer.Exit(code)


def probe_rounds(registry: str, token: str) -> int:
    """The task's number of rounds, for the progress bar (enrolment tokens cannot read tasks;
    an expired one is no error here: the client may continue with its stored credential)."""
    from fedops.api import ApiError, FedopsClient

    try:
        with FedopsClient(registry, token) as client:
            task_id = client.registry.whoami().task_id
            return 1 if task_id is None else client.registry.get_task(task_id).spec.rounds
    except ApiError:
        return 1


def main() -> None:
    app()
