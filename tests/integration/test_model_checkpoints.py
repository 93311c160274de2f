"""Global model checkpoints: the FL server uploads each version's file, people download it."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import pathlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, cast

import numpy as np
import pytest
from fastapi.testclient import TestClient

from fedops_services.config import Settings
from tests.integration.helpers import bearer, create_task, enroll, error_code
from tests.integration.test_report_senders import _server_credential


def _npz(seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, np.random.default_rng(seed).random((8, 4)), np.arange(4.0))
    return buffer.getvalue()


def _register(api: TestClient, task_id: str, content: bytes, round_number: int = 1) -> dict[str, Any]:
    response = api.post(
        f"/api/v1/tasks/{task_id}/models",
        json={
            "round": round_number,
            "checkpoint_uri": f"file:///ckpt/round-{round_number}.npz",
            "metadata": {"sha256": hashlib.sha256(content).hexdigest()},
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _url(task_id: str, version: int) -> str:
    return f"/api/v1/monitoring/tasks/{task_id}/models/{version}/checkpoint"


def test_the_servers_upload_is_downloaded_byte_for_byte(api: TestClient, settings: Settings) -> None:
    task = create_task(api, name="mnist-xai")
    content = _npz()
    version = _register(api, task["id"], content, round_number=3)["version"]
    as_server = bearer(_server_credential(api, settings, task["id"]))
    octets = {"Content-Type": "application/octet-stream"}

    before = api.get(_url(task["id"], version))
    stored = api.put(_url(task["id"], version), content=content, headers=as_server | octets)
    resent = api.put(_url(task["id"], version), content=content, headers=as_server | octets)
    download = api.get(_url(task["id"], version))

    assert before.status_code == 404 and error_code(before) == "checkpoint_not_available"
    assert stored.status_code == 201 and resent.status_code == 204
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"] == 'attachment; filename="mnist-xai-round-3-v1.npz"'
    with np.load(io.BytesIO(download.content)) as archive:
        assert archive["arr_1"].tolist() == [0.0, 1.0, 2.0, 3.0]
    listed = api.get(f"/api/v1/tasks/{task['id']}/models").json()["data"][0]
    assert listed["checkpoint_available"] is True and listed["checkpoint_size_bytes"] == len(content)


def test_a_file_that_is_not_the_registered_one_is_422_and_not_kept(
    api: TestClient, settings: Settings
) -> None:
    task = create_task(api)
    version = _register(api, task["id"], _npz(0))["version"]

    refused = api.put(_url(task["id"], version), content=_npz(1))
    unknown = api.put(_url(task["id"], version + 1), content=_npz(0))

    assert refused.status_code == 422 and error_code(refused) == "validation_error"
    assert "sha256" in refused.json()["error"]["message"]
    assert unknown.status_code == 404 and error_code(unknown) == "model_version_not_found"
    latest = api.get(f"/api/v1/tasks/{task['id']}/models/latest").json()
    assert latest["checkpoint_available"] is False and latest["checkpoint_size_bytes"] is None
    assert error_code(api.get(_url(task["id"], version))) == "checkpoint_not_available"
    assert not list(settings.artifact_dir.rglob("*.npz"))
    assert not list((settings.data_dir / "checkpoint-uploads").iterdir())  # the staged file went too


def test_only_the_tasks_principals_read_it_and_only_its_server_writes_it(api: TestClient) -> None:
    task, other = create_task(api), create_task(api, name="other")
    content = _npz()
    version = _register(api, task["id"], content)["version"]
    client = bearer(enroll(api, task["id"])["credential"])
    stranger = bearer(enroll(api, other["id"])["credential"])

    by_client = api.put(_url(task["id"], version), content=content, headers=client)
    anonymous = api.get(_url(task["id"], version), headers={"Authorization": ""})
    assert api.put(_url(task["id"], version), content=content).status_code == 201  # the admin may
    readable = api.get(_url(task["id"], version), headers=client)
    foreign = api.get(_url(task["id"], version), headers=stranger)

    assert by_client.status_code == 403
    assert anonymous.status_code == 401
    assert readable.status_code == 200 and readable.content == content
    assert foreign.status_code == 403


def test_deleting_the_task_removes_its_checkpoints(api: TestClient, settings: Settings) -> None:
    task = create_task(api)
    content = _npz()
    version = _register(api, task["id"], content)["version"]
    assert api.put(_url(task["id"], version), content=content).status_code == 201
    files = list((settings.artifact_dir / task["id"]).rglob("*.npz"))
    assert len(files) == 1 and files[0].read_bytes() == content

    assert api.delete(f"/api/v1/tasks/{task['id']}").status_code == 204

    assert not (settings.artifact_dir / task["id"]).exists()


class _WatchedFile:
    """The staging file, noting for each write whether it ran on the event loop's thread."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.on_event_loop: list[bool] = []

    def write(self, data: bytes) -> int:
        try:
            asyncio.get_running_loop()
            self.on_event_loop.append(True)
        except RuntimeError:
            self.on_event_loop.append(False)
        return self._file.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def test_a_large_upload_is_written_off_the_event_loop(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = create_task(api)
    content = os.urandom(3 * 1024 * 1024 + 5)
    version = _register(api, task["id"], content)["version"]
    checkpoints = api.app.state.services.checkpoints  # type: ignore[attr-defined]
    staging, watched = checkpoints.staging, list[_WatchedFile]()

    @contextmanager
    def watched_staging() -> Iterator[Any]:
        with staging() as staged:
            watched.append(_WatchedFile(staged.file))
            staged.file = cast(BinaryIO, watched[0])
            yield staged

    monkeypatch.setattr(checkpoints, "staging", watched_staging)
    stored = api.put(_url(task["id"], version), content=content)

    assert stored.status_code == 201, stored.text
    assert api.get(_url(task["id"], version)).content == content
    assert watched[0].on_event_loop and not any(watched[0].on_event_loop)


def test_uploads_cut_short_by_a_crash_are_swept_once_stale(api: TestClient, settings: Settings) -> None:
    from fedops_services.monitoring.checkpoints import STALE_STAGING_SECONDS, CheckpointService

    staging = settings.data_dir / "checkpoint-uploads"
    staging.mkdir(exist_ok=True)
    crashed, receiving, other = staging / "tmpa.npz.part", staging / "tmpb.npz.part", staging / "notes.txt"
    for path in (crashed, receiving, other):
        path.write_bytes(b"partial")
    old = time.time() - STALE_STAGING_SECONDS - 60
    os.utime(crashed, (old, old))
    os.utime(other, (old, old))

    services = api.app.state.services  # type: ignore[attr-defined]
    CheckpointService(services.sessions, services.artifacts._files, staging)  # as at start-up

    assert not crashed.exists() and receiving.exists() and other.exists()
    os.utime(receiving, (old, old))  # then its process crashed too; this one keeps running
    task = create_task(api)
    content = _npz()
    version = _register(api, task["id"], content)["version"]
    assert api.put(_url(task["id"], version), content=content).status_code == 201
    assert not receiving.exists() and other.exists()


def test_the_sdk_streams_a_checkpoint_file_the_route_stores(api: TestClient, tmp_path: pathlib.Path) -> None:
    from fedops.api import FedopsClient

    task = create_task(api)
    content = _npz()
    version = _register(api, task["id"], content)["version"]
    path = tmp_path / "round-1.npz"
    path.write_bytes(content)
    client = FedopsClient(str(api.base_url))
    client.core._client = api  # the app behind the SDK's own request code

    stored, resent = (client.monitoring.upload_checkpoint(task["id"], version, path) for _ in range(2))

    assert (stored, resent) == (True, False)
    assert api.get(_url(task["id"], version)).content == content
