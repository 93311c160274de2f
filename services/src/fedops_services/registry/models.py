"""Global model versions: the FL server registers one per checkpoint."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from fedops.api.schemas import ModelVersionCreate, ModelVersionPublic, ModelVersionsPublic
from fedops_services.access import load_task
from fedops_services.errors import ErrorCode, FedopsError
from fedops_services.registry.views import model_version_public
from fedops_services.security import Principal, Role
from fedops_services.store import models as model_store

__all__ = ["ModelVersionService"]


class ModelVersionService:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def register(
        self, principal: Principal, task_id: str, request: ModelVersionCreate
    ) -> tuple[ModelVersionPublic, bool]:
        """Returns (version, created). Idempotent: the FL server retries a registration whose
        answer it did not get (it crashed, or the registry was away), and the same round,
        checkpoint and metadata give back the version registered the first time."""
        try:
            with self._sessions.begin() as session:
                load_task(session, principal, task_id, Role.SERVER, for_update=True)
                round, uri, meta = request.round, request.checkpoint_uri, request.metadata
                existing = model_store.find_model_version(
                    session, task_id, round=round, checkpoint_uri=uri, meta=meta
                )
                if existing is not None:
                    return model_version_public(existing), False
                row = model_store.insert_model_version(
                    session, task_id, round=round, checkpoint_uri=uri, meta=meta
                )
                return model_version_public(row), True
        except IntegrityError as exc:  # two registrations raced for the same number
            raise FedopsError(
                ErrorCode.INVALID_STATE, "another model version was registered at the same time; retry"
            ) from exc

    def list_versions(
        self, principal: Principal, task_id: str, *, limit: int, offset: int
    ) -> ModelVersionsPublic:
        with self._sessions() as session:
            load_task(session, principal, task_id, Role.CLIENT, Role.SERVER)
            rows, count = model_store.list_model_versions(session, task_id, limit=limit, offset=offset)
            return ModelVersionsPublic(data=[model_version_public(r) for r in rows], count=count)

    def latest(self, principal: Principal, task_id: str) -> ModelVersionPublic:
        with self._sessions() as session:
            load_task(session, principal, task_id, Role.CLIENT, Role.SERVER)
            row = model_store.latest_model_version(session, task_id)
            if row is None:
                raise FedopsError(
                    ErrorCode.MODEL_VERSION_NOT_FOUND, f"task {task_id!r} has no global model version yet"
                )
            return model_version_public(row)
