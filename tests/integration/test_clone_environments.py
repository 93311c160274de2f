"""Two clones installed one after the other, the second deleted: the first still works.

Each clone has its own ``.venv`` (its sdk/ and services/ editable, Flower's and the tools'
commands started by its own interpreter) on top of the shared third-party environment, so
installing a clone re-points nothing in another (issue 9). Cheap: the clones reuse the
shared environment of this run (``DEPS=``), so each install is a virtualenv and two
editable installs. `.ci/run` also runs `make run` in a clone after this dance.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # two `make install`s, about half a minute

REPO = Path(__file__).resolve().parents[2]
# What a `make` above this test passes down must not reach the clones' `make` (a VENV=
# given to `make test` would be the first clone's environment for both).
_MAKE_ENV = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VENV", "DEPS"}


def _shared_environment() -> Path:
    stamp = Path(sys.prefix) / "fedops-env.json"  # written by scripts/clone_env.py
    if not stamp.is_file():
        pytest.skip(f"{sys.prefix} was not made by `make install`")
    return Path(json.loads(stamp.read_text())["deps"])


def _run(*command: str | Path, cwd: Path | None = None) -> str:
    env = {key: value for key, value in os.environ.items() if key not in _MAKE_ENV}
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_a_clone_keeps_working_after_another_is_installed_and_deleted(tmp_path: Path) -> None:
    deps = _shared_environment()
    first, second = tmp_path / "clone-a", tmp_path / "clone-b"
    for clone in (first, second):
        _run("git", "clone", "--quiet", REPO, clone)
        _run("make", "-C", clone, "--no-print-directory", "install", f"DEPS={deps}")
    shutil.rmtree(second)

    bin_dir = first / ".venv" / "bin"
    assert _run("make", "-s", "-C", first, "--no-print-directory", "venv-bin").strip() == str(bin_dir)
    where = _run(
        bin_dir / "python",
        "-c",
        "import fedops, fedops_services, fedops_services.flserver\n"
        "from fedops_services.flserver.runtime import flower_bin_dir\n"
        "print(fedops.__file__, fedops_services.__file__, flower_bin_dir(), sep='\\n')",
    ).split()
    assert where == [
        str(first / "sdk" / "src" / "fedops" / "__init__.py"),
        str(first / "services" / "src" / "fedops_services" / "__init__.py"),
        str(bin_dir),
    ]
    assert "task" in _run(bin_dir / "fedops", "--help")
    # Third-party commands run this clone's interpreter, so they import its sources too.
    for command in ("flower-superlink", "flwr-serverapp", "pytest", "alembic"):
        assert (bin_dir / command).read_text().splitlines()[0] == f"#!{bin_dir / 'python'}"
    assert "pytest" in _run(bin_dir / "pytest", "--version")
    # And this run's own environment still imports this checkout.
    import fedops

    assert Path(fedops.__file__).is_relative_to(REPO)
