"""A durable, ordered outbox for what a client sends to monitoring.

Every report and explanation image is written to disk first, then delivered in order.
If monitoring is unreachable, items wait in the spool (surviving a client restart) and
go out with the next successful flush. Reports carry a client-made id and artifacts an
artifact id, so a delivery retried after a lost answer is stored once by the server.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fedops.api import ApiError
from fedops.files import atomic_write

__all__ = ["Spool"]

logger = logging.getLogger(__name__)

_MAX_REPORTS_PER_BATCH = 500


class Spool:
    def __init__(
        self,
        directory: Path,
        deliver: Callable[[list[dict[str, Any]]], object],
        upload: Callable[[dict[str, str], bytes], object],
    ) -> None:
        """``deliver`` sends a batch of report bodies, ``upload`` one image; both raise ApiError."""
        self.directory = directory
        self.rejected = directory / "rejected"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._deliver_reports = deliver
        self._upload = upload
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._worker: threading.Thread | None = None
        self.last_flush_seconds = 0.0  # how long the last delivery took (reported as "upload")
        existing = sorted(self._pending())
        self._sequence = int(existing[-1].stem) if existing else 0

    def add_report(self, body: dict[str, Any]) -> None:
        self._write({"kind": "report", "body": body})

    def add_artifact(self, fields: dict[str, str], content: bytes) -> None:
        with self._lock:
            self._sequence += 1
            image = self.directory / f"{self._sequence:012d}.bin"
            atomic_write(image, content)
            self._write_locked({"kind": "artifact", "fields": fields, "file": image.name})

    def pending(self) -> int:
        return len(self._pending())

    def wake(self) -> None:
        """Deliver soon: in the background worker if one runs, else right now."""
        if self._worker is None:
            self.flush()
        else:
            self._wakeup.set()

    def deliver_in_background(self, stop: threading.Event, interval: float) -> threading.Thread:
        """Deliver on every ``wake()`` and at least every ``interval`` seconds until ``stop``.

        Training does not wait for uploads: a round's report and images leave while the
        next message is already being served.
        """

        def loop() -> None:
            while not stop.is_set():
                self._wakeup.wait(interval)
                self._wakeup.clear()
                if not stop.is_set():
                    self.flush()

        self._worker = threading.Thread(target=loop, name="spool", daemon=True)
        self._worker.start()
        return self._worker

    def flush(self) -> bool:
        """Deliver pending items in order; False if something is still waiting."""
        started = time.perf_counter()
        try:
            return self._flush()
        finally:
            self.last_flush_seconds = time.perf_counter() - started

    def _flush(self) -> bool:
        with self._lock:
            items = sorted(self._pending())
            index, batch_limit = 0, _MAX_REPORTS_PER_BATCH
            while index < len(items):
                entry = json.loads(items[index].read_text())
                try:
                    if entry["kind"] == "report":
                        batch = [items[index]]
                        bodies = [entry["body"]]
                        while len(batch) < batch_limit and index + len(batch) < len(items):
                            following = json.loads(items[index + len(batch)].read_text())
                            if following["kind"] != "report":
                                break
                            batch.append(items[index + len(batch)])
                            bodies.append(following["body"])
                        self._deliver_reports(bodies)
                        done = batch
                    else:
                        image = self.directory / entry["file"]
                        self._upload(entry["fields"], image.read_bytes())
                        done = [items[index]]
                        image.unlink(missing_ok=True)
                except ApiError as exc:
                    if exc.status == 0 or exc.status >= 500 or exc.status in (401, 408, 429):
                        logger.info(
                            "monitoring unreachable (%s); %d item(s) wait in the spool",
                            exc.code,
                            len(items) - index,
                        )
                        return False
                    if entry["kind"] == "report" and batch_limit > 1:
                        batch_limit = 1  # find the refused report: send one at a time
                        continue
                    # The server refused this item for good (e.g. invalid): set it aside, keep going.
                    logger.warning(
                        "monitoring refused a spooled item (%s: %s); kept in %s",
                        exc.code,
                        exc.message,
                        self.rejected,
                    )
                    self.rejected.mkdir(exist_ok=True)
                    items[index].replace(self.rejected / items[index].name)
                    index += 1
                    continue
                for path in done:
                    path.unlink(missing_ok=True)
                index += len(done)
            return True

    def _pending(self) -> list[Path]:
        return list(self.directory.glob("*.json"))

    def _write(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._sequence += 1
            self._write_locked(entry)

    def _write_locked(self, entry: dict[str, Any]) -> None:
        atomic_write(self.directory / f"{self._sequence:012d}.json", json.dumps(entry).encode())
