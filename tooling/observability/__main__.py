"""Write (or, with --check, compare) the generated dashboards and alert rules.

    python -m tooling.observability [--check]

``--check`` writes nothing and exits 1, naming each file that differs (with a diff), when a
committed file is not what the code generates, or when the directory holds a stale one.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

from tooling.observability.dashboards import DASHBOARDS, to_json
from tooling.observability.rules import rules_yaml

REPO = Path(__file__).resolve().parents[2]
FILES = REPO / "charts" / "fedops" / "files"
DASHBOARD_DIR = FILES / "dashboards"
RULES_FILE = FILES / "rules" / "fedops-alerts.yml"


def generated() -> dict[Path, str]:
    """Every generated file and its content."""
    files = {
        DASHBOARD_DIR / f"{name}.json": json.dumps(to_json(build()), indent=2, sort_keys=True) + "\n"
        for name, build in DASHBOARDS.items()
    }
    files[RULES_FILE] = rules_yaml()
    return files


def check(files: dict[Path, str]) -> list[str]:
    """Differences between the committed files and ``files``, as printable text."""
    problems = []
    for path, text in files.items():
        current = path.read_text() if path.exists() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True), text.splitlines(keepends=True), str(path), "generated"
            )
            problems.append(f"{path.relative_to(REPO)} differs from the generator:\n{''.join(diff)}")
    for stale in sorted(set(DASHBOARD_DIR.glob("*.json")) - set(files)):
        problems.append(f"{stale.relative_to(REPO)} is not generated any more: delete it")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.observability", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    files = generated()
    if args.check:
        problems = check(files)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run `python -m tooling.observability` and commit the result", file=sys.stderr)
        return 1 if problems else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
