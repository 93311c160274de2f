"""What several routers share: the documented error responses and the paging contract."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from fedops.api.schemas import DB_INT_MAX, ErrorPublic

__all__ = ["DEFAULT_LIMIT", "ERRORS", "MAX_LIMIT", "SERVER_ERRORS", "Limit", "Offset", "RoundFilter"]

# Every list endpoint pages the same way: ``limit`` (default 100, at most 500) items from
# ``offset``, answered as ``{data, count}`` where ``count`` is the total that match.
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"At most this many items (1-{MAX_LIMIT}).")]
# Bounded by the database's integer range: a larger offset or round would not filter
# anything, it would fail in the database (a 500 on PostgreSQL).
Offset = Annotated[int, Query(ge=0, le=DB_INT_MAX, description="Skip this many items first.")]
RoundFilter = Annotated[int | None, Query(ge=0, le=DB_INT_MAX, description="Only this round.")]

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorPublic, "description": description}
    for status, description in {
        400: "The body could not be decoded (not UTF-8 JSON, a malformed multipart form)",
        401: "Missing or invalid credentials",
        403: "The credential may not do this",
        404: "No such object",
        409: "The object is not in a state that allows this",
        413: "The request body is larger than the limit",
        422: "The request is invalid; details name each field",
    }.items()
}
SERVER_ERRORS: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorPublic, "description": "The provisioner could not act on the server"}
}
