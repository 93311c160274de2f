"""`make run`'s demo, as CI runs it: everything from one command, then a summary; its data stays
in the data dir for a later `fedops up` (`make up`), next to the tasks a person made there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tooling.demo import DEMO_TASK
from tooling.local_federation import LocalFederation

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]  # `make run` runs the demo from here


def test_the_demo_runs_three_rounds_and_writes_its_summary(tmp_path: Path) -> None:
    summary_path = tmp_path / "demo-summary.json"
    data = tmp_path / "data"  # as `make up`'s .fedops, with a person's task and an older demo's
    before = LocalFederation(tmp_path / "before", data_dir=data)
    before.start_api()
    mine = before.create_task({"name": "my-task"}).id
    older_demo = before.create_task({"name": DEMO_TASK}).id
    before.stop(keep_tasks=True)

    result = subprocess.run(
        [sys.executable, "-m", "tooling.demo", "--work-dir", str(tmp_path / "demo"),
         "--data-dir", str(data), "--summary", str(summary_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "finished"
    assert [r["round"] for r in summary["rounds"]] == [1, 2, 3]
    assert all(r["accuracy"] is not None and r["clients"] == 2 for r in summary["rounds"])
    assert summary["gradcam"]["per_round"] == {"1": 20, "2": 20, "3": 20}  # 10 classes x 2 clients
    assert all(Path(f).name.startswith("gradcam_class_") for f in summary["gradcam"]["files"])
    assert "round 3/3: accuracy" in result.stdout
    assert "sign in with the admin token in" in result.stdout and str(data / "admin-token") in result.stdout

    after = LocalFederation(tmp_path / "after", data_dir=data)  # `make up` afterwards
    after.start_api()
    try:
        tasks = {task.id: task for task in after.api.registry.list_tasks().data}
        demo = tasks[summary["task_id"]]
        rounds = after.api.monitoring.rounds(demo.id).data
        images = after.api.monitoring.artifacts(demo.id, limit=1).count
    finally:
        after.stop(keep_tasks=True)
    assert mine in tasks and older_demo not in tasks and len(tasks) == 2
    assert (demo.name, demo.status, [r.round for r in rounds], images) == (
        DEMO_TASK,
        "finished",
        [1, 2, 3],
        60,
    )
