"""The generated dashboards against Grafana's own types: `@grafana/schema`'s `Dashboard`.

@grafana/schema (13.2.3, schemaVersion 42) ships TypeScript types, not a JSON Schema, so each
dashboard becomes a TypeScript constant of type `Dashboard` and `tsc --strict` checks it:
wrong types, unknown keys and missing required fields fail. TypeScript and @grafana/schema are
installed by `make js-tools` (pinned by tooling/observability/package-lock.json) outside the
clone; this test never installs anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from tooling.observability.__main__ import DASHBOARD_DIR, REPO

LOCK = REPO / "tooling" / "observability" / "package-lock.json"


def js_tools() -> Path:
    """Where `make js-tools` installed the lock (the Makefile exports FEDOPS_JS_TOOLS)."""
    default = Path.home() / ".cache" / "fedops" / f"js-{hashlib.sha256(LOCK.read_bytes()).hexdigest()[:12]}"
    directory = Path(os.environ.get("FEDOPS_JS_TOOLS", default))
    assert (directory / ".complete").exists(), f"{directory} is missing: run `make js-tools`"
    return directory


def type_check(tmp_path: Path, dashboards: dict[str, str]) -> subprocess.CompletedProcess[str]:
    tools = js_tools()
    # The import of @grafana/schema resolves through node_modules next to the checked files.
    (tmp_path / "node_modules").symlink_to(tools / "node_modules")
    files = []
    for name, text in dashboards.items():
        source = tmp_path / f"{name}.ts"
        source.write_text(
            "import type { Dashboard } from '@grafana/schema';\n"
            f"export const dashboard: Dashboard = {text};\n"
        )
        files.append(str(source))
    tsc = str(tools / "node_modules" / ".bin" / "tsc")
    options = ["--noEmit", "--strict", "--skipLibCheck", "--moduleResolution", "bundler"]
    command = [tsc, *options, "--module", "esnext", "--target", "es2022", *files]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)


def test_every_dashboard_has_grafanas_dashboard_type(tmp_path: Path) -> None:
    dashboards = {path.stem: path.read_text() for path in sorted(DASHBOARD_DIR.glob("*.json"))}
    assert sorted(dashboards) == ["client", "overview", "task"]
    result = type_check(tmp_path, dashboards)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_type_check_refuses_a_broken_dashboard(tmp_path: Path) -> None:
    broken = json.loads((DASHBOARD_DIR / "task.json").read_text())
    broken["graphTooltip"] = 7  # not a DashboardCursorSync
    broken["panels"][1]["gridPos"]["h"] = "8"  # a string
    broken["templating"]["list"][1]["auto_count"] = 30  # the key the generator strips
    result = type_check(tmp_path, {"broken": json.dumps(broken)})
    assert result.returncode != 0
    assert "Type '7' is not assignable to type 'DashboardCursorSync | undefined'" in result.stdout
    assert "'string' is not assignable to type 'number'" in result.stdout
    assert "auto_count" in result.stdout
