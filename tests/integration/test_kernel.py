"""labkit.kernel against the real kernel, each experiment in a forked child so the test
process keeps its own namespaces."""
from __future__ import annotations

import errno
import os
import shutil
import socket

import pytest

from labkit import config, inventory
from labkit.errors import BadInput
from labkit.kernel import (
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWUTS,
    MNT_DETACH,
    MS_BIND,
    MS_PRIVATE,
    MS_REC,
    KernelError,
    cap_bounding_drop,
    cap_bounding_has,
    cap_get,
    get_no_new_privs,
    mount,
    pivot_root,
    set_no_new_privs,
    sethostname,
    setns,
    umount2,
    unshare,
)
from labkit.ns import in_child

pytestmark = pytest.mark.integration


def test_uts_namespace_keeps_the_hostname_change_inside(root):
    def child():
        unshare(CLONE_NEWUTS)
        sethostname("lab-k-uts")
        return os.uname().nodename, os.readlink("/proc/self/ns/uts")

    name, ns = in_child(child)
    assert name == "lab-k-uts"
    assert os.uname().nodename != "lab-k-uts"
    assert ns != os.readlink("/proc/self/ns/uts")


def test_mount_in_a_private_mount_namespace_is_invisible_outside(root, tmp_path):
    def child():
        unshare(CLONE_NEWNS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        mount("lab-k-tmpfs", tmp_path, "tmpfs")
        (tmp_path / "inside").write_text("x")
        return sorted(os.listdir(tmp_path))

    assert in_child(child) == ["inside"]
    assert os.listdir(tmp_path) == []
    assert str(tmp_path) not in inventory.mounts()


def test_pivot_root_into_a_busybox_rootfs(root, tmp_path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", rootfs / "bin" / "busybox")

    def child():
        unshare(CLONE_NEWNS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        (rootfs / "old").mkdir()
        with pytest.raises(KernelError) as err:         # not a mount point yet: EINVAL
            pivot_root(rootfs, rootfs / "old")
        mount(rootfs, rootfs, None, MS_BIND | MS_REC)   # the classic fix: bind it onto itself
        pivot_root(rootfs, rootfs / "old")
        os.chdir("/")
        umount2("/old", MNT_DETACH)
        os.rmdir("/old")
        return err.value.errno, sorted(os.listdir("/"))

    errno_, top = in_child(child)
    assert errno_ in (errno.EINVAL, errno.EBUSY)   # which one depends on the kernel version
    assert top == ["bin"]


def test_setns_joins_another_process_network_namespace(root):
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:            # a process in a new netns, waiting to be told to exit
        unshare(CLONE_NEWNET)
        os.write(ready_w, b"1")
        os.read(go_r, 1)
        os._exit(0)
    os.read(ready_r, 1)
    target = os.readlink(f"/proc/{pid}/ns/net")
    try:
        def child():
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            setns(fd, CLONE_NEWNET)
            return os.readlink("/proc/self/ns/net"), sorted(name for _, name in socket.if_nameindex())

        joined, links = in_child(child)
    finally:
        os.write(go_w, b"1")
        os.waitpid(pid, 0)
        for fd in (ready_r, ready_w, go_r, go_w):
            os.close(fd)
    assert joined == target
    assert links == ["lo"]          # a new network namespace has only its loopback


def test_setns_with_a_bad_fd_is_a_kernel_error(root):
    with pytest.raises(KernelError, match=r"setns\(9999, 0\) failed: EBADF"):
        setns(9999)
    with pytest.raises(BadInput):
        setns("/proc/1/ns/net")


def test_capabilities_and_no_new_privs(root):
    def child():
        before = cap_bounding_has("CAP_NET_RAW")
        cap_bounding_drop("CAP_NET_RAW")
        set_no_new_privs()
        return before, cap_bounding_has("CAP_NET_RAW"), get_no_new_privs(), "CAP_SYS_ADMIN" in cap_get()["effective"]

    assert in_child(child) == (True, False, True, True)
    assert cap_bounding_has("CAP_NET_RAW") and not get_no_new_privs()


def test_a_failed_mount_leaves_nothing_mounted(root, tmp_path):
    before = inventory.mounts()
    with pytest.raises(KernelError, match="ENODEV"):
        mount("none", tmp_path, "lab-no-such-fs")
    with pytest.raises(KernelError, match="ENOENT"):
        mount("none", config.SCRATCH / "lab-no-such-dir" / "x", "tmpfs")
    assert inventory.mounts() == before


def test_bad_input_to_every_call_is_one_clear_error_and_changes_nothing(root, tmp_path):
    from labkit.kernel import cap_set, prctl, umount2

    before = inventory.mounts()
    with pytest.raises(BadInput, match="hostname is 1 to 64 bytes"):
        sethostname("")
    with pytest.raises(BadInput, match="hostname is 1 to 64 bytes"):
        sethostname("x" * 65)
    with pytest.raises(BadInput, match="MS_\\* ints"):
        mount("none", tmp_path, "tmpfs", flags="bind")
    with pytest.raises(KernelError, match=r"umount2\(.*\) failed: EINVAL"):       # not a mount point
        umount2(tmp_path)
    with pytest.raises(KernelError, match="pivot_root.* failed: ENOENT"):
        pivot_root(tmp_path / "nowhere", tmp_path / "nowhere" / "old")
    with pytest.raises(KernelError, match=r"prctl\(9999, .*\) failed: EINVAL"):
        prctl(9999)
    with pytest.raises(BadInput, match="Unknown capability"):
        cap_set({"CAP_FLY"}, set())
    with pytest.raises(BadInput, match="Unknown capability"):
        cap_bounding_drop("CAP_FLY")
    assert inventory.mounts() == before
    assert os.uname().nodename != ""
