"""Wires settings, database, provisioner, stores and services together."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from fedops_services.artifacts import ArtifactDirectory
from fedops_services.config import Settings
from fedops_services.db import (
    autocommit_reads,
    database_answers,
    make_engine,
    make_session_factory,
    upgrade_to_head,
)
from fedops_services.metrics import Metrics, PerClient
from fedops_services.monitoring.artifacts import ArtifactService
from fedops_services.monitoring.checkpoints import CheckpointService
from fedops_services.monitoring.reports import ReportService
from fedops_services.provisioners import Provisioner, make_provisioner
from fedops_services.registry.clients import ClientService
from fedops_services.registry.models import ModelVersionService
from fedops_services.registry.reconciler import Reconciler
from fedops_services.registry.servers import ServerService
from fedops_services.registry.tasks import TaskService
from fedops_services.security import CredentialCache
from fedops_services.security.authenticator import Authenticator
from fedops_services.security.sessions import ConsoleSessions

__all__ = ["ADMIN_TOKEN_FILE", "Services", "build_services", "prepare_data_dir", "resolve_admin_token"]

logger = logging.getLogger(__name__)

ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    provisioner: Provisioner
    auth: Authenticator
    console_sessions: ConsoleSessions
    tasks: TaskService
    servers: ServerService
    reconciler: Reconciler
    clients: ClientService
    models: ModelVersionService
    reports: ReportService
    artifacts: ArtifactService
    checkpoints: CheckpointService
    metrics: Metrics

    def check_database(self) -> None:
        """Raises when the database does not answer (readiness)."""
        database_answers(self.engine)

    def close(self) -> None:
        self.provisioner.close()
        self.engine.dispose()


def resolve_admin_token(settings: Settings) -> str:
    """FEDOPS_ADMIN_TOKEN, or in the embedded default a generated one kept in data_dir.

    Outside the embedded default a missing token is a start-up error: a shared database
    must never be reachable with a token nobody chose.
    """
    if settings.admin_token is not None:
        token = settings.admin_token.get_secret_value()
        if len(token) < 16:
            raise SystemExit("FEDOPS_ADMIN_TOKEN must be at least 16 characters")
        return token
    if not settings.embedded:
        raise SystemExit(
            "FEDOPS_ADMIN_TOKEN is required when FEDOPS_DATABASE_URL is set; "
            "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    path = settings.data_dir / ADMIN_TOKEN_FILE
    if not path.exists():
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # as prepare_data_dir
        _write_secret(path, f"fedops_adm_{secrets.token_urlsafe(32)}")
        logger.warning("generated an admin token; it is in %s (readable by you only)", path.resolve())
    else:
        logger.info("admin token: %s", path.resolve())
    return path.read_text().strip()


def _write_secret(path: Path, value: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")


def prepare_data_dir(settings: Settings) -> None:
    """Create the data dir for its owner alone, and the embedded SQLite file likewise.

    It holds the database (credential hashes, every task's data), XAI images, the servers'
    data and logs: nobody else on the machine has a reason to read them. A directory that
    already exists is the operator's (it may be a shared volume): it is left as it is, with
    a warning when group or others may enter it.
    """
    directory = settings.data_dir
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    else:
        mode = stat.S_IMODE(directory.stat().st_mode)
        if mode & 0o077:
            logger.warning(
                "the data dir %s is open to group or others (mode %o); it holds the database, "
                "XAI images and servers' data: chmod 700 %s",
                directory.resolve(),
                mode,
                directory.resolve(),
            )
    if settings.embedded:
        database = directory / "fedops.db"
        # Created here, before SQLite does (0644 under a usual umask); SQLite gives its -wal
        # and -shm files the database file's permissions. One written by an older version
        # is ours as well, and is narrowed.
        try:
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            if stat.S_IMODE(database.stat().st_mode) & 0o077:
                database.chmod(0o600)


def build_services(settings: Settings, *, provisioner: Provisioner | None = None) -> Services:
    prepare_data_dir(settings)
    admin_token = resolve_admin_token(settings)
    url = settings.resolved_database_url
    if settings.migrate_on_start:
        upgrade_to_head(url)
    engine = make_engine(url, pool_size=settings.db_pool_size)
    reads = autocommit_reads(engine)
    sessions = make_session_factory(engine)
    provisioner = provisioner or make_provisioner(settings)
    artifact_files = ArtifactDirectory(settings.artifact_dir)
    # The Authenticator fills it; the services that replace or delete credentials revoke it.
    credentials = CredentialCache()
    auth = Authenticator(reads, admin_token, credentials)
    reconciler = Reconciler(sessions, provisioner, settings, credentials)
    heartbeat_timeout = timedelta(seconds=settings.heartbeat_timeout_seconds)
    # Monitoring derives the FL metrics from what it stores: one scrape target per installation.
    metrics = Metrics(
        reads,
        heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds,
        database_state=settings.metrics_fl and "monitoring" in settings.components,
        per_client=PerClient(settings.metrics_client_series_limit) if settings.metrics_per_client else None,
    )
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        provisioner=provisioner,
        auth=auth,
        console_sessions=ConsoleSessions(sessions, reads, admin_token, settings.session_ttl_seconds),
        tasks=TaskService(
            sessions, reconciler, credentials, artifact_files, heartbeat_timeout=heartbeat_timeout
        ),
        servers=ServerService(sessions, provisioner, reconciler, heartbeat_timeout=heartbeat_timeout),
        reconciler=reconciler,
        clients=ClientService(sessions, reads, settings, credentials),
        models=ModelVersionService(sessions),
        reports=ReportService(sessions, metrics.reports_ingested, extract_values=settings.metrics_fl),
        artifacts=ArtifactService(sessions, artifact_files, settings.max_artifact_bytes),
        # Staged next to the artifact files (the same volume), so storing one is a rename.
        checkpoints=CheckpointService(sessions, artifact_files, settings.data_dir / "checkpoint-uploads"),
        metrics=metrics,
    )
