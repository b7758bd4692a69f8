"""labkit.fs against the real kernel and the lab dockerd. Every experiment that changes a root
or a mount namespace runs in a forked child, so the test process keeps its own."""
from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from labkit import config, fs
from labkit.errors import BadInput, LabError
from labkit.kernel import (
    CLONE_NEWNS,
    CLONE_NEWPID,
    MS_PRIVATE,
    MS_REC,
    KernelError,
    mount,
    unshare,
)
from labkit.ns import in_child

pytestmark = pytest.mark.integration


def as_pid_one(fn: Callable[[], Any]) -> Any:
    """fn as PID 1 of a new PID namespace, in a new mount namespace with private propagation."""
    def outer():
        unshare(CLONE_NEWNS | CLONE_NEWPID)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        return in_child(fn)
    return in_child(outer)


def lab_mounts() -> set[str]:
    return {m.point for m in fs.mounts() if "lab-09-t" in m.point}


@pytest.fixture
def lower(tmp_path):
    """A small root filesystem: busybox, /etc with two files."""
    root = tmp_path / "lower"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    os.symlink("busybox", root / "bin" / "sh")
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    return root


@pytest.fixture
def overlay(root, lower, request):
    """A fresh lab overlay over `lower`, removed afterwards."""
    name = f"lab-09-t{abs(hash(request.node.name)) % 10**6}"
    shutil.rmtree(config.SCRATCH / name, ignore_errors=True)
    ov = fs.overlay(name, lower)
    yield ov
    ov.remove()
    assert not (config.SCRATCH / name).exists() and lab_mounts() == set()


# -- rootfs -----------------------------------------------------------------------------------------


def test_rootfs_is_the_images_layers_cached_by_its_id(engine):
    import docker

    image_id = docker.APIClient(base_url=config.DOCKER_HOST).inspect_image("labkit/busybox")["Id"]
    path = fs.rootfs("labkit/busybox")
    assert path == fs.ROOTFS_CACHE / image_id.split(":")[1]
    assert (path / "bin" / "busybox").stat().st_size > 100_000
    assert os.readlink(path / "bin" / "sh") == "/bin/busybox"            # the RUN layer's symlinks
    assert (path / "etc" / "passwd").read_text().startswith("root:")      # the COPY layer
    assert not list(path.rglob(".wh.*"))
    assert fs.rootfs("labkit/busybox") == path
    assert not [p for p in fs.ROOTFS_CACHE.iterdir() if p.name.startswith(".partial")]


def test_rootfs_of_an_unknown_image_is_one_sentence(engine):
    with pytest.raises(LabError, match="no image 'lab-09-nothing'"):
        fs.rootfs("lab-09-nothing")
    assert not [p for p in fs.ROOTFS_CACHE.iterdir() if p.name.startswith(".partial")]


# -- overlays ---------------------------------------------------------------------------------------


def test_copy_up_whiteouts_and_opaque_dirs_land_in_the_upper_dir(overlay, lower):
    with open(overlay.merged / "etc/passwd", "a") as f:
        f.write("me:x:1000:1000::/:/bin/sh\n")
    os.remove(overlay.merged / "bin/sh")
    shutil.rmtree(overlay.merged / "etc")
    (overlay.merged / "etc").mkdir()
    (overlay.merged / "etc/hostname").write_text("box\n")
    kinds = {c.path: c.kind for c in overlay.changes()}
    assert kinds == {"bin": "dir", "bin/sh": "whiteout", "etc": "opaque dir", "etc/hostname": "new"}
    white = os.lstat(overlay.upper / "bin/sh")
    assert stat.S_ISCHR(white.st_mode) and white.st_rdev == 0 and fs.is_whiteout(overlay.upper / "bin/sh")
    assert fs.is_opaque(overlay.upper / "etc")
    assert sorted(os.listdir(overlay.merged / "etc")) == ["hostname"]
    assert (lower / "etc/passwd").read_text().count("\n") == 1 and os.path.lexists(lower / "bin/sh")


def test_a_copy_up_keeps_the_lower_file(overlay, lower):
    (overlay.merged / "etc/group").write_text("changed\n")
    assert [(c.path, c.kind) for c in overlay.changes()] == [("etc", "dir"), ("etc/group", "copied up")]
    assert (lower / "etc/group").read_text() == "root:x:0:\n"


def test_overlay_at_reads_the_live_mount(overlay):
    found = fs.overlay_at(overlay.merged)
    assert found == overlay and found.mounted
    overlay.umount()
    assert not overlay.mounted
    with pytest.raises(BadInput):
        fs.overlay_at(overlay.merged)


def test_a_name_in_use_is_refused_and_left_alone(overlay, lower):
    with pytest.raises(LabError, match="exists already"):
        fs.overlay(overlay.merged.parent.name, lower)
    assert overlay.mounted


def test_a_failed_overlay_mount_leaves_no_directory(root, lower, monkeypatch):
    def refuse(*args, **kwargs):
        raise KernelError("mount(...)", errno.EINVAL)

    monkeypatch.setattr(fs, "mount", refuse)
    with pytest.raises(KernelError):
        fs.overlay("lab-09-tfail", lower)
    assert not (config.SCRATCH / "lab-09-tfail").exists()


def test_remove_refuses_a_mount_it_did_not_make(root):
    with pytest.raises(BadInput):
        fs.Overlay(Path("/var/lib/x/merged"), (Path("/"),), Path("/u"), Path("/w")).remove()


# -- pivot_root and the container's own mounts -----------------------------------------------------


def test_pivot_root_leaves_no_way_back(overlay):
    host_root = os.stat("/")

    def child():
        unshare(CLONE_NEWNS)
        fs.pivot_root(overlay.merged)
        top = sorted(os.listdir("/"))
        os.mkdir("/cell")
        os.chroot("/cell")                     # the chroot escape from lesson 09
        for _ in range(64):
            os.chdir("..")
        os.chroot(".")
        st = os.stat("/")
        return top, (st.st_dev, st.st_ino) == (host_root.st_dev, host_root.st_ino), sorted(os.listdir("/"))

    before = {m.point: m.optional for m in fs.mounts()}
    top, escaped, points = in_child(child)
    assert top == ["bin", "etc"] and not escaped and points == ["bin", "cell", "etc"]
    assert {m.point: m.optional for m in fs.mounts() if m.point in before} == before


def test_pivot_root_refuses_the_host_mount_namespace(overlay):
    before = [(m.point, m.optional) for m in fs.mounts()]
    with pytest.raises(BadInput, match="host's mount namespace"):
        fs.pivot_root(overlay.merged)
    assert [(m.point, m.optional) for m in fs.mounts() if (m.point, m.optional) in before] == before
    assert not (overlay.merged / ".old").exists()


def test_proc_dev_and_sys_as_a_container_gets_them(overlay):
    def pid_one():
        for make in (fs.mount_proc, fs.mount_dev, fs.mount_sys):
            make(overlay.merged)
        fs.pivot_root(overlay.merged)
        null = os.stat("/dev/null")
        with open("/dev/null", "w") as f:
            f.write("gone")
        return {"pids": sorted(p for p in os.listdir("/proc") if p.isdigit()), "dev": sorted(os.listdir("/dev")),
                "null": (stat.S_ISCHR(null.st_mode), os.major(null.st_rdev), os.minor(null.st_rdev)),
                "zero": open("/dev/zero", "rb").read(4), "mounts": {m.point: (m.fstype, m.options) for m in fs.mounts()}}

    seen = as_pid_one(pid_one)
    assert seen["pids"] == ["1"]
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "fd", "ptmx"} <= set(seen["dev"])
    assert seen["null"] == (True, 1, 3) and seen["zero"] == b"\0" * 4
    assert seen["mounts"]["/sys"][0] == "sysfs" and seen["mounts"]["/sys"][1].startswith("ro,")
    assert seen["mounts"]["/dev/pts"][0] == "devpts" and seen["mounts"]["/proc"][0] == "proc"
    assert sorted(os.listdir(overlay.upper)) == ["dev", "proc", "sys"]      # the mount points, made by fs
    assert lab_mounts() == {str(overlay.merged)}                           # nothing reached the host


def test_dev_nodes_can_be_bind_mounts_of_the_hosts(overlay):
    def child():
        unshare(CLONE_NEWNS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        fs.mount_dev(overlay.merged, nodes="bind")
        return {m.point for m in fs.mounts() if m.point.startswith(str(overlay.merged))}

    points = in_child(child)
    assert {str(overlay.merged / "dev" / n) for n in fs.DEVICES} <= points


def test_read_only_root_masked_and_read_only_paths(overlay):
    spec = fs.runc_spec()["linux"]

    def pid_one():
        for make in (fs.mount_proc, fs.mount_dev, fs.mount_sys):
            make(overlay.merged)
        fs.pivot_root(overlay.merged)
        fs.readonly("/")
        masked = fs.mask_paths(spec["maskedPaths"])
        ro = fs.readonly_paths(spec["readonlyPaths"])
        out = {"masked": masked, "ro": ro, "keys": open("/proc/keys", "rb").read(),
               "firmware": os.listdir("/sys/firmware"), "ostype": open("/proc/sys/kernel/ostype").read(),
               "mounts": {m.point: m.options for m in fs.mounts()}}
        for path in ("/etc/new", "/proc/sys/kernel/hostname"):
            try:
                with open(path, "w") as f:
                    f.write("x")
                out[path] = "written"
            except OSError as err:
                out[path] = errno.errorcode[err.errno]
        return out

    seen = as_pid_one(pid_one)
    assert seen["masked"]["/proc/keys"] == "file" and seen["masked"]["/sys/firmware"] == "dir"
    assert seen["keys"] == b"" and seen["firmware"] == []
    assert seen["ro"]["/proc/sys"] == "ro" and seen["ostype"] == "Linux\n"
    assert seen["/etc/new"] == "EROFS" and seen["/proc/sys/kernel/hostname"] == "EROFS"
    assert set(seen["mounts"]["/proc/sys"].split(",")) >= {"ro", "nosuid", "nodev", "noexec"}
    assert seen["mounts"]["/proc"].startswith("rw,")
    assert not (overlay.upper / "etc" / "new").exists()


def test_mask_paths_is_all_or_nothing(root, monkeypatch):
    calls = []

    def second_fails(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise KernelError(f"mount{args}", errno.EPERM)
        return mount(*args, **kwargs)

    def child():
        unshare(CLONE_NEWNS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        monkeypatch.setattr(fs, "mount", second_fails)
        try:
            fs.mask_paths(["/sys/firmware", "/proc/keys"])
        except KernelError:
            pass
        return [m.point for m in fs.mounts() if m.point in ("/sys/firmware", "/proc/keys")], os.listdir("/sys/firmware")

    left, firmware = in_child(child)
    assert left == [] and firmware != []


def test_a_failed_mount_dev_leaves_no_mount_and_no_directory(overlay, monkeypatch):
    def devpts_fails(source, target, fstype=None, flags=0, data=None):
        if fstype == "devpts":
            raise KernelError("mount('devpts', ...)", errno.EPERM)
        return mount(source, target, fstype, flags, data)

    def child():
        unshare(CLONE_NEWNS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        monkeypatch.setattr(fs, "mount", devpts_fails)
        with pytest.raises(KernelError):
            fs.mount_dev(overlay.merged)
        return [m.point for m in fs.mounts() if m.point.startswith(str(overlay.merged) + "/")]

    assert in_child(child) == []
    assert not (overlay.merged / "dev").exists()


# -- Docker's overlay2 ------------------------------------------------------------------------------


def test_docker_overlay_names_a_live_containers_directories(engine):
    docker = ["docker", "-H", config.DOCKER_HOST]
    name = "lab-09-tbox"
    subprocess.run([*docker, "rm", "-f", name], capture_output=True)
    subprocess.run([*docker, "run", "-d", "--pull", "never", "--name", name, "labkit/busybox", "sh", "-c",
                    "echo hi > /note; rm /etc/group; sleep 60"], check=True, capture_output=True)
    try:
        ov = fs.docker_overlay(name)
        for _ in range(100):
            if (ov.upper / "note").exists() and os.path.lexists(ov.upper / "etc" / "group"):
                break
            time.sleep(0.05)
        assert ov.mounted and len(ov.lower) == 4 and ov.lower[0].parent.name.endswith("-init")
        assert (ov.upper / "note").read_text() == "hi\n" and fs.is_whiteout(ov.upper / "etc" / "group")
        assert fs.overlay_at(ov.merged).upper == ov.upper
        kinds = {c.path: c.kind for c in fs.changes(ov)}
        assert kinds["note"] == "new" and kinds["etc/group"] == "whiteout"
        from labkit.widgets.overlay_view import overlay as diagram

        src = diagram(ov, paths=["bin/busybox"]).source
        assert "whiteout: char dev 0/0" in src and "from lower 4" in src and "lower 4" in src
    finally:
        subprocess.run([*docker, "rm", "-f", name], capture_output=True)
    with pytest.raises(LabError, match="no container"):
        fs.docker_overlay(name)


def test_runc_spec_lists_what_runc_masks():
    spec = fs.runc_spec()
    assert "/proc/keys" in spec["linux"]["maskedPaths"] and "/proc/sys" in spec["linux"]["readonlyPaths"]
    assert spec["root"]["readonly"] is True
