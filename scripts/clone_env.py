"""Give this clone its own small Python environment on top of the shared third-party one.

`make install` keeps the third-party packages (requirements/lock.txt) in one virtualenv
per lock, ``~/.cache/fedops/deps-<key>``, shared by every clone on the machine and never
changed once built. This script (run by that environment's interpreter, from the clone's
top directory) makes ``.venv/`` in the clone:

- a virtualenv without packages of its own but for ``fedops-deps.pth``, which makes Python
  add the shared site-packages (and process its .pth files) at start-up;
- ``sdk/`` and ``services/`` installed editable into it, so ``.venv/bin/python`` imports
  this clone's sources, and installing another clone re-points nothing here;
- in ``.venv/bin``, every console script of the shared environment (pytest, mypy, alembic,
  flower-superlink, ...) with ``.venv/bin/python`` in its shebang: they import this clone's
  sources too, and Flower's commands sit next to ``sys.executable``, where fedops-server
  looks for them. Binaries (ruff) are symlinked.

Idempotent: ``.venv/fedops-env.json`` records what the environment was made for (the shared
environment, the clone's path and its packages' metadata); when either differs, ``.venv``
is rebuilt (~10 s). A ``.venv`` without that file is someone else's: it is left alone and
the install stops.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

STAMP = "fedops-env.json"
PACKAGES = ("sdk", "services")  # this repository's distributions, installed editable
# Names in the shared bin/ that belong to that environment itself, not to a package.
OWN_FILES = re.compile(r"^(python[0-9.]*|activate.*|Activate\.ps1)$")
SHEBANG_MAX = 127  # Linux reads no more of a `#!` line; pip starts longer ones through /bin/sh


def site_packages(prefix: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))


def wrap_scripts(deps: Path, clone_venv: Path) -> None:
    """Console scripts of the shared environment, started by this clone's interpreter."""
    # pip writes `#!<env>/bin/python3.11`, or for long paths `#!/bin/sh` and then
    # `'''exec' "<env>/bin/python3.11" ...`: the interpreter is on one of the first two lines.
    shared_python = re.compile(re.escape(str(deps / "bin" / "python")) + r"[0-9.]*")
    clone_python = str(clone_venv / "bin" / "python")
    for source in sorted((deps / "bin").iterdir()):
        target = clone_venv / "bin" / source.name
        if OWN_FILES.match(source.name) or target.exists() or not source.is_file():
            continue
        head = source.read_bytes()[:2]
        if head == b"#!":
            lines = source.read_text().splitlines(keepends=True)
            lines[:2] = [shared_python.sub(clone_python, line) for line in lines[:2]]
            if len(lines[0]) > SHEBANG_MAX:  # pip's own way round the limit
                lines[:1] = ["#!/bin/sh\n", f'\'\'\'exec\' "{clone_python}" "$0" "$@"\n', "' '''\n"]
            target.write_text("".join(lines))
            target.chmod(0o755)
        else:  # a compiled program: it imports nothing
            target.symlink_to(source)


def build(deps: Path, clone_venv: Path, repo: Path) -> None:
    shutil.rmtree(clone_venv, ignore_errors=True)
    # Run by the shared environment's interpreter, EnvBuilder uses its base interpreter: both
    # environments have the same Python.
    venv.EnvBuilder(symlinks=True, with_pip=False).create(clone_venv)
    (clone_venv / STAMP).write_text("{}\n")  # ours but unfinished: the next install rebuilds it
    shared = site_packages(deps)
    if not shared.is_dir():
        sys.exit(f"clone_env: {shared} is missing (is {deps} a complete environment?)")
    # A line starting with `import` is executed at start-up; addsitedir also runs the
    # shared environment's own .pth files, as if it were this environment's site-packages.
    (site_packages(clone_venv) / "fedops-deps.pth").write_text(
        f"import site; site.addsitedir({str(shared)!r})\n"
    )
    wrap_scripts(deps, clone_venv)
    subprocess.run(
        [
            str(clone_venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
            "--disable-pip-version-check", "--no-deps", "--no-build-isolation",
            *(arg for part in PACKAGES for arg in ("-e", str(repo / part))),
        ],
        check=True,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deps", type=Path, required=True, help="the shared third-party environment")
    parser.add_argument("--venv", type=Path, default=Path(".venv"), help="this clone's environment")
    args = parser.parse_args()
    repo = Path.cwd().resolve()
    deps, clone_venv = args.deps.absolute(), args.venv.absolute()
    # The packages' metadata (dependencies, console scripts, entry-point plugins) is fixed
    # into the editable installs: a change to either pyproject.toml rebuilds .venv.
    metadata = hashlib.sha256(b"".join((repo / part / "pyproject.toml").read_bytes() for part in PACKAGES))
    wanted = {
        "deps": str(deps),
        "venv": str(clone_venv),
        "repo": str(repo),
        "pyprojects": metadata.hexdigest()[:12],
    }
    stamp = clone_venv / STAMP
    if clone_venv.exists() and not stamp.is_file():
        sys.exit(f"clone_env: {clone_venv} was not made by `make install`; remove it (or set VENV=)")
    with contextlib.suppress(OSError, ValueError):
        if json.loads(stamp.read_text()) == wanted and (clone_venv / "bin" / "python").exists():
            return
    print(f"clone_env: {clone_venv} on top of {deps}", flush=True)
    build(deps, clone_venv, repo)
    stamp.write_text(json.dumps(wanted, indent=2) + "\n")  # last: a broken build is redone


if __name__ == "__main__":
    main()
