"""``fedops``: operate tasks, servers and clients of a fedops installation."""

from __future__ import annotations

from typing import Annotated

import typer

from fedops.cli import client, model, server, task
from fedops.cli.context import DEFAULT_URL, CliContext
from fedops.cli.plugins import add_plugin_commands

app = typer.Typer(
    name="fedops",
    help="Operate a fedops federated-learning platform: tasks, FL servers, clients, models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(task.app, name="task")
app.add_typer(server.app, name="server")
app.add_typer(client.app, name="client")
app.add_typer(model.app, name="model")
add_plugin_commands(app)  # `fedops up`, from fedops-services when it is installed


@app.callback()
def _global(
    ctx: typer.Context,
    url: Annotated[str, typer.Option(envvar="FEDOPS_URL", help="Base URL of the fedops API.")] = DEFAULT_URL,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="FEDOPS_TOKEN",
            help="Admin token (default for loopback URLs only: the one `fedops up` generated in ./.fedops).",
            show_default=False,
        ),
    ] = None,
) -> None:
    ctx.obj = CliContext(url=url, token=token)


def main() -> None:
    app()
