"""Lessons 09 and 10's checkers accept a right answer given against the real kernel (the notebooks
prove the lessons' own solutions; tests/unit/test_check.py proves the wrong answers are refused)."""
from __future__ import annotations

import os

import pytest

from labkit import fs
from labkit.check import check
from labkit.kernel import (CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, MS_BIND, MS_PRIVATE,
                           MS_RDONLY, MS_REC, MS_REMOUNT, mount, unshare)

pytestmark = pytest.mark.integration


def test_09_2_accepts_labkits_own_readonly_paths(root):
    result = check("09.2", fs.readonly_paths)
    assert result.ok, result.message


def container_steps(ov: fs.Overlay, tmp_at: int | None) -> list:
    """Lesson 10's steps (named as the lesson names them; the checker reads the names), without the
    cgroup and capabilities, with a tmpfs step at `tmp_at`."""
    def new_namespaces():
        unshare(CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        if os.fork():
            _, status = os.wait()
            os._exit(os.waitstatus_to_exitcode(status))

    def container_mounts():
        fs.mount_proc(ov.merged)
        fs.mount_dev(ov.merged)

    def pivot():
        fs.pivot_root(ov.merged)

    def lock_down():
        mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY)

    def tmp():
        os.makedirs("/tmp", exist_ok=True)
        mount("tmpfs", "/tmp", "tmpfs")

    steps = [new_namespaces, container_mounts, pivot, lock_down]
    if tmp_at is not None:
        steps.insert(tmp_at, tmp)
    return steps


@pytest.mark.parametrize("tmp_at, verdict", [
    (3, "Right"),                                           # after the pivot, before the lock-down
    (4, "before the one that remounts / read-only"),        # too late: mkdir /tmp on a read-only root
    (None, "add one of your own"),
    (2, "/tmp is no mount point"),                          # before the pivot: on the old root's /tmp
    (0, "before new_namespaces"),                           # would mount on the host's /tmp: never run
])
def test_10_2_wants_a_tmpfs_made_before_the_lock_down(engine, tmp_at, verdict):
    ov = fs.overlay("lab-10-tcheck", fs.rootfs("labkit/busybox"))     # fresh: no /tmp from an earlier run
    try:
        result = check("10.2", container_steps(ov, tmp_at))
        assert result.ok == (verdict == "Right") and verdict in result.message, result.message
    finally:
        ov.remove()
