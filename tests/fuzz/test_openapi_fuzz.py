"""Schemathesis over the whole OpenAPI document against a real `fedops up`, on both backends.

Every operation is fuzzed three times: with the admin token (all phases, including the
stateful one that follows the document's links: create a task, then act on it by its id),
with the client credential of another task aimed at a real task, and with no credential.
The run must find no 5xx and no answer that contradicts the document (status, content
type, headers, body schema), and the last two callers must never get a success for what
they may not see. Provisioning starts real processes: a harmless HTTP server stands in
for the FL server, and every process is killed at the end.

Two of schemathesis's checks are left out, for reasons of the schema language, not of the
API: ``positive_data_acceptance`` (JSON Schema cannot say "a DNS-1123 label", "a PEM key
on a NIST curve", "a keyword Flower's strategy accepts" or "a decodable image", so valid
by the document is not always valid) and ``negative_data_rejection`` (pydantic's lax mode
accepts ``true`` for 1 and ``3.0`` for 3 on purpose).

Bounded: ``FEDOPS_FUZZ_EXAMPLES`` (default 20) cases per operation and phase, a fixed
seed (``FEDOPS_FUZZ_SEED``), a per-request timeout, and a timeout on each run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, HTTP_SERVER_COMMAND
from tests.fuzz.hooks import REFUSED_ENV
from tests.support.stack import FedopsStack, running_stack

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("FEDOPS_FUZZ_EXAMPLES", "20"))  # for the admin; fewer for the others
SEED = os.environ.get("FEDOPS_FUZZ_SEED", "20261202")
RUN_TIMEOUT = 600
# Every check runs except these (in the config file, not on the command line: checks named
# there override the per-operation exception below):
# - the two the docstring explains;
# - on one operation, the check that a resource made by `POST /tasks` is found (it links
#   `task_id` into every path below the task): a task's latest model version is not made
#   with the task, and until its first round ends 404 (`model_version_not_found`) is the
#   documented answer.
CHECKS_CONFIG = """\
[checks]
positive_data_acceptance.enabled = false
negative_data_rejection.enabled = false

[[operations]]
include-path = "/api/v1/tasks/{task_id}/models/latest"
checks.ensure_resource_availability.enabled = false
"""


@dataclass(frozen=True)
class Caller:
    name: str
    token: str | None
    phases: str
    examples: int
    refused_marker: str | None = None  # a success for a path containing it is a failure
    task_id: str | None = None  # aim every operation at this task


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FedopsStack]:
    env = {
        "FEDOPS_ADMIN_TOKEN": ADMIN_TOKEN,
        "FEDOPS_SERVER_COMMAND": HTTP_SERVER_COMMAND,
        "FEDOPS_SERVER_HEALTH_PATH": "/",
        "FEDOPS_RECONCILE_INTERVAL_SECONDS": "0.5",
    }
    if request.param == "postgres":
        env["FEDOPS_DATABASE_URL"] = request.getfixturevalue("postgres_database_url")
    with running_stack(tmp_path / "data", env=env) as running:
        yield running


def _prepare(url: str) -> tuple[str, str]:
    """A target task, and the client credential of an enrolled client of another task."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as api:
        target = api.post("/api/v1/tasks", json={"name": "fuzz-target"}).json()["id"]
        other = api.post("/api/v1/tasks", json={"name": "fuzz-other"}).json()["id"]
        token = api.post(f"/api/v1/tasks/{other}/enrollment-tokens", json={}).json()["token"]
        enrolled = api.post(
            f"/api/v1/tasks/{other}/clients",
            json={"name": "edge-1"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert enrolled.status_code == 201, enrolled.text
        return target, enrolled.json()["credential"]


def _schemathesis(url: str, caller: Caller, workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True)
    report = workdir / "report.json"
    config = workdir / "schemathesis.toml"
    parameters = f'[parameters]\n"path.task_id" = "{caller.task_id}"\n\n' if caller.task_id else ""
    config.write_text(parameters + CHECKS_CONFIG)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{url}/openapi.json",
        "--phases",
        caller.phases,
        "--max-examples",
        str(caller.examples),
        "--seed",
        SEED,
        # One worker: Python 3.11's ast module is not thread-safe ("AST constructor recursion
        # depth mismatch"), and Hypothesis parses lambdas' source while describing strategies.
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-shrink",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    if caller.token:
        command += ["--header", f"Authorization: Bearer {caller.token}"]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPOSITORY),
        "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
        REFUSED_ENV: caller.refused_marker or "",
    }
    # cwd: schemathesis keeps its example database and reports in the working directory.
    finished = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    (workdir / "output.txt").write_text(finished.stdout + finished.stderr)
    assert report.exists(), f"schemathesis did not run:\n{finished.stdout[-3000:]}{finished.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(report.read_text())
    result["output"] = finished.stdout
    return result


def test_fuzzing_the_openapi_document_finds_no_5xx_and_no_contract_violation(
    stack: FedopsStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target, foreign_credential = _prepare(stack.url)
    callers = [
        Caller("admin", ADMIN_TOKEN, "examples,coverage,fuzzing,stateful", EXAMPLES),
        Caller("client-of-other-task", foreign_credential, "coverage,fuzzing", EXAMPLES // 2, target, target),
        # Authentication comes before any parsing, so a few cases per operation show the 401s.
        Caller("anonymous", None, "fuzzing", max(EXAMPLES // 4, 1), "/api/v1/"),
    ]
    summary = []
    for caller in callers:
        started = time.monotonic()
        result = _schemathesis(stack.url, caller, tmp_path / f"fuzz-{caller.name}")
        failures = {f["title"]: f["operations"] for f in result["failures"]}
        summary.append(
            f"{caller.name}: {result['test_cases']['generated']} cases, {len(failures)} kinds of failure, "
            f"{result['operations']['tested']}/{result['operations']['total']} operations, "
            f"{time.monotonic() - started:.0f} s"
        )
        assert result["operations"]["tested"] == result["operations"]["total"]
        assert not failures and not result["errors"], f"{caller.name}:\n{result['output'][-20000:]}"
    with capsys.disabled():
        print("\nfuzz " + "; ".join(summary))
    server_log = stack.process.output() if stack.process else ""
    assert "Traceback" not in server_log, server_log[-5000:]
