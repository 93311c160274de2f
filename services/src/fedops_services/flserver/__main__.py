"""``fedops-server``: the FL server of one task (what a provisioner runs)."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from fedops_services.flserver.runtime import ServerRuntime

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fedops-server", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("FEDOPS_FLEET_HOST", "127.0.0.1"),
                        help="interface of the fleet port edge machines connect to")  # fmt: skip
    parser.add_argument("--port", type=int, default=int(os.environ.get("FEDOPS_FLEET_PORT", "9092")))
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("FEDOPS_SERVER_DATA_DIR", ".")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    missing = [
        name
        for name in ("FEDOPS_TASK_ID", "FEDOPS_API_URL", "FEDOPS_SERVER_TOKEN")
        if not os.environ.get(name)
    ]
    if missing:
        parser.error(f"missing environment: {', '.join(missing)} (the provisioner sets them)")
    runtime = ServerRuntime(
        task_id=os.environ["FEDOPS_TASK_ID"],
        api_url=os.environ["FEDOPS_API_URL"],
        token=os.environ["FEDOPS_SERVER_TOKEN"],
        data_dir=args.data_dir.resolve(),
        host=args.host,
        port=args.port,
    )
    return runtime.run()


if __name__ == "__main__":
    raise SystemExit(main())
