"""The edge client's identity (issue 8, defect 3): a default name that clones do not share,
re-enrolment that proves itself with the stored credential, restarts without a usable
enrolment token. Real `fedops up` (SQLite) over HTTP; real `fedops-client` for the CLI."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedops.api import ApiError, FedopsClient
from fedops.api.schemas import EnrollmentTokenCreate
from fedops.client import identity
from fedops.client.identity import connect
from fedops.spec import TaskSpec
from tests.conftest import ADMIN_TOKEN
from tests.support.stack import FedopsStack, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FedopsStack]:
    root = tmp_path_factory.mktemp("identity")
    with running_stack(root / "data", env={"FEDOPS_ADMIN_TOKEN": ADMIN_TOKEN}) as running:
        yield running


@pytest.fixture
def admin(stack: FedopsStack) -> Iterator[FedopsClient]:
    with FedopsClient(stack.url, ADMIN_TOKEN) as client:
        yield client


@pytest.fixture
def task_id(admin: FedopsClient, request: pytest.FixtureRequest) -> str:
    name = request.node.name.replace("_", "-")[5:45].strip("-")
    return admin.registry.create_task(TaskSpec.model_validate({"name": name})).id


def _token(admin: FedopsClient, task_id: str, max_uses: int | None = None) -> str:
    return admin.registry.create_enrollment_token(task_id, EnrollmentTokenCreate(max_uses=max_uses)).token


def _accepted(stack: FedopsStack, credential: str) -> bool:
    try:
        with FedopsClient(stack.url, credential) as client:
            return client.registry.whoami().role == "client"
    except ApiError:
        return False


def test_restart_keeps_the_identity_and_re_enrolment_proves_it(
    stack: FedopsStack, admin: FedopsClient, task_id: str, tmp_path: Path
) -> None:
    token = _token(admin, task_id)

    first, name = connect(stack.url, token, tmp_path)
    restarted, _ = connect(stack.url, token, tmp_path)
    (tmp_path / task_id / name / "node_key").unlink()  # lost: the client must enrol again
    again, _ = connect(stack.url, token, tmp_path)

    assert name.startswith(socket.gethostname().split(".")[0][:20]) and name != socket.gethostname()
    assert restarted == first  # nothing re-enrolled
    assert again.client_id == first.client_id and again.credential != first.credential
    assert not _accepted(stack, first.credential) and _accepted(stack, again.credential)
    state = tmp_path / task_id / name / "credential.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert json.loads(state.read_text())["credential"] == again.credential
    assert admin.registry.list_clients(task_id).count == 1


def test_clones_do_not_share_a_name(
    stack: FedopsStack, admin: FedopsClient, task_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _token(admin, task_id)
    original, clone_before, clone_after = tmp_path / "a", tmp_path / "b", tmp_path / "c"

    first, first_name = connect(stack.url, token, original)
    _, before_name = connect(stack.url, token, clone_before)  # cloned before the first run
    shutil.copytree(original, clone_after)  # cloned after it, state and all...
    machine_id = tmp_path / "machine-id"
    machine_id.write_text("0123456789abcdef0123456789abcdef\n")  # ...then given a new machine id
    monkeypatch.setattr(identity, "MACHINE_ID_FILES", (machine_id,))
    after, after_name = connect(stack.url, token, clone_after)

    assert len({first_name, before_name, after_name}) == 3
    assert after.client_id != first.client_id and _accepted(stack, first.credential)
    assert admin.registry.list_clients(task_id).count == 3


def test_another_machine_cannot_take_the_name(
    stack: FedopsStack, admin: FedopsClient, task_id: str, tmp_path: Path
) -> None:
    token = _token(admin, task_id)
    owner, _ = connect(stack.url, token, tmp_path / "owner", name="edge-7")

    with pytest.raises(ApiError) as refused:
        connect(stack.url, token, tmp_path / "other", name="edge-7")

    assert refused.value.code == "client_name_taken" and refused.value.status == 409
    assert _accepted(stack, owner.credential)
    assert not list((tmp_path / "other").rglob("credential.json"))
    assert not list((tmp_path / "other").rglob("node_key*"))


def test_a_used_up_token_does_not_stop_a_restart(
    stack: FedopsStack, admin: FedopsClient, task_id: str, tmp_path: Path
) -> None:
    token = _token(admin, task_id, max_uses=1)

    first, _ = connect(stack.url, token, tmp_path, name="edge-1")
    restarted, _ = connect(stack.url, token, tmp_path, name="edge-1")

    assert restarted.client_id == first.client_id and restarted.credential == first.credential
    with pytest.raises(ApiError):  # the token itself stays used up
        connect(stack.url, token, tmp_path, name="edge-2")


def test_fedops_client_says_why_a_taken_name_is_refused(
    stack: FedopsStack, admin: FedopsClient, task_id: str, tmp_path: Path
) -> None:
    token = _token(admin, task_id)
    connect(stack.url, token, tmp_path / "owner", name="edge-1")
    project = tmp_path / "project"
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDOPS_")}

    result = subprocess.run(
        [str(Path(sys.executable).with_name("fedops-client")), "run", str(project), "--registry", stack.url,
         "--token", token, "--name", "edge-1", "--quiet"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 1
    assert "client_name_taken" in result.stderr and "--name" in result.stderr, result.stderr
