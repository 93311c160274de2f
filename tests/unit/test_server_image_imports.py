"""The services image installs sdk/ and services/ without the edge-client extras
(torch, torchvision, grad-cam): every server-side entry point must import without them."""

from __future__ import annotations

import subprocess
import sys

SERVER_MODULES = (
    "fedops_services.app",
    "fedops_services.cli",
    "fedops_services.db.migrate",
    "fedops_services.flserver.__main__",
    "fedops_services.flserver.serverapp",
    "fedops_services.provisioners.kubernetes",
    "fedops.cli.main",
)


def test_server_side_modules_import_without_the_client_extras() -> None:
    blocked = ("torch", "torchvision", "pytorch_grad_cam", "psutil")
    script = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None  # import fails like a missing package\n"
        f"for module in {SERVER_MODULES!r}: __import__(module)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
