"""The two kinds of wire model every resource's schemas derive from, and shared limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = [
    "DB_INT_MAX",
    "JSON_INT_MAX",
    "ResponseModel",
    "WireModel",
]

# The largest integer the database's integer columns hold (PostgreSQL INTEGER, signed 32
# bits). Counts and rounds beyond it are refused as invalid instead of failing in the database.
DB_INT_MAX = 2**31 - 1
# Byte counts are stored in JSON: the largest integer every JSON parser reads exactly.
JSON_INT_MAX = 2**53 - 1


class WireModel(BaseModel):
    """What the services validate (request bodies, and models shared by requests and
    answers): an unknown field is refused, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    """What the services only answer with: unknown fields are ignored, so a newer server
    that adds a field does not break an older client. (The typed clients also parse every
    answer with ``extra="ignore"``, which reaches the shared models nested inside.)"""

    model_config = ConfigDict(extra="ignore")
