"""Run the Alembic migrations from code (``fedops-services up`` and ``fedops-services migrate``)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

import fedops_services

__all__ = [
    "alembic_config",
    "migrate_configured_database",
    "migrations_dir",
    "upgrade_to_head",
    "wait_for_database",
]

logger = logging.getLogger(__name__)


def migrations_dir() -> Path:
    """The Alembic environment: bundled in a wheel, or ``migrations/`` of a checkout."""
    package = Path(fedops_services.__file__).resolve().parent
    bundled = package / "_migrations"
    if bundled.is_dir():
        return bundled
    checkout = package.parents[2] / "migrations"
    if checkout.is_dir():
        return checkout
    raise RuntimeError(f"no Alembic migrations found next to {package}")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


def wait_for_database(database_url: str, timeout_seconds: float) -> None:
    """Block until the database accepts connections (the chart's Job may start first)."""
    engine = create_engine(database_url)
    deadline = time.monotonic() + timeout_seconds
    try:
        while True:
            try:
                with engine.connect():
                    return
            except OperationalError as exc:
                if time.monotonic() >= deadline:
                    raise SystemExit(
                        f"the database is not reachable after {timeout_seconds:.0f} s: {exc}"
                    ) from None
                logger.info("waiting for the database: %s", exc.__class__.__name__)
                time.sleep(2.0)
    finally:
        engine.dispose()


def migrate_configured_database(wait_seconds: float) -> None:
    """Migrate the database of the FEDOPS_* settings to head, once it accepts connections."""
    from fedops_services.config import Settings

    url = Settings().resolved_database_url
    wait_for_database(url, wait_seconds)
    upgrade_to_head(url)
    logger.info("the database schema is at head")
