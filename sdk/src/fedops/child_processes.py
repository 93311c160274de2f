"""Child processes that never outlive the process that started them."""

from __future__ import annotations

import ctypes
import signal

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn`` for Popen: the kernel SIGKILLs the child when its parent dies.

    A client or server runtime killed outright (SIGKILL, OOM) would otherwise leave its
    SuperNode or SuperLink running, holding ports and talking to a federation alone.
    Call Popen from the thread that lives as long as the child should (Linux ties the
    signal to the creating thread).
    """
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
