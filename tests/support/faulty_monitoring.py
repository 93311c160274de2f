"""A monitoring stand-in on a loopback socket whose way of answering a test switches.

It speaks real HTTP over a real socket, so the client's whole stack (httpx, the typed
client, the spool) meets each fault as it would in the field. It stores what it accepts
by id, as monitoring does, and counts every request, so a test can tell a harmless
resend (received twice, stored once) from a loss or a duplicate.

Modes: ``good``; ``extra`` (good, with fields a newer server might add); ``500``;
``garbage`` (200 with a body that is not JSON); ``reset`` (half an answer, then a TCP
reset); ``stall`` (reads the request, never answers until ``release`` or close);
``kill`` (like ``good``, except that its ``kill_on_request``-th request is stored and
then ``victim_pid`` is SIGKILLed before the answer: a client that crashes after the server
committed and before it heard so).
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import os
import signal
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["FaultyMonitoring"]

_NEWER_FIELDS = {"added_by_a_newer_server": {"nested": [1, 2]}, "another_one": None}


class FaultyMonitoring:
    def __init__(self) -> None:
        self.mode = "good"
        self.victim_pid: int | None = None
        self.kill_on_request = 1
        self._victim_known = threading.Event()
        self.release = threading.Event()  # ends every stall
        self.stalled = threading.Event()  # set when a request is being held
        self.attempts: Counter[str] = Counter()  # requests received, per mode
        self.received_report_ids: list[str] = []  # every report id in a stored request, resends too
        self.stored_report_ids: list[str] = []  # each id once, in the order first stored
        self.stored_artifact_ids: list[str] = []
        self.received_artifact_ids: list[str] = []
        self.get_answers: dict[str, Any] = {}  # path -> JSON document for GET
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def set_victim(self, pid: int) -> None:
        self.victim_pid = pid
        self._victim_known.set()

    def set_mode(self, mode: str) -> None:
        with self._changed:
            self.mode = mode

    def wait_for(self, condition: Callable[[], bool], *, timeout: float = 60.0, what: str = "it") -> None:
        """Wait until ``condition`` holds after some request; bounded by ``timeout``."""
        with self._changed:
            if not self._changed.wait_for(condition, timeout=timeout):
                raise AssertionError(f"the faulty monitoring never saw {what} (mode {self.mode})")

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultyMonitoring:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- called by the handler -------------------------------------------------------------

    def _received(self, mode: str) -> None:
        with self._changed:
            self.attempts[mode] += 1
            self._changed.notify_all()

    def _store(self, reports: list[str], artifacts: list[str]) -> None:
        with self._changed:
            self.received_report_ids += reports
            self.received_artifact_ids += artifacts
            self.stored_report_ids += [r for r in reports if r not in self.stored_report_ids]
            self.stored_artifact_ids += [a for a in artifacts if a not in self.stored_artifact_ids]
            self._changed.notify_all()


def _handler_for(owner: FaultyMonitoring) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output for the test

        def do_GET(self) -> None:
            self._answer(200, owner.get_answers[self.path.split("?")[0]])  # whatever the page asked for

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with owner._changed:
                mode = owner.mode
            owner._received(mode)
            if mode == "500":
                self._answer(500, {"error": {"code": "internal_error", "message": "boom", "details": []}})
            elif mode == "garbage":
                self._raw(200, b"<html>this is not JSON", "text/html")
            elif mode == "reset":
                self._reset()
            elif mode == "stall":
                owner.stalled.set()
                owner.release.wait(120)  # bounded: close() releases it
                self.close_connection = True  # and never answer
            elif mode in ("good", "extra", "kill"):
                answer = self._store(body)
                if mode == "kill" and owner.attempts["kill"] == owner.kill_on_request:
                    assert owner._victim_known.wait(60), "no victim_pid was set"
                    assert owner.victim_pid is not None
                    os.kill(owner.victim_pid, signal.SIGKILL)
                    self.close_connection = True
                    return
                self._answer(200, {**answer, **(_NEWER_FIELDS if mode == "extra" else {})})
            else:
                raise AssertionError(f"unknown mode {mode}")

        def _store(self, body: bytes) -> dict[str, Any]:
            if self.path.endswith("/reports/batch"):
                reports = [r["report_id"] for r in json.loads(body)["reports"]]
                owner._store(reports, [])
                return {"accepted": len(reports), "duplicates": 0}
            fields = _form_fields(self.headers.get("Content-Type", ""), body)
            owner._store([], [fields["artifact_id"]])
            return {
                "id": fields["artifact_id"], "task_id": "task-1", "round": int(fields["round"]),
                "client_id": fields["client_id"], "class_label": fields["class_label"],
                "method": fields["method"], "layer": fields["layer"], "content_type": "image/jpeg",
                "size_bytes": 4, "sha256": "0" * 64, "created_at": "2026-01-01T00:00:00Z",
            }  # fmt: skip

        def _answer(self, status: int, document: dict[str, Any]) -> None:
            self._raw(status, json.dumps(document).encode(), "application/json")

        def _raw(self, status: int, content: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def _reset(self) -> None:
            """Start a 200 answer, then abort the connection: SO_LINGER 0 makes close send RST."""
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n{")  # 63 bytes short
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True

        def handle(self) -> None:
            with contextlib.suppress(OSError, ValueError):  # reset on purpose, or the client gave up
                super().handle()

        def finish(self) -> None:
            with contextlib.suppress(OSError, ValueError):
                super().finish()

    return Handler


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a multipart/form-data body (the stdlib MIME parser reads it)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename() is None and isinstance(name, str):
            fields[name] = part.get_content()
    return fields
