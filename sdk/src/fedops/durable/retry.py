"""Retrying without hammering and without flooding the log.

Neither ``tenacity`` nor ``backoff`` is in the lock, and both want to own the retry loop;
the spool's loop must also wake on new work and stop on request, so these two small
pieces are all it needs.
"""

from __future__ import annotations

import logging
import random

__all__ = ["Backoff", "FailureLog"]


class Backoff:
    """Bounded exponential backoff with "equal jitter": half of each delay is fixed and half
    random, so machines that lost the server together do not come back in lockstep, and
    no delay is ever near zero or above ``maximum``."""

    def __init__(self, initial: float, maximum: float) -> None:
        if not 0 < initial <= maximum:
            raise ValueError(f"need 0 < initial <= maximum, got {initial} and {maximum}")
        self.initial = initial
        self.maximum = maximum
        self.failures = 0

    def failed(self) -> float:
        """Seconds to wait before the next attempt."""
        # The exponent is capped so the float never overflows after days of failures.
        ceiling = min(self.maximum, self.initial * 2.0 ** min(self.failures, 60))
        self.failures += 1
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret

    def succeeded(self) -> None:
        self.failures = 0


class FailureLog:
    """Logs the first failure of each kind during an outage, then once that it is over.

    A retry loop that logs every attempt buries the one line that matters; one that
    logs nothing fails silently. Kinds are short strings ("HTTP 500 internal_error",
    "unreachable (ReadTimeout)", an exception's class name).
    """

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._logger = logger
        self._what = what
        self._kinds: list[str] = []
        self.attempts_failed = 0

    @property
    def failing(self) -> bool:
        return bool(self._kinds)

    def failed(self, kind: str, message: str, *, traceback: BaseException | None = None) -> None:
        self.attempts_failed += 1
        if kind in self._kinds:
            self._logger.debug("%s failed again (%s)", self._what, kind)
            return
        self._kinds.append(kind)
        self._logger.warning(
            "%s failed (%s): %s; retrying with backoff, logged once per kind of failure",
            self._what,
            kind,
            message,
            exc_info=traceback,
        )

    def recovered(self, detail: str) -> None:
        if not self._kinds:
            return
        self._logger.warning(
            "%s recovered after %d failed attempt(s) (%s); %s",
            self._what,
            self.attempts_failed,
            ", ".join(self._kinds),
            detail,
        )
        self._kinds.clear()
        self.attempts_failed = 0
