"""Engine and session factory for the configured database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["autocommit_reads", "database_answers", "make_engine", "make_session_factory"]


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip per checkout on the hottest paths. A connection
    # that died with a database restart fails one request and is replaced by the pool.
    # No overflow: connections opened beyond the pool are closed on return, and under
    # load that churn (a backend fork per connect) cost more than waiting for a free one.
    return create_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=30)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a writer commits; foreign keys give the same cascade
    # semantics as Postgres.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def autocommit_reads(engine: Engine) -> Engine:
    """The same pool without transaction statements: single-query reads on hot paths
    (authentication, the client-manager poll) then cost one round trip instead of three."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def database_answers(engine: Engine) -> None:
    """One trivial query: raises when the database cannot be reached (the readiness probe)."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
