"""labkit's forks from a process with threads, as a Jupyter kernel is, on every Python: 3.12+'s
warning about such forks is silenced there and only there, and a child's error keeps its traceback."""
from __future__ import annotations

import os
import sys
import threading
import warnings

import pytest

from labkit import ns
from labkit.exercises import by_hand


@pytest.fixture
def threads():
    """A second thread while the test runs, as a kernel has its IOPub and heartbeat threads."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


def fork_warnings(fn) -> list[str]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in seen if "fork" in str(w.message)]


def bare_fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def test_a_bare_fork_warns_from_python_3_12_on(threads):
    # What labkit.forking silences exists, and stays loud for forks that are not labkit's.
    assert bool(fork_warnings(bare_fork)) == (sys.version_info >= (3, 12))


def test_in_child_forks_without_the_warning(threads):
    assert fork_warnings(lambda: ns.in_child(os.getpid)) == []


def test_the_10_2_checker_forks_without_the_warning(threads):
    def refuse():
        raise RuntimeError("no")

    out = []
    assert fork_warnings(lambda: out.append(by_hand.run_steps([refuse], "true"))) == []
    assert out == ["step failed: refuse: no\n"]


def test_a_childs_exception_comes_back_with_its_traceback_as_a_note():
    with pytest.raises(ZeroDivisionError) as err:
        ns.in_child(lambda: 1 / 0)
    assert err.value.__notes__[0].startswith("In the child process:\nTraceback")


def _child_writing(data: bytes, then_sleep: float) -> tuple[int, int]:
    import time

    from labkit.forking import fork

    r, w = os.pipe()
    pid = fork()
    if pid == 0:
        try:
            os.write(w, data)
            time.sleep(then_sleep)
        finally:
            os._exit(0)
    os.close(w)
    return r, pid


def test_collect_returns_what_the_child_wrote_and_reaps_it():
    from labkit.forking import collect

    r, pid = _child_writing(b"hello\n", 0)
    assert collect(r, pid, timeout=10, late="too late") == "hello\n"
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)                      # reaped already


def test_collect_kills_a_child_that_outlives_its_time():
    from labkit.forking import collect

    r, pid = _child_writing(b"started\n", 60)
    assert collect(r, pid, timeout=0.3, late="too late") == "started\ntoo late\n"
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)
