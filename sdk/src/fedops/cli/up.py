"""``fedops up``: registry and monitoring on one origin, the embedded default."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from fedops.cli.output import fail


def up(
    data_dir: Annotated[
        Path, typer.Option(envvar="FEDOPS_DATA_DIR", help="Database, artifacts and server data.")
    ] = Path(".fedops"),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the fedops services (SQLite and local servers unless FEDOPS_* settings say otherwise)."""
    try:
        import uvicorn

        from fedops_services.app import create_app
        from fedops_services.config import Settings
    except ImportError:
        raise fail("`fedops up` needs the fedops-services package: pip install fedops-services") from None

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    api_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    settings = Settings(
        data_dir=data_dir, api_url=os.environ.get("FEDOPS_API_URL", f"http://{api_host}:{port}")
    )
    typer.echo(f"fedops API on http://{host}:{port} (docs at /docs), data in {data_dir.resolve()}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, access_log=False)
