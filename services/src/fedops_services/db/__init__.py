"""Database layer: tables, engine, migrations."""

from fedops_services.db.engine import (
    autocommit_reads,
    database_answers,
    make_engine,
    make_session_factory,
)
from fedops_services.db.migrate import upgrade_to_head

__all__ = [
    "autocommit_reads",
    "database_answers",
    "make_engine",
    "make_session_factory",
    "upgrade_to_head",
]
