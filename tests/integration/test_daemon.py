"""The daemon supervisor with real processes: a failure names the daemon and shows its log."""
import os

import pytest

from labkit.engine.daemon import Daemon
from labkit.errors import LabError

pytestmark = pytest.mark.integration


def test_a_daemon_that_exits_is_named_with_its_log_tail(root):
    d = Daemon("lab-test-crash", ["sh", "-c", "echo 'listen tcp: address already in use' >&2; exit 3"], ready=lambda: False)
    try:
        with pytest.raises(LabError) as err:
            d.start()
        text = str(err.value)
        assert "lab-test-crash failed to start" in text
        assert "exited with status 3" in text
        assert "address already in use" in text
    finally:
        d.logfile.unlink(missing_ok=True)


def test_a_daemon_that_never_answers_is_stopped_not_left_running(root):
    d = Daemon("lab-test-mute", ["sleep", "1000.5"], ready=lambda: False, timeout=0.5)
    try:
        with pytest.raises(LabError, match="did not answer within"):
            d.start()
        assert d.pid() is None
    finally:
        d.stop()
        d.logfile.unlink(missing_ok=True)


def test_a_daemon_is_found_by_its_command_line_and_stopped(root):
    d = Daemon("lab-test-ok", ["sleep", "1000.25"], ready=lambda: True)
    try:
        d.start()
        pid = d.pid()
        assert pid and open(f"/proc/{pid}/cmdline", "rb").read() == b"sleep\x001000.25\x00"
        assert os.getsid(pid) == pid          # its own session: it outlives a notebook kernel
    finally:
        d.stop()
        d.logfile.unlink(missing_ok=True)
    assert d.pid() is None
