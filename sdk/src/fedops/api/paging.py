"""Walk every page of a list endpoint (they all page the same way: limit, offset, count)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, TypeVar

__all__ = ["MAX_LIMIT", "all_pages"]

MAX_LIMIT = 500  # the largest page the services answer

T = TypeVar("T", covariant=True)


class Page(Protocol[T]):
    @property
    def data(self) -> Sequence[T]: ...

    @property
    def count(self) -> int: ...


def all_pages(fetch: Callable[[int, int], Page[T]], *, limit: int = MAX_LIMIT) -> Iterator[T]:
    """Every item, ``fetch(limit, offset)`` one page at a time.

    Ends at the first short page or once ``count`` items were seen, whichever is first,
    so rows added or removed meanwhile cannot make it loop forever.
    """
    offset = 0
    while True:
        page = fetch(limit, offset)
        yield from page.data
        offset += len(page.data)
        if len(page.data) < limit or offset >= page.count:
            return
