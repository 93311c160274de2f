"""Database tables (SQLAlchemy 2 declarative). Alembic generates migrations from these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ArtifactRow",
    "Base",
    "ClientRow",
    "ConsoleSessionRow",
    "EnrollmentTokenRow",
    "ModelVersionRow",
    "ReportRow",
    "ServerRow",
    "TaskRevisionRow",
    "TaskRow",
    "utcnow",
]

ID_LENGTH = 32  # uuid4().hex
HASH_LENGTH = 64  # sha256 hexdigest
SENDER_LENGTH = ID_LENGTH  # a client id, or "server" / "admin"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


Document = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    # SQLAlchemy reads this class attribute to map annotations to column types.
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: Document}  # noqa: RUF012


class TaskRow(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TaskRevisionRow(Base):
    __tablename__ = "task_revisions"

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class ServerRow(Base):
    """Desired state of a task's FL server (what to reconcile) and what was last observed."""

    __tablename__ = "servers"

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    provisioner: Mapped[str] = mapped_column(String(32))
    replicas: Mapped[int] = mapped_column(Integer)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    resources: Mapped[dict[str, Any]]
    token_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), unique=True)
    ready: Mapped[bool] = mapped_column(Boolean, default=False)
    fleet_address: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text, default="")
    observed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # Restarts observed over the server's life (a counter), and the backend's own count
    # when last observed (a supervisor's or a pod's, which starts again from 0 when replaced).
    # Defaults only in the database: inserts written against older schemas stay valid.
    restarts: Mapped[int] = mapped_column(Integer, server_default="0")
    backend_restarts: Mapped[int] = mapped_column(Integer, server_default="0")
    # When the server's run controller last reached the registry.
    last_seen_at: Mapped[datetime | None]


class EnrollmentTokenRow(Base):
    __tablename__ = "enrollment_tokens"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), unique=True)
    expires_at: Mapped[datetime]
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class ClientRow(Base):
    __tablename__ = "clients"
    __table_args__ = (UniqueConstraint("task_id", "name", name="uq_clients_task_name"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    hostname: Mapped[str] = mapped_column(String(255), default="")
    credential_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), unique=True)
    enrolled_at: Mapped[datetime]
    last_heartbeat_at: Mapped[datetime | None]
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    training: Mapped[bool] = mapped_column(Boolean, default=False)
    global_model_version: Mapped[int | None] = mapped_column(Integer)
    node_public_key: Mapped[str | None] = mapped_column(Text)
    spool_backlog: Mapped[int | None] = mapped_column(Integer)  # as of the last heartbeat


class ModelVersionRow(Base):
    __tablename__ = "model_versions"

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    round: Mapped[int] = mapped_column(Integer)
    checkpoint_uri: Mapped[str] = mapped_column(String(1024))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", Document)
    created_at: Mapped[datetime]
    # Set once monitoring holds the checkpoint's bytes (the FL server uploads them).
    checkpoint_sha256: Mapped[str | None] = mapped_column(String(64))
    checkpoint_size: Mapped[int | None] = mapped_column(BigInteger)
    checkpoint_stored_at: Mapped[datetime | None]


class ReportRow(Base):
    """One ingested report; ``body`` is the validated wire document.

    A report id is unique per (task, kind, sender): the sender is who authenticated (a
    client's id, ``server`` or ``admin``), so nobody can occupy another sender's ids.
    """

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint(
            "task_id", "kind", "sender", "report_id", name="uq_reports_task_kind_sender_report_id"
        ),
        Index("ix_reports_task_kind_round", "task_id", "kind", "round"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    report_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(SENDER_LENGTH))
    round: Mapped[int | None] = mapped_column(Integer)
    client_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    body: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
    # The body's numbers that metrics aggregate, extracted when the report is first
    # stored (store/report_values.py); None where the report has no such number.
    round_seconds: Mapped[float | None]
    round_participants: Mapped[float | None]
    round_failures: Mapped[float | None]
    server_configure_seconds: Mapped[float | None]
    server_wait_seconds: Mapped[float | None]
    server_aggregate_seconds: Mapped[float | None]
    server_evaluate_seconds: Mapped[float | None]
    client_total_seconds: Mapped[float | None]
    examples_trained: Mapped[float | None]
    explanations_generated: Mapped[float | None]
    client_wait_seconds: Mapped[float | None]
    client_load_seconds: Mapped[float | None]
    client_train_seconds: Mapped[float | None]
    client_evaluate_seconds: Mapped[float | None]
    client_xai_seconds: Mapped[float | None]
    client_upload_seconds: Mapped[float | None]


class ArtifactRow(Base):
    """An XAI image's metadata; ``artifact_key`` (the sender's id for it) is unique per sender."""

    __tablename__ = "artifacts"
    __table_args__ = (
        UniqueConstraint("task_id", "sender", "artifact_key", name="uq_artifacts_task_sender_key"),
        Index("ix_artifacts_task_round", "task_id", "round"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    artifact_key: Mapped[str | None] = mapped_column(String(128))
    sender: Mapped[str] = mapped_column(String(SENDER_LENGTH))
    round: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    class_label: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(32))
    layer: Mapped[str] = mapped_column(String(128))
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(HASH_LENGTH))
    faithfulness: Mapped[float | None] = mapped_column(Float)
    storage_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class ConsoleSessionRow(Base):
    """A web console sign-in. Only the hash of the cookie's secret is stored, and a binding
    to the admin token it was opened with (an HMAC keyed by the secret: a changed admin
    token ends every session, and the row alone reveals nothing to guess the token with)."""

    __tablename__ = "console_sessions"

    secret_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), primary_key=True)
    admin_binding: Mapped[str] = mapped_column(String(HASH_LENGTH))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
