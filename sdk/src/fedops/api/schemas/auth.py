"""``/api/v1/whoami``: what a presented credential is."""

from __future__ import annotations

from typing import Literal

from fedops.api.schemas.base import ResponseModel

__all__ = [
    "WhoAmI",
]


class WhoAmI(ResponseModel):
    """What the presented credential is."""

    role: Literal["admin", "client", "server", "enrollment"]
    task_id: str | None
    client_id: str | None
