"""What several routers share: the documented error responses."""

from __future__ import annotations

from typing import Any

from fedops.api.schemas import ErrorPublic

__all__ = ["ERRORS"]

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorPublic, "description": description}
    for status, description in {
        401: "Missing or invalid credentials",
        403: "The credential may not do this",
        404: "No such object",
        409: "The object is not in a state that allows this",
        422: "The request is invalid; details name each field",
    }.items()
}
