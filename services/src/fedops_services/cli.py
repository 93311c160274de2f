"""``fedops-services``: run the fedops services (``up``) and migrate their database (``migrate``).

The admin CLI of the SDK never imports this package. It offers ``fedops up`` by finding
``up`` in the ``fedops.cli`` entry-point group this distribution declares (see
services/pyproject.toml), so ``fedops up`` and ``fedops-services up`` are one command.

Importing this module stays cheap (typer only): ``fedops --help`` loads it to list ``up``,
so the web stack and the database layer are imported when a command runs, not before.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app", "main", "migrate", "up"]

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

app = typer.Typer(
    name="fedops-services",
    help="The fedops services: registry and monitoring APIs, and their database.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command()
def up(
    data_dir: Annotated[
        Path, typer.Option(envvar="FEDOPS_DATA_DIR", help="Database, artifacts and server data.")
    ] = Path(".fedops"),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the fedops services (SQLite and local servers unless FEDOPS_* settings say otherwise)."""
    import uvicorn

    from fedops_services.app import create_app
    from fedops_services.config import Settings

    logging.basicConfig(level=log_level.upper(), format=_LOG_FORMAT)
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    api_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    settings = Settings(data_dir=data_dir)
    prefix = settings.path_prefix  # local FL servers call the API where it answers: under it
    if "FEDOPS_API_URL" not in os.environ:
        settings = settings.model_copy(update={"api_url": f"http://{api_host}:{port}{prefix}"})
    typer.echo(
        f"fedops API on http://{host}:{port}{prefix} (console at {prefix}/, "
        f"OpenAPI at {prefix}/openapi.json), data in {data_dir.resolve()}"
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, access_log=False)


@app.command()
def migrate(
    wait_seconds: Annotated[
        float,
        typer.Option(
            envvar="FEDOPS_MIGRATE_WAIT_SECONDS",
            help="How long to wait for the database to accept connections (a Job may start first).",
        ),
    ] = 120.0,
) -> None:
    """Migrate the database of the FEDOPS_* settings to the newest schema (the chart's Job)."""
    from fedops_services.db.migrate import migrate_configured_database

    logging.basicConfig(level=logging.INFO, format=_LOG_FORMAT)
    migrate_configured_database(wait_seconds)


def main() -> None:
    app()
