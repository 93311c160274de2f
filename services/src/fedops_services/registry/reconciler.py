"""The background loop that keeps every server as the database describes it."""

from __future__ import annotations

import logging
import threading

from fedops_services.registry.servers import ServerService

__all__ = ["Reconciler"]

logger = logging.getLogger(__name__)


class Reconciler:
    """Runs ``reconcile_all`` once at start (re-attach before serving), then every interval."""

    def __init__(self, servers: ServerService, interval_seconds: float) -> None:
        self._servers = servers
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fedops-reconciler", daemon=True)

    def start(self) -> None:
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
            self._servers.reconcile_all()
        except Exception:  # the loop must survive a bad pass; the next one retries
            logger.exception("reconcile pass failed")
