"""The SDK's checkpoint transfer: an upload streams the file rather than reading it whole,
and a download's suggested name is used only when it is a plain ``.npz`` name.

The monitoring API is an httpx mock transport here; tests/integration/test_model_checkpoints.py
and tests/integration/test_cli.py run the same client against the real service.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from fedops.api import FedopsClient

Handler = Callable[[httpx.Request], httpx.Response]


class _Transport(httpx.BaseTransport):
    """Hands the request over as sent: unlike httpx.MockTransport, it does not read the body first."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._handler(request)


def _client(handler: Handler) -> FedopsClient:
    client = FedopsClient("http://monitoring.test", "token")
    client.core._client = httpx.Client(base_url=client.core.base_url, transport=_Transport(handler))
    return client


class Received:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.chunks: list[int] = []  # how many pieces each body came in

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert isinstance(request.stream, httpx.SyncByteStream)
        pieces = list(request.stream)
        self.bodies.append(b"".join(pieces))
        self.chunks.append(len(pieces))
        return httpx.Response(201)


def test_a_checkpoint_path_is_streamed_with_its_length(tmp_path: Path) -> None:
    content = bytes(range(256)) * 9000  # more than one chunk
    path = tmp_path / "round-1.npz"
    path.write_bytes(content)
    received = Received()

    with _client(received) as client:
        stored = client.monitoring.upload_checkpoint("t1", 3, path)

    (request,) = received.requests
    assert stored and received.bodies == [content]
    assert received.chunks == [3]  # read in 1 MiB pieces, never whole
    assert request.headers["content-length"] == str(len(content))
    assert "transfer-encoding" not in request.headers
    assert request.url.path == "/api/v1/monitoring/tasks/t1/models/3/checkpoint"


def test_a_file_object_is_streamed_from_its_position_and_a_buffer_is_sent_chunked(tmp_path: Path) -> None:
    path = tmp_path / "round-1.npz"
    path.write_bytes(b"headerweights")
    received = Received()

    with _client(received) as client, path.open("rb") as file:
        file.seek(len(b"header"))
        client.monitoring.upload_checkpoint("t1", 1, file)
        client.monitoring.upload_checkpoint("t1", 2, io.BytesIO(b"in memory"))

    assert received.bodies == [b"weights", b"in memory"]
    assert received.requests[0].headers["content-length"] == "7"
    assert received.requests[1].headers["transfer-encoding"] == "chunked"


def test_an_unreadable_checkpoint_path_raises_oserror_before_any_request(tmp_path: Path) -> None:
    received = Received()

    with _client(received) as client, pytest.raises(IsADirectoryError):
        client.monitoring.upload_checkpoint("t1", 1, tmp_path)

    assert received.requests == []


def _serving(filename: str, content: bytes = b"the model") -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
        return httpx.Response(200, content=content, headers=disposition)

    return handler


@pytest.mark.parametrize(
    ("suggested", "used"),
    [
        ("mnist-round-3-v1.npz", "mnist-round-3-v1.npz"),
        (".bashrc", "t1-v1.npz"),
        (".hidden.npz", "t1-v1.npz"),
        ("notes.txt", "t1-v1.npz"),
        ("-rf.npz", "t1-v1.npz"),
    ],
)
def test_only_a_plain_npz_name_is_taken_from_the_server(suggested: str, used: str) -> None:
    with _client(_serving(suggested)) as client:
        assert client.monitoring.download_checkpoint("t1", 1, io.BytesIO()) == used


def _download(
    monkeypatch: pytest.MonkeyPatch, directory: Path, suggested: str, *args: str
) -> tuple[int, str]:
    from typer.testing import CliRunner

    from fedops.cli import context
    from fedops.cli.main import app

    monkeypatch.chdir(directory)
    monkeypatch.setattr(context, "client_for", lambda ctx: _client(_serving(suggested, b"downloaded")))
    result = CliRunner().invoke(app, ["model", "download", "t1", "--version", "1", *args])
    return result.exit_code, result.output


def test_a_hidden_name_from_the_server_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".bashrc").write_text("mine")

    code, _ = _download(monkeypatch, tmp_path, ".bashrc")

    assert code == 0 and (tmp_path / ".bashrc").read_text() == "mine"
    assert (tmp_path / "t1-v1.npz").read_bytes() == b"downloaded"


def test_an_existing_file_is_overwritten_only_when_named_or_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = tmp_path / "m-round-1-v1.npz"
    existing.write_bytes(b"kept")

    refused, output = _download(monkeypatch, tmp_path, existing.name)
    kept = existing.read_bytes()
    named, _ = _download(monkeypatch, tmp_path, existing.name, "-o", str(existing))
    existing.write_bytes(b"kept")
    forced, _ = _download(monkeypatch, tmp_path, existing.name, "--force")

    assert refused == 1 and kept == b"kept" and "exists already" in output and "--force" in output
    assert named == 0 and forced == 0 and existing.read_bytes() == b"downloaded"
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing.name]  # no partial file left
