"""What the FL server owes the registry and monitoring for each round, kept on its volume.

A round ends in this order (``serverapp``): write the checkpoint file, ``stage`` the
round's record here (its report and the model version to register), commit the
checkpoint pointer, then ``deliver``. A crash anywhere in between is safe:

- before the pointer moves, the round is run again on resume; its staged record belongs
  to an attempt that never counted and is dropped, so only the retry is ever sent;
- after, the record is delivered on resume (``deliver`` runs first thing), however far the
  crashed process got: registration is idempotent on the registry (same round, file and
  hash give the same version) and the report keeps its id, so a resend is a duplicate.

Registration is retried at every round end and at the end of the run until it succeeds;
a report waits for its version (it names it), then leaves through the monitoring spool.
Then the checkpoint's bytes are uploaded to monitoring (where people download them).
Uploads need no order: a round whose upload fails for now keeps its record (registered
and reported, as noted on disk) and later rounds go on registering and reporting; pending
uploads are retried at every delivery. Once monitoring is unreachable, the other pending
uploads wait for the next delivery rather than each waiting out its own timeout. A file
already pruned from the volume (the store keeps the last few), or one that cannot be read,
is logged and skipped: that version stays without a downloadable checkpoint.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from fedops.api import ApiError
from fedops.durable.files import atomic_write
from fedops.durable.spool import Spool
from fedops_services.flserver.faults import crash_point

__all__ = ["RoundOutbox", "RoundRecord"]

logger = logging.getLogger(__name__)

# Refusals that retrying cannot fix; anything else (unreachable, 5xx, 401 while a token is
# re-issued, 409 from a concurrent registration, 429) is retried.
_PERMANENT = frozenset({400, 403, 404, 413, 415, 422})


@dataclass
class RoundRecord:
    round: int
    checkpoint_uri: str
    sha256: str
    report: dict[str, Any]
    version: int | None = None  # set once the registry answered
    registered: bool = False  # the registry answered (with a version, or refused for good)
    reported: bool = False  # the report is in the spool
    uploaded: bool = False  # monitoring holds the checkpoint (or it cannot, for good)


class RoundOutbox:
    def __init__(
        self,
        directory: Path,
        spool: Spool,
        register: Callable[[RoundRecord], int],
        upload: Callable[[RoundRecord], None] | None = None,
        *,
        fault_dir: Path | None = None,
    ) -> None:
        """``register`` records the model version with the registry and returns its number;
        ``upload`` sends a registered version's checkpoint file to monitoring (FileNotFoundError
        when the file is gone, another OSError when it cannot be read, ApiError when monitoring
        did not take it)."""
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._spool = spool
        self._register = register
        self._upload = upload
        self._fault_dir = fault_dir
        self.latest_version: int | None = None  # the newest version the registry confirmed

    def stage(self, record: RoundRecord) -> None:
        """Keep the round's record durably; call before the checkpoint pointer moves."""
        atomic_write(self._path(record.round), json.dumps(asdict(record)).encode())

    def pending(self) -> int:
        return len(self._records())

    def deliver(self, committed_round: int) -> bool:
        """Hand every committed round's report to the spool once its version is registered,
        and try the spool; True when nothing is left waiting. Never raises for a delivery
        failure: what could not go out stays on disk for the next call."""
        uploading = True  # until monitoring turns out unreachable in this call
        for path in self._records():
            record = RoundRecord(**json.loads(path.read_text()))
            if record.round > committed_round:  # staged by an attempt that crashed before committing
                logger.info("dropping the record of round %d: that attempt never committed", record.round)
                path.unlink(missing_ok=True)
                continue
            if not record.registered:
                if not self._try_register(record):
                    break  # keep rounds in order: later reports name later versions
                self._crash_point("after-register", record.round)  # registered, not yet noted here
                atomic_write(path, json.dumps(asdict(record)).encode())
            if record.version is not None:
                self.latest_version = max(self.latest_version or 0, record.version)
            if not record.reported:
                self._spool.add_report({**record.report, "global_model_version": record.version})
                self._crash_point("after-spool", record.round)
                record.reported = True
                atomic_write(path, json.dumps(asdict(record)).encode())
            if not record.uploaded:
                if not uploading:
                    continue  # kept, as noted: retried at the next delivery
                outcome = self._try_upload(record)
                if outcome is not True:
                    uploading = outcome != "unreachable"
                    continue  # the report left already; later rounds need not wait for this file
                atomic_write(path, json.dumps(asdict(record)).encode())
            path.unlink(missing_ok=True)
        delivered = self._spool.flush()
        return delivered and not self._records()

    def _try_register(self, record: RoundRecord) -> bool:
        try:
            record.version = self._register(record)
        except ApiError as exc:
            if exc.status in _PERMANENT:
                logger.error("the registry refused the model of round %d for good: %s", record.round, exc)
                record.registered = True
                return True
            logger.warning("could not register the model of round %d yet (%s); will retry", record.round, exc)
            return False
        record.registered = True
        return True

    def _try_upload(self, record: RoundRecord) -> Literal[True, "retry", "unreachable"]:
        """True once the file is in monitoring or never will be; else why it waits."""
        if self._upload is None or record.version is None:  # nothing registered to attach it to
            record.uploaded = True
            return True
        try:
            self._upload(record)
        except FileNotFoundError:
            logger.warning(
                "the checkpoint of round %d was pruned before it could be uploaded; model version %d "
                "stays without a downloadable file",
                record.round,
                record.version,
            )
        except OSError as exc:  # unreadable (permissions, I/O error, a directory): no retry mends it
            logger.error(
                "cannot read the checkpoint of round %d to upload it (%s); model version %d stays "
                "without a downloadable file",
                record.round,
                exc,
                record.version,
            )
        except ApiError as exc:
            if exc.status not in _PERMANENT:
                logger.warning("could not upload round %d's model yet (%s); will retry", record.round, exc)
                return "unreachable" if exc.status == 0 else "retry"
            logger.error("monitoring refused the checkpoint of round %d for good: %s", record.round, exc)
        record.uploaded = True
        return True

    def _crash_point(self, step: str, round_number: int) -> None:
        if self._fault_dir is not None:
            crash_point(self._fault_dir, step, round_number)

    def _path(self, round_number: int) -> Path:
        return self.directory / f"round-{round_number:08d}.json"

    def _records(self) -> list[Path]:
        return sorted(self.directory.glob("round-*.json"))
