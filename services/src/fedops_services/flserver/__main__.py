"""``fedops-server``: run one task's Flower SuperLink.

The SuperLink keeps its state in the task's data directory and never installs
dependencies at run time (that would fetch packages on the server). The process is
replaced by the SuperLink so that the supervisor's (or kubelet's) signals reach it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn

__all__ = ["main", "superlink_command"]


def superlink_command(*, host: str, port: int, data_dir: Path) -> list[str]:
    executable = shutil.which("flower-superlink") or str(Path(sys.executable).with_name("flower-superlink"))
    return [
        executable,
        "--insecure",  # loopback only in the embedded default; TLS comes with the runtime issue
        "--disable-runtime-dependency-installation",
        "--database",
        str(data_dir / "superlink.db"),
        "--host",
        host,
        "--port",
        str(port),
    ]


def main(argv: list[str] | None = None) -> NoReturn:
    parser = argparse.ArgumentParser(prog="fedops-server", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("FEDOPS_FLEET_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("FEDOPS_FLEET_PORT", "9092")))
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("FEDOPS_SERVER_DATA_DIR", ".")))
    args = parser.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    command = superlink_command(host=args.host, port=args.port, data_dir=args.data_dir)
    os.execv(command[0], command)  # noqa: S606 - replace this process, no shell involved


if __name__ == "__main__":
    main()
