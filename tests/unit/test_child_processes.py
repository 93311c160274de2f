"""Children never outlive their parent, even when it dies at the worst moment (issue 8).

The races are made certain instead of hoped for: the child waits until its parent has
been SIGKILLed before it arms the parent-death signal (the window between fork and
prctl), and a Flower-style launch is given a parent that is already gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from fedops.child_processes import descendants, write_parent_death_shims
from tests.support.processes import ManagedProcess, pid_running, wait_until

# A parent whose child arms the death signal only after the parent is gone, then execs a
# long sleep: an orphan unless die_with_parent notices its parent changed.
_LATE_ARMING_PARENT = """
import os, subprocess, sys, time
from pathlib import Path
from fedops.child_processes import die_with_parent

ready = Path(sys.argv[1])

def arm_too_late():
    parent = os.getppid()
    ready.write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while os.getppid() == parent and time.monotonic() < deadline:  # until reparented
        time.sleep(0.01)
    die_with_parent()

subprocess.Popen(["sleep", "300"], preexec_fn=arm_too_late)
time.sleep(300)
"""

_TARGET = """\
#!{python}
import sys, time
print(" ".join(sys.argv[1:]), flush=True)
time.sleep(300)
"""


def test_a_parent_killed_before_the_child_arms_its_death_signal_leaves_no_orphan(tmp_path: Path) -> None:
    ready = tmp_path / "child.pid"
    parent = ManagedProcess(
        [sys.executable, "-c", _LATE_ARMING_PARENT, str(ready)], log_path=tmp_path / "parent.log"
    )
    child: int | None = None
    try:
        wait_until(lambda: ready.exists() and ready.read_text() != "", timeout=60, what="the child")
        child = int(ready.read_text())
        parent.kill()  # after fork, before prctl in the child
        wait_until(lambda: not pid_running(child), timeout=10, what=f"orphan {child} to end")
    finally:
        if pid_running(child):  # the orphan this test is about: never left behind
            assert child is not None
            os.kill(child, signal.SIGKILL)
        parent.stop()


def _shim(tmp_path: Path) -> Path:
    target = tmp_path / "real" / "flower-superexec"
    target.parent.mkdir()
    target.write_text(_TARGET.format(python=sys.executable))
    target.chmod(0o700)
    shims = write_parent_death_shims(tmp_path / "shims", Path(sys.executable), {"flower-superexec": target})
    return shims / "flower-superexec"


def test_a_flower_launch_whose_parent_is_already_gone_does_not_run(tmp_path: Path) -> None:
    shim = _shim(tmp_path)
    gone = subprocess.Popen(["true"])
    gone.wait()
    launched = subprocess.run(
        [str(shim), "--parent-pid", str(gone.pid)], capture_output=True, text=True, timeout=60, check=False
    )
    assert launched.returncode != 0 and "parent is gone" in launched.stderr
    assert launched.stdout == ""  # the real command never ran


def test_a_flower_launch_dies_with_the_parent_it_names(tmp_path: Path) -> None:
    shim = _shim(tmp_path)
    script = textwrap.dedent(f"""
        import os, subprocess, time
        subprocess.Popen([{str(shim)!r}, "--parent-pid", str(os.getpid()), "--other", "x"])
        time.sleep(300)
    """)
    parent = ManagedProcess([sys.executable, "-c", script], log_path=tmp_path / "parent.log")
    try:
        wait_until(lambda: "--other x" in parent.output(), timeout=60, what="the real command")
        (child,) = descendants(parent.pid)
        assert b"real/flower-superexec" in Path(f"/proc/{child}/cmdline").read_bytes()  # exec'd, no wrapper
        os.kill(parent.pid, signal.SIGKILL)
        parent.process.wait(timeout=10)
        wait_until(lambda: not pid_running(child), timeout=10, what="the launched command to end")
    finally:
        parent.stop()
