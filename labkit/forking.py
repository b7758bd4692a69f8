"""os.fork() from a process with threads, such as a Jupyter kernel, where the fork is the lesson's point.

Python 3.12+ warns (DeprecationWarning) on every fork of a multi-threaded process: the child has
only the forking thread, so a lock another thread held at that moment stays held in the child for
ever. That is no risk for a child that takes no such lock before it execs or _exits. A kernel's
other threads own its ZMQ sockets and output streams; labkit's children write to their own pipe,
and their parent kills one that does not answer in time.
"""
from __future__ import annotations

import os
import select
import signal
import time
import warnings

# CPython's wording (Modules/posixmodule.c, warn_about_fork_with_threads), and nothing else.
_THREADS_WARNING = r"This process \(pid=\d+\) is multi-threaded, use of fork\(\) may lead to deadlocks in the child"


def fork() -> int:
    """os.fork(), without 3.12+'s warning about the caller's other threads; only for children that
    leave their parent's streams and sockets alone, then exec or _exit."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_THREADS_WARNING, category=DeprecationWarning)
        return os.fork()


def collect(r: int, pid: int, timeout: float, late: str) -> str:
    """Everything forked child `pid` writes to pipe `r` until it closes its end, then reap it; a child
    still writing after `timeout` seconds is killed and `late` ends the output instead."""
    out, deadline = b"", time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                out += late.encode() + b"\n"
                break
            chunk = os.read(r, 65536)
            if not chunk:
                break
            out += chunk
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    return out.decode(errors="replace")
