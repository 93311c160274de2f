"""Global model versions: the FL server registers one per checkpoint."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from fedops.api.schemas import ModelVersionCreate, ModelVersionPublic, ModelVersionsPublic
from fedops_services.errors import ErrorCode, FedopsError
from fedops_services.registry.common import load_task
from fedops_services.registry.views import model_version_public
from fedops_services.security import Principal, Role
from fedops_services.store import models as model_store

__all__ = ["ModelVersionService"]


class ModelVersionService:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def register(self, principal: Principal, task_id: str, request: ModelVersionCreate) -> ModelVersionPublic:
        try:
            with self._sessions.begin() as session:
                load_task(session, principal, task_id, Role.SERVER, for_update=True)
                row = model_store.insert_model_version(
                    session,
                    task_id,
                    round=request.round,
                    checkpoint_uri=request.checkpoint_uri,
                    meta=request.metadata,
                )
                return model_version_public(row)
        except IntegrityError as exc:  # two registrations raced for the same number
            raise FedopsError(
                ErrorCode.INVALID_STATE, "another model version was registered at the same time; retry"
            ) from exc

    def list_versions(self, principal: Principal, task_id: str) -> ModelVersionsPublic:
        with self._sessions() as session:
            load_task(session, principal, task_id, Role.CLIENT, Role.SERVER)
            rows = model_store.list_model_versions(session, task_id)
            return ModelVersionsPublic(data=[model_version_public(r) for r in rows], count=len(rows))

    def latest(self, principal: Principal, task_id: str) -> ModelVersionPublic:
        with self._sessions() as session:
            load_task(session, principal, task_id, Role.CLIENT, Role.SERVER)
            row = model_store.latest_model_version(session, task_id)
            if row is None:
                raise FedopsError(
                    ErrorCode.MODEL_VERSION_NOT_FOUND, f"task {task_id!r} has no global model version yet"
                )
            return model_version_public(row)
