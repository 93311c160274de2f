"""Run the Alembic migrations from code (``fedops up``, tests, the chart's migration Job)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import fedops_services

__all__ = ["alembic_config", "migrations_dir", "upgrade_to_head"]


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
