"""What several routers share: the documented error responses and the paging contract."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from fedops.api.schemas import ErrorPublic

__all__ = ["DEFAULT_LIMIT", "ERRORS", "MAX_LIMIT", "Limit", "Offset"]

# Every list endpoint pages the same way: ``limit`` (default 100, at most 500) items from
# ``offset``, answered as ``{data, count}`` where ``count`` is the total that match.
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"At most this many items (1-{MAX_LIMIT}).")]
Offset = Annotated[int, Query(ge=0, description="Skip this many items first.")]

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
