"""Child processes that never outlive the process that started them.

Three holes let a process outlive its parent, and each has its own stop here:

- ``PR_SET_PDEATHSIG`` is set by the child after ``fork``. If the parent dies before
  that, the child is already an orphan and the signal never comes. :func:`die_with_parent`
  therefore checks, after ``prctl``, that its parent is still the process that forked it
  (recorded in the parent just before ``fork``) and exits otherwise.
- The death signal fires when the *thread* that forked exits, not the process: start
  long-lived children from the main thread (a worker thread's end would kill them early).
- Flower starts its own children (SuperLink starts ``flower-superexec`` in a new session,
  which starts ``flwr-serverapp``) without any of this. :func:`write_parent_death_shims`
  puts small launchers for those commands first on their PATH: each sets the death
  signal and checks the ``--parent-pid`` Flower passes before it execs the real command.
  A process that is also a subreaper (:func:`become_subreaper`) gets the descendants of
  a dead child reparented to itself and ends them with :func:`kill_descendants`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "become_subreaper",
    "descendants",
    "die_with_parent",
    "kill_descendants",
    "write_parent_death_shims",
]

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
ORPHANED_EXIT_CODE = 70  # the parent was gone before the death signal was armed

_forking_pid: int | None = None


def _record_forking_pid() -> None:
    global _forking_pid
    _forking_pid = os.getpid()


# Runs in the parent just before every fork that can run Python in the child: os.fork and
# Popen with a preexec_fn. The child's copy then holds the pid its parent had.
os.register_at_fork(before=_record_forking_pid)


def _prctl(option: int, value: int) -> None:
    if ctypes.CDLL("libc.so.6", use_errno=True).prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def die_with_parent(expected_parent: int | None = None) -> None:
    """``preexec_fn`` for Popen: the kernel SIGKILLs the child when its parent dies.

    A client or server runtime killed outright (SIGKILL, OOM) would otherwise leave its
    SuperNode or SuperLink running, holding ports and talking to a federation alone.
    As a ``preexec_fn`` the expected parent is the process that forked; a process calling
    it on itself may pass it. Call Popen from the thread that lives as long as the child
    should (Linux ties the signal to the creating thread).
    """
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    expected = expected_parent if expected_parent is not None else _forking_pid
    if expected is not None and expected != os.getpid() and os.getppid() != expected:
        os._exit(ORPHANED_EXIT_CODE)  # the parent died before prctl: no signal will come


def become_subreaper() -> None:
    """Orphaned descendants are reparented to this process instead of init."""
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces and ")"
    return None if fields[0] == "Z" else int(fields[1])


def descendants(pid: int) -> set[int]:
    """Live (not zombie) descendants of ``pid``, from one scan of /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def _reap(pids: Iterable[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # only our own children (reparented ones included)


def kill_descendants(timeout: float = 10.0) -> set[int]:
    """SIGKILL every descendant of this process until none is left; those still alive at
    the deadline are returned. New descendants appearing meanwhile are killed too."""
    deadline = time.monotonic() + timeout
    left = descendants(os.getpid())
    while left and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        _reap(left)
        left = descendants(os.getpid())
    return left


_SHIM = """\
#!{python} -IS
# Written by fedops: run {target} so that it dies with the process Flower names in
# --parent-pid (Flower starts it without a parent-death signal, in a session of its own).
import ctypes, os, sys

args = sys.argv[1:]
parent = None
for index, arg in enumerate(args):
    if arg == "--parent-pid" and index + 1 < len(args):
        parent = int(args[index + 1])
    elif arg.startswith("--parent-pid="):
        parent = int(arg.partition("=")[2])
if ctypes.CDLL("libc.so.6", use_errno=True).prctl({pdeathsig}, {sigkill}, 0, 0, 0) != 0:
    sys.exit("{name}: cannot set the parent-death signal")
if parent is not None and os.getppid() != parent:
    sys.exit("{name}: its parent is gone")
os.execv({target!r}, [{target!r}, *args])
"""


def write_parent_death_shims(directory: Path, python: Path, executables: dict[str, Path]) -> Path:
    """Launchers named like ``executables`` (name -> real path) in ``directory``, to put
    first on the PATH of a process that starts them by name; returns ``directory``."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, target in executables.items():
        text = _SHIM.format(
            python=python,
            target=str(target),
            name=name,
            pdeathsig=_PR_SET_PDEATHSIG,
            sigkill=int(signal.SIGKILL),
        )
        path = directory / name
        temporary = path.with_name(f".{name}.tmp")
        temporary.write_text(text)
        temporary.chmod(0o700)
        temporary.replace(path)  # atomic: a concurrent start never runs half a script
    return directory
