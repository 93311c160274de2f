"""Bodies are refused before they are read: authentication first, then a streaming limit.

Against a real `fedops up` over raw sockets, because an HTTP client library would send the
whole body before looking for an answer and so hide whether the server read it. A server
that answers after receiving a few KiB of a 300 MiB body has read at most those few KiB.
"""

from __future__ import annotations

import io
import itertools
import json
import select
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import ADMIN_TOKEN, HTTP_SERVER_COMMAND
from tests.integration.helpers import bearer
from tests.support.stack import FedopsStack, running_stack
from tests.unit.test_errors_and_sniffing import png_bytes

pytestmark = pytest.mark.slow

MAX_BODY = 64 * 1024
MAX_ARTIFACT = 256 * 1024
MAX_CHECKPOINT = 1024 * 1024
HUGE = 300 * 1024 * 1024
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FedopsStack]:
    root = tmp_path_factory.mktemp("body-limits")
    env = {
        "FEDOPS_ADMIN_TOKEN": ADMIN_TOKEN,
        "FEDOPS_MAX_BODY_BYTES": str(MAX_BODY),
        "FEDOPS_MAX_ARTIFACT_BYTES": str(MAX_ARTIFACT),
        "FEDOPS_MAX_CHECKPOINT_BYTES": str(MAX_CHECKPOINT),
        "FEDOPS_SERVER_COMMAND": HTTP_SERVER_COMMAND,
    }
    with running_stack(root / "data", env=env) as running:
        yield running


@pytest.fixture(scope="module")
def client(stack: FedopsStack) -> dict[str, Any]:
    """A task with an enrolled client, for uploads."""
    with httpx.Client(base_url=stack.url, headers=bearer(ADMIN_TOKEN)) as api:
        task = api.post("/api/v1/tasks", json={"name": "limits"}).json()
        token = api.post(f"/api/v1/tasks/{task['id']}/enrollment-tokens", json={}).json()["token"]
        enrolled: dict[str, Any] = api.post(
            f"/api/v1/tasks/{task['id']}/clients", json={"name": "edge-1"}, headers=bearer(token)
        ).json()
    return enrolled


def _head(
    path: str, *, content_type: str, length: int | None, token: str | None = None, method: str = "POST"
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_answer(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        assert piece, f"connection closed before an answer: {data!r}"
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        piece = sock.recv(65536)
        assert piece, "connection closed in the middle of the answer"
        body += piece
    return status, json.loads(body[:length])


def _answer_after_a_prefix(port: int, head: bytes, prefix: bytes) -> tuple[int, dict[str, Any]]:
    """Send the head and the first bytes of a body, then wait for the answer without the rest."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + prefix)
        return _read_answer(sock)


def _stream_until_answered(
    port: int, head: bytes, chunks: Iterator[bytes]
) -> tuple[int, dict[str, Any], int]:
    """Send chunks until the server answers; returns (status, body, body bytes sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the answer (or the close) is there: stop sending
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        status, body = _read_answer(sock)
    return status, body, sent


def _chunked(total: int, first: bytes = b"") -> Iterator[bytes]:
    """Transfer-Encoding: chunked framing of ``first`` followed by filler, ``total`` bytes in all."""
    payload = first
    produced = 0
    while produced < total:
        data = (payload or b"x" * CHUNK)[:CHUNK]
        payload = payload[len(data) :]
        produced += len(data)
        yield f"{len(data):x}\r\n".encode() + data + b"\r\n"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/monitoring/tasks/any/artifacts", "multipart/form-data; boundary=b0undary"),
        ("/api/v1/tasks", "application/json"),
        ("/api/v1/tasks/any/clients", "application/json"),  # the enrolment endpoint
    ],
)
@pytest.mark.parametrize("token", [None, "fedops_cli_not-a-credential", "fedops_enr_not-a-token"])
def test_a_huge_body_without_valid_credentials_is_401_after_a_few_kib(
    stack: FedopsStack, path: str, content_type: str, token: str | None
) -> None:
    head = _head(path, content_type=content_type, length=HUGE, token=token)
    status, body = _answer_after_a_prefix(stack.port, head, b"x" * CHUNK)
    assert status == 401 and body["error"]["code"] in ("unauthenticated", "enrollment_token_invalid")


def test_a_declared_length_over_the_limit_is_413_before_reading(stack: FedopsStack) -> None:
    head = _head("/api/v1/tasks", content_type="application/json", length=MAX_BODY + 1, token=ADMIN_TOKEN)
    status, body = _answer_after_a_prefix(stack.port, head, b"")
    assert status == 413 and body["error"]["code"] == "payload_too_large"


def test_a_chunked_json_body_is_cut_off_at_the_limit(stack: FedopsStack) -> None:
    tasks = f"{stack.url}/api/v1/tasks"
    before = httpx.get(tasks, headers=bearer(ADMIN_TOKEN)).json()["count"]
    head = _head("/api/v1/tasks", content_type="application/json", length=None, token=ADMIN_TOKEN)
    status, body, sent = _stream_until_answered(stack.port, head, _chunked(64 * 1024 * 1024, b'{"name": "'))
    assert status == 413 and body["error"]["code"] == "payload_too_large"
    # What was sent (at most the limit plus what socket buffers hold) is far from all of it.
    assert sent < 16 * 1024 * 1024
    assert httpx.get(tasks, headers=bearer(ADMIN_TOKEN)).json()["count"] == before


def _multipart_upload(client: dict[str, Any], content: bytes) -> bytes:
    fields = {"round": "1", "client_id": client["client_id"], "class_label": "7", "method": "gradcam"}
    fields["layer"] = "conv2"
    body = b"".join(
        f'--b0undary\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    body += b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n'
    body += b"Content-Type: image/png\r\n\r\n" + content
    return body


def test_a_chunked_upload_over_the_artifact_limit_is_413(stack: FedopsStack, client: dict[str, Any]) -> None:
    path = f"/api/v1/monitoring/tasks/{client['task_id']}/artifacts"
    head = _head(path, content_type="multipart/form-data; boundary=b0undary", length=None, token=ADMIN_TOKEN)
    start = _multipart_upload(client, png_bytes())
    status, body, sent = _stream_until_answered(stack.port, head, _chunked(64 * 1024 * 1024, start))
    assert status == 413 and body["error"]["code"] == "payload_too_large"
    assert sent < 16 * 1024 * 1024


@pytest.mark.parametrize(
    "parts",
    [
        b"--b0undary\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b0undary--\r\n",  # a part without a name
        b"".join(
            f'--b0undary\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\n1\r\n'.encode()
            for i in range(40)
        )
        + b"--b0undary--\r\n",  # more fields than any upload has
        b'--b0undary\r\nContent-Disposition: form-data; name="layer"\r\n\r\n'
        + b"x" * 65537
        + b"\r\n--b0undary--\r\n",
    ],
)
def test_malformed_multipart_is_400(stack: FedopsStack, client: dict[str, Any], parts: bytes) -> None:
    path = f"/api/v1/monitoring/tasks/{client['task_id']}/artifacts"
    head = _head(
        path, content_type="multipart/form-data; boundary=b0undary", length=len(parts), token=ADMIN_TOKEN
    )
    status, body = _answer_after_a_prefix(stack.port, head, parts)
    assert status == 400 and body["error"]["code"] == "malformed_request"


def test_uploads_are_decoded_and_served_back_inert(stack: FedopsStack, client: dict[str, Any]) -> None:
    url = f"{stack.url}/api/v1/monitoring/tasks/{client['task_id']}/artifacts"
    fields = {"round": "1", "client_id": client["client_id"], "class_label": "7", "method": "gradcam"}
    fields["layer"] = "conv2"
    as_client = bearer(client["credential"])
    html = b"<html><script>alert(document.cookie)</script></html>"
    buffer = io.BytesIO()
    Image.new("RGB", (5000, 8)).save(buffer, format="PNG")
    for hostile, status in (
        (png_bytes() + html, 415),
        (b"\x89PNG\r\n\x1a\n" + html, 415),
        (buffer.getvalue(), 413),
    ):
        answer = httpx.post(url, data=fields, files={"file": ("a.png", hostile)}, headers=as_client)
        assert answer.status_code == status, answer.text

    stored = httpx.post(url, data=fields, files={"file": ("a.html", png_bytes())}, headers=as_client)
    assert stored.status_code == 201, stored.text
    served = httpx.get(
        f"{stack.url}/api/v1/monitoring/artifacts/{stored.json()['id']}/content", headers=as_client
    )
    assert served.content == png_bytes()
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]


def test_the_server_still_serves_afterwards(stack: FedopsStack) -> None:
    assert httpx.get(f"{stack.url}/healthz").status_code == 200


def _checkpoint_path(stack: FedopsStack, client: dict[str, Any]) -> str:
    """A registered model version to upload to (its hash is never matched here)."""
    task_id = client["task_id"]
    with httpx.Client(base_url=stack.url, headers=bearer(ADMIN_TOKEN)) as api:
        version = api.post(
            f"/api/v1/tasks/{task_id}/models",
            json={"round": 1, "checkpoint_uri": "file:///c.npz", "metadata": {"sha256": "0" * 64}},
        ).json()["version"]
    return f"/api/v1/monitoring/tasks/{task_id}/models/{version}/checkpoint"


def test_a_checkpoint_declared_over_its_limit_is_413_before_reading(
    stack: FedopsStack, client: dict[str, Any]
) -> None:
    head = _head(
        _checkpoint_path(stack, client),
        content_type="application/octet-stream",
        length=MAX_CHECKPOINT + 1,
        token=ADMIN_TOKEN,
        method="PUT",
    )
    status, body = _answer_after_a_prefix(stack.port, head, b"")
    assert status == 413 and body["error"]["code"] == "payload_too_large"


def test_a_chunked_checkpoint_is_cut_off_at_its_limit_not_the_json_one(
    stack: FedopsStack, client: dict[str, Any]
) -> None:
    path = _checkpoint_path(stack, client)
    head = _head(path, content_type="application/octet-stream", length=None, token=ADMIN_TOKEN, method="PUT")
    # Larger than the JSON limit, within the checkpoint one: read whole, refused by its hash.
    whole = itertools.chain(_chunked(MAX_BODY * 4), [b"0\r\n\r\n"])
    status, body, _ = _stream_until_answered(stack.port, head, whole)
    assert status == 422 and "sha256" in body["error"]["message"]
    status, body, sent = _stream_until_answered(stack.port, head, _chunked(64 * 1024 * 1024))
    assert status == 413 and body["error"]["code"] == "payload_too_large"
    assert sent < 16 * 1024 * 1024
