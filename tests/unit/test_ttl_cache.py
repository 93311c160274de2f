"""The expiring cache behind the poll and credential lookups."""

from __future__ import annotations

from fedops_services.ttl_cache import TtlCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl() -> None:
    clock = FakeClock()
    cache: TtlCache[str, int] = TtlCache(1.0, clock=clock)

    cache.put("task", 1)
    clock.now += 0.9
    fresh = cache.get("task")
    clock.now += 0.2
    stale = cache.get("task")

    assert (fresh, stale) == (1, None)


def test_a_zero_ttl_caches_nothing() -> None:
    cache: TtlCache[str, int] = TtlCache(0.0)

    cache.put("task", 1)

    assert cache.get("task") is None


def test_a_full_cache_starts_over() -> None:
    cache: TtlCache[int, int] = TtlCache(60.0, max_entries=2)

    for key in range(3):
        cache.put(key, key)

    assert [cache.get(k) for k in range(3)] == [None, None, 2]
