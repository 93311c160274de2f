"""`make run`'s demo, as CI runs it: everything from one command, then a summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]  # `make run` runs the demo from here


def test_the_demo_runs_three_rounds_and_writes_its_summary(tmp_path: Path) -> None:
    summary_path = tmp_path / "demo-summary.json"

    result = subprocess.run(
        [sys.executable, "-m", "tooling.demo", "--work-dir", str(tmp_path / "demo"),
         "--summary", str(summary_path)],
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
