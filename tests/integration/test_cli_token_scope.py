"""The CLI sends the local admin token file only to loopback URLs (issue 8, defect 13).

The real `fedops` CLI talks to real listening sockets that record what they receive; all
traffic stays on loopback. A non-loopback URL is refused before anything is resolved or
sent, so ``.invalid`` names are safe to use.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.serving import serving

FILE_TOKEN = "file-token-0123456789abcdef"


class Recorder(ThreadingHTTPServer):
    """Answers every GET like an empty task list and records its Authorization header."""

    def __init__(self, host: str) -> None:
        self.seen: list[str | None] = []
        super().__init__((host, 0), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:
        self.server.seen.append(self.headers.get("Authorization"))
        body = json.dumps({"data": [], "count": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def _recorder(host: str) -> Iterator[Recorder]:
    with serving(Recorder(host)) as server:
        yield server


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    yield from _recorder("127.0.0.1")


@pytest.fixture
def other_loopback() -> Iterator[Recorder]:
    yield from _recorder("127.0.0.2")  # Linux answers on all of 127.0.0.0/8


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "admin-token").write_text(FILE_TOKEN + "\n")
    return tmp_path


def fedops(
    url: str, data_dir: Path, *args: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDOPS_")}
    env |= {"FEDOPS_URL": url, "FEDOPS_DATA_DIR": str(data_dir)}
    if token is not None:
        env["FEDOPS_TOKEN"] = token
    return subprocess.run(
        [str(Path(sys.executable).with_name("fedops")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_token_file_goes_to_loopback_urls(
    recorder: Recorder, other_loopback: Recorder, data_dir: Path
) -> None:
    urls = [
        f"http://127.0.0.1:{recorder.port}",
        f"http://localhost:{recorder.port}",
        f"http://127.0.0.2:{other_loopback.port}",
    ]
    results = [fedops(url, data_dir, "task", "list", "--json") for url in urls]

    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    assert recorder.seen + other_loopback.seen == [f"Bearer {FILE_TOKEN}"] * 3


def test_a_name_that_only_resolves_to_loopback_gets_no_token_file(recorder: Recorder, data_dir: Path) -> None:
    """Only the URL's text decides: a name is not trusted for what it resolves to today."""
    host = socket.gethostname()
    if host == "localhost" or not socket.gethostbyname(host).startswith("127."):
        pytest.skip("needs a host name that resolves to a loopback address")
    url = f"http://{host}:{recorder.port}"

    refused = fedops(url, data_dir, "task", "list")
    given = fedops(url, data_dir, "task", "list", token="explicit-token-0123456789")

    assert refused.returncode == 1 and recorder.seen == ["Bearer explicit-token-0123456789"]
    assert "--token" in refused.stderr and "FEDOPS_TOKEN" in refused.stderr
    assert given.returncode == 0, given.stderr


def test_a_remote_url_is_refused_before_connecting(data_dir: Path) -> None:
    url = "http://fedops.example.invalid:8080"

    text = fedops(url, data_dir, "task", "list")
    as_json = fedops(url, data_dir, "task", "list", "--json")

    assert text.returncode == 1 and as_json.returncode == 1
    for needed in ("--token", "FEDOPS_TOKEN", "FEDOPS_ADMIN_TOKEN", "admin-token", "loopback"):
        assert needed in text.stderr, text.stderr
    assert json.loads(as_json.stdout)["error"]["code"] == "missing_token"
