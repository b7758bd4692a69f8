"""os.fork() from a process with threads, such as a Jupyter kernel, where the fork is the lesson's point.

Python 3.12+ warns (DeprecationWarning) on every fork of a multi-threaded process: the child has
only the forking thread, so a lock another thread held at that moment stays held in the child for
ever. That is no risk for a child that takes no such lock before it execs or _exits. A kernel's
other threads own its ZMQ sockets and output streams; labkit's children write to their own pipe,
and their parent kills one that does not answer in time.
"""
from __future__ import annotations

import os
import warnings

# CPython's wording (Modules/posixmodule.c, warn_about_fork_with_threads), and nothing else.
_THREADS_WARNING = r"This process \(pid=\d+\) is multi-threaded, use of fork\(\) may lead to deadlocks in the child"


def fork() -> int:
    """os.fork(), without 3.12+'s warning about the caller's other threads; only for children that
    leave their parent's streams and sockets alone, then exec or _exit."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_THREADS_WARNING, category=DeprecationWarning)
        return os.fork()
