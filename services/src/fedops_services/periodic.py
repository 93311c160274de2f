"""Background loops of a services process: run one action every interval.

The registry reconciles servers this way (once before serving as well: re-attach
first); the monitoring component sweeps away XAI files of deleted tasks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Periodic"]

logger = logging.getLogger(__name__)


class Periodic:
    def __init__(
        self,
        name: str,
        action: Callable[[], object],
        interval_seconds: float,
        *,
        before_serving: bool = False,
    ) -> None:
        self._name = name
        self._action = action
        self._interval = interval_seconds
        self._before_serving = before_serving  # one pass in start(), before requests are served
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"fedops-{name}", daemon=True)

    def start(self) -> None:
        if self._before_serving:
            self._pass()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._pass()

    def _pass(self) -> None:
        try:
            self._action()
        except Exception:  # the loop must survive a bad pass; the next one retries
            logger.exception("%s pass failed", self._name)
