"""The cache of recently seen credentials: expiry, its bound, and revocation on commit."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from fedops_services.security import CredentialCache, Principal, Role

CLIENT = Principal(Role.CLIENT, task_id="task", client_id="edge-1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl() -> None:
    clock = FakeClock()
    cache = CredentialCache(1.0, timer=clock)

    cache.remember("hash", CLIENT, read_at_generation=cache.generation())
    clock.now += 0.9
    fresh = cache.get("hash")
    clock.now += 0.2
    stale = cache.get("hash")

    assert (fresh, stale) == (CLIENT, None)


def test_a_zero_ttl_caches_nothing() -> None:
    cache = CredentialCache(0.0)

    cache.remember("hash", CLIENT, read_at_generation=cache.generation())

    assert cache.get("hash") is None


def test_a_full_cache_drops_the_least_recently_used() -> None:
    cache = CredentialCache(60.0, max_entries=2)

    for key in ("a", "b"):
        cache.remember(key, CLIENT, read_at_generation=cache.generation())
    cache.get("a")
    cache.remember("c", CLIENT, read_at_generation=cache.generation())

    assert [cache.get(k) for k in ("a", "b", "c")] == [CLIENT, None, CLIENT]


def test_revoke_all_forgets_every_credential() -> None:
    cache = CredentialCache()
    cache.remember("a", CLIENT, read_at_generation=cache.generation())
    cache.remember("b", Principal(Role.SERVER, task_id="task"), read_at_generation=cache.generation())

    cache.revoke_all()

    assert [cache.get(k) for k in ("a", "b")] == [None, None]


def test_revoking_after_commit_waits_for_the_commit_and_a_rollback_revokes_nothing() -> None:
    cache = CredentialCache()
    engine = create_engine("sqlite://")
    cache.remember("hash", CLIENT, read_at_generation=cache.generation())

    with Session(engine) as session:
        with session.begin():
            cache.revoke_all_after_commit(session)
            before_commit = cache.get("hash")
        after_commit = cache.get("hash")

    cache.remember("hash", CLIENT, read_at_generation=cache.generation())
    with Session(engine) as session:
        session.begin()
        cache.revoke_all_after_commit(session)
        session.rollback()
        after_rollback = cache.get("hash")

    assert (before_commit, after_commit, after_rollback) == (CLIENT, None, CLIENT)


def test_a_lookup_that_read_before_a_revocation_is_not_remembered() -> None:
    """The race a request loses to a revocation: it reads the old row, the revocation
    commits and clears the cache, then the request would cache the old principal."""
    cache = CredentialCache(ttl_seconds=60)
    before_reading = cache.generation()
    cache.revoke_all()  # lands between the database read and remember()
    cache.remember("hash", CLIENT, read_at_generation=before_reading)
    assert cache.get("hash") is None

    cache.remember("hash", CLIENT, read_at_generation=cache.generation())  # a fresh read is kept
    assert cache.get("hash") == CLIENT
