"""A durable, ordered outbox for what is sent to monitoring: an edge client's reports and
explanation images, an FL server's round results.

Every report and explanation image is written to disk first, then delivered in order.
If monitoring is unreachable, items wait in the spool (surviving a client restart) and
go out with the next successful flush. Reports carry a client-made id and artifacts an
artifact id, so a delivery retried after a lost answer is stored once by the server.

Crash safety: every file appears by an atomic rename, and every step leaves a state the
next start copes with. An artifact's image ``N.bin`` is written before its entry
``N.json``, and after delivery the entry is deleted before the image, so an entry never
names a missing image; a crash leaves at most a stray image or ``.part`` file (swept at
start) or a delivered entry (sent again, harmless by its id).

Concurrency: adding an item touches only local files under a short lock; delivery runs
under its own lock and never holds the first one, so training never waits on the network.
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
from fedops.durable.files import TEMPORARY_SUFFIX, atomic_write, sync_directory
from fedops.durable.retry import Backoff, FailureLog

__all__ = ["Spool"]

logger = logging.getLogger(__name__)

_MAX_REPORTS_PER_BATCH = 500


class _UnreadableError(Exception):
    """An entry that can never be delivered as it is (corrupt, or its image is gone)."""


class Spool:
    def __init__(
        self,
        directory: Path,
        deliver: Callable[[list[dict[str, Any]]], object],
        upload: Callable[[dict[str, str], bytes], object],
        *,
        retry_initial_seconds: float = 1.0,
        retry_max_seconds: float = 60.0,
    ) -> None:
        """``deliver`` sends a batch of report bodies, ``upload`` one image. Whatever they
        raise is caught: an ApiError with a 4xx refusal from fedops sets the item aside,
        anything else (5xx, unreachable, a bad answer, a bug) is retried with backoff."""
        self.directory = directory
        self.rejected = directory / "rejected"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._deliver_reports = deliver
        self._upload = upload
        self._retry = (retry_initial_seconds, retry_max_seconds)
        Backoff(*self._retry)  # refuse nonsense now, not in the worker
        self._lock = threading.Lock()  # the sequence and adding files; never held across I/O to the network
        self._delivering = threading.Lock()  # one delivery at a time (worker, wake(), a final flush())
        self._wakeup = threading.Event()
        self._worker: threading.Thread | None = None
        self._failures = FailureLog(logger, "delivery to monitoring")
        self.last_flush_seconds = 0.0  # how long the last delivery took (reported as "upload")
        self._sequence = self._recover()

    # --- adding (the trainer's side: local disk only) --------------------------------------------

    def add_report(self, body: dict[str, Any]) -> None:
        with self._lock:
            self._sequence += 1
            self._write_entry(self._sequence, {"kind": "report", "body": body})

    def add_artifact(self, fields: dict[str, str], content: bytes) -> None:
        with self._lock:
            self._sequence += 1
            image = self.directory / f"{self._sequence:012d}.bin"
            atomic_write(image, content)  # before the entry that names it
            self._write_entry(self._sequence, {"kind": "artifact", "fields": fields, "file": image.name})

    def pending(self) -> int:
        """The backlog: items written and neither delivered nor set aside."""
        return len(self._pending())

    # --- delivering ------------------------------------------------------------------------------

    def wake(self) -> None:
        """Deliver soon: in the background worker if one runs, else right now."""
        if self._worker is None:
            self.flush()
        else:
            self._wakeup.set()

    def deliver_in_background(self, stop: threading.Event, interval: float) -> threading.Thread:
        """Deliver on every ``wake()`` and at least every ``interval`` seconds until ``stop``.

        Training does not wait for uploads: a round's report and images leave while the
        next message is already being served. After a failed delivery the worker backs off
        (a wake-up does not cut the wait short, so new items do not hammer a server that is
        down); it never exits before ``stop``, whatever a delivery raises.
        """
        self._worker = threading.Thread(target=self._loop, args=(stop, interval), name="spool", daemon=True)
        self._worker.start()
        return self._worker

    def _loop(self, stop: threading.Event, interval: float) -> None:
        backoff = Backoff(*self._retry)
        delay: float | None = None
        while not stop.is_set():
            if delay is None:
                self._wakeup.wait(interval)
            else:
                stop.wait(delay)
            if stop.is_set():
                return
            self._wakeup.clear()  # this pass takes everything added so far
            try:
                delivered = self.flush()
            except Exception:  # flush() catches everything; this guards against the guard failing
                logger.exception("the spool worker hit an unexpected error; it keeps going")
                delivered = False
            if delivered:
                backoff.succeeded()
                delay = None
            else:
                delay = backoff.failed()

    def flush(self) -> bool:
        """Deliver pending items in order; False if something is still waiting. Never raises."""
        with self._delivering:
            started = time.perf_counter()
            try:
                return self._flush()
            except Exception as exc:  # e.g. a full or read-only disk: the items stay, retry later
                self._failures.failed(type(exc).__name__, str(exc), traceback=exc)
                return False
            finally:
                self.last_flush_seconds = time.perf_counter() - started

    def _flush(self) -> bool:
        items = sorted(self._pending())
        index, batch_limit = 0, _MAX_REPORTS_PER_BATCH
        while index < len(items):
            try:
                entry = self._read(items[index])
                if entry["kind"] == "report":
                    batch, bodies = self._report_batch(items, index, entry, batch_limit)
                    self._deliver_reports(bodies)
                else:
                    batch = [items[index]]
                    self._upload(entry["fields"], (self.directory / entry["file"]).read_bytes())
            except _UnreadableError as exc:
                self._set_aside(items[index], f"it cannot be sent as it is: {exc}")
                index += 1
                continue
            except ApiError as exc:
                if not _refused_for_good(exc):
                    self._failures.failed(_failure_kind(exc), exc.message, traceback=None)
                    return False
                if entry["kind"] == "report" and batch_limit > 1:
                    batch_limit = 1  # find the refused report: send one at a time
                    continue
                self._set_aside(items[index], f"monitoring refused it ({exc.code}: {exc.message})")
                index += 1
                continue
            except Exception as exc:  # not an answer we know: maybe a bug; keep the item, retry
                self._failures.failed(type(exc).__name__, str(exc) or repr(exc), traceback=exc)
                return False
            for path in batch:
                self._remove(path)
            index += len(batch)
            self._failures.recovered(f"{len(items) - index} item(s) left in this pass")
        return True

    def _report_batch(
        self, items: list[Path], index: int, first: dict[str, Any], limit: int
    ) -> tuple[list[Path], list[dict[str, Any]]]:
        """Consecutive readable reports from ``index``, at most ``limit``."""
        batch, bodies = [items[index]], [first["body"]]
        while len(batch) < limit and index + len(batch) < len(items):
            try:
                following = self._read(items[index + len(batch)])
            except _UnreadableError:
                break  # it is set aside when the loop reaches it
            if following["kind"] != "report":
                break
            batch.append(items[index + len(batch)])
            bodies.append(following["body"])
        return batch, bodies

    # --- files -----------------------------------------------------------------------------------

    def _pending(self) -> list[Path]:
        return list(self.directory.glob("*.json"))

    def _write_entry(self, sequence: int, entry: dict[str, Any]) -> None:
        atomic_write(self.directory / f"{sequence:012d}.json", json.dumps(entry).encode())

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            entry = json.loads(path.read_bytes())
            kind = entry["kind"]
            if kind == "report":
                if not isinstance(entry["body"], dict):
                    raise TypeError("the report is not an object")
            elif kind == "artifact":
                if not (self.directory / entry["file"]).is_file():
                    raise FileNotFoundError(f"its image {entry['file']} is missing")
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _UnreadableError(f"{type(exc).__name__}: {exc}") from exc
        result: dict[str, Any] = entry
        return result

    def _remove(self, entry_path: Path) -> None:
        """Entry first, then its image: a crash in between leaves a stray image (swept at the
        next start), never an entry whose image is gone."""
        image = entry_path.with_suffix(".bin")
        entry_path.unlink(missing_ok=True)
        if image.exists():
            sync_directory(self.directory)  # the entry's removal is on disk before the image's
            image.unlink(missing_ok=True)

    def _set_aside(self, entry_path: Path, why: str) -> None:
        self.rejected.mkdir(exist_ok=True)
        image = entry_path.with_suffix(".bin")
        entry_path.replace(self.rejected / entry_path.name)  # entry first, as in _remove
        if image.exists():
            image.replace(self.rejected / image.name)
        logger.warning("a spooled item was set aside, %s; kept in %s", why, self.rejected)

    def _recover(self) -> int:
        """Clean up after a crash; return the last sequence number in use."""
        for partial in self.directory.glob(f"*{TEMPORARY_SUFFIX}"):
            partial.unlink(missing_ok=True)  # a write that never completed: its item was never added
        for image in self.directory.glob("*.bin"):
            if not image.with_suffix(".json").exists():
                image.unlink(missing_ok=True)  # added without its entry, or delivered before the crash
        used = [*self.directory.glob("*.json"), *self.directory.glob("*.bin")]
        if self.rejected.is_dir():
            used += self.rejected.iterdir()  # new items must not take a set-aside item's name
        numbers = [int(path.stem) for path in used if path.stem.isdigit()]
        return max(numbers, default=0)


def _refused_for_good(exc: ApiError) -> bool:
    """A 4xx from fedops itself means this item will never be accepted. 401/408/429 pass
    with time, and an answer not in fedops' error shape (``http_error``: a proxy, a wrong
    URL) says nothing about the item."""
    return 400 <= exc.status < 500 and exc.status not in (401, 408, 429) and exc.code != "http_error"


def _failure_kind(exc: ApiError) -> str:
    if exc.status == 0:  # refused, reset, timed out: the transport error says which
        cause = exc.__cause__
        return f"unreachable ({type(cause).__name__})" if cause is not None else "unreachable"
    return f"HTTP {exc.status} {exc.code}"
