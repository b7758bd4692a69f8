"""Exercise 07.3 against the real kernel: the helper that makes an ordinary user's process, the rules
newuidmap works around, and the checker's own namespace."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from labkit import inventory, ns
from labkit.check import check
from labkit.exercises import namespaces as ex
from labkit.kernel import CLONE_NEWUSER, unshare

pytestmark = pytest.mark.integration

RIGHT = "0 1000 1\n1 100000 65536"


@pytest.fixture(autouse=True)
def leaves_nothing(root):
    before = set(inventory.lab_owned_pids("07"))
    yield
    assert set(inventory.lab_owned_pids("07")) <= before


def write_errno(path: str, text: str) -> int:
    """Write `text` in one write(2); 0 when the kernel takes it, else the errno."""
    try:
        Path(path).write_text(text)
        return 0
    except OSError as err:
        return err.errno


def test_become_user_leaves_an_ordinary_process_that_still_owns_its_proc_files():
    def who():
        ns.become_user(1000)
        return os.getuid(), os.getgid(), os.getgroups(), os.stat("/proc/self/uid_map").st_uid

    assert ns.in_child(who) == (1000, 1000, [], 1000)


def test_an_ordinary_user_may_map_only_its_own_uid_itself():
    def try_maps():
        ns.become_user(1000)
        unshare(CLONE_NEWUSER)
        return (write_errno("/proc/self/uid_map", RIGHT + "\n"), write_errno("/proc/self/uid_map", "0 1000 1\n"),
                os.getuid())

    assert ns.in_child(try_maps) == (errno.EPERM, 0, 0)


def test_the_kernel_refuses_overlapping_lines_as_the_checker_says():
    # The checker reports overlaps from labkit's copy of the kernel's rule; the kernel agrees.
    with ns.hold(ex._rootless_runtime, 1000) as runtime:
        assert write_errno(f"/proc/{runtime.pid}/uid_map", "0 1000 1\n0 100000 65536\n") == errno.EINVAL


def test_the_checker_writes_the_map_into_a_real_namespace_and_accepts_it():
    assert ex.kernel_takes(RIGHT) == ns.parse_id_map(RIGHT)
    assert check("07.3", RIGHT).ok
