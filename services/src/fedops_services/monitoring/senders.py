"""Who sent a report or an artifact: the key its ids are unique under."""

from __future__ import annotations

from fedops_services.security import Principal, Role

__all__ = ["sender_of"]


def sender_of(principal: Principal) -> str:
    """From the credential alone, never from what the body claims: a client's id, ``server`` or ``admin``.

    Ids are unique per sender, so nobody can take an id another sender will use.
    """
    if principal.role is Role.CLIENT and principal.client_id is not None:
        return principal.client_id
    return principal.role.value
