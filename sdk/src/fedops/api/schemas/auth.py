"""``/api/v1/whoami`` (what a presented credential is) and ``/api/v1/session`` (console sign-in)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fedops.api.schemas.base import ResponseModel

__all__ = [
    "SessionPublic",
    "WhoAmI",
]


class WhoAmI(ResponseModel):
    """What the presented credential is."""

    role: Literal["admin", "client", "server", "enrollment"]
    task_id: str | None
    client_id: str | None


class SessionPublic(ResponseModel):
    """A web console session. Its secret travels only in the HttpOnly ``fedops_session``
    cookie; the page sends ``csrf_token`` back as ``X-CSRF-Token`` on every request that
    changes something."""

    csrf_token: str
    expires_at: datetime
    role: Literal["admin"]
