"""Checkers for lesson 09 · Filesystems: chroot, pivot_root, overlayfs."""
from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Callable

from labkit import config, fs, inventory
from labkit.check import Result, checker
from labkit.errors import LabError
from labkit.ns import in_child
from labkit.kernel import (CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID,
                           MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT, mount, unshare)

_FLAGS = {"nosuid", "nodev", "noexec"}          # what procfs mounts carry, and a careless remount drops


def _does_nothing(paths: list[str]) -> None:
    """Wrong: changes nothing."""


def _remount_without_bind(paths: list[str]) -> None:
    """Wrong: /proc/sys is no mount point, so there is nothing to remount (EINVAL)."""
    for p in paths:
        if os.path.exists(p):
            mount(None, p, None, MS_BIND | MS_REMOUNT | MS_RDONLY)


def _drops_the_flags(paths: list[str]) -> None:
    """Wrong: read-only, but nosuid, nodev and noexec are gone from the new mounts."""
    for p in paths:
        if os.path.exists(p):
            mount(p, p, None, MS_BIND | MS_REC)
            mount(None, p, None, MS_BIND | MS_REMOUNT | MS_RDONLY)


WRONG_ANSWERS = {
    "09.1": lambda: ["/etc/group", 42, "etc/group", str(config.SCRATCH / "lab-09-nothing" / "etc" / "group")],
    "09.2": [_does_nothing, _remount_without_bind, _drops_the_flags, fs.mask_paths, "make_readonly"],
}


# -- 09.1 ------------------------------------------------------------------------------------------


def _lab_overlays() -> list[tuple[str, fs.Overlay]]:
    found = []
    for name in sorted(n for n in inventory.containers() if n.startswith(config.lab_prefix("09"))):
        try:
            found.append((name, fs.docker_overlay(name)))
        except LabError:
            continue
    return found


def _under(path: Path, top: Path) -> bool:
    return path == top or top in path.parents


@checker("09.1")
def deletion(answer: object) -> Result:
    """The host path of the whiteout that records `rm /etc/group` in a lab-09 container."""
    if not isinstance(answer, (str, os.PathLike)):
        return Result(False, f"A host path is a string, like '/var/lib/...'; you gave {type(answer).__name__} {answer!r}.")
    path = Path(os.fspath(answer))
    if not path.is_absolute():
        return Result(False, f"{str(path)!r} is not an absolute path. Inside the container the file was /etc/group; "
                             "on the host it lives somewhere under the lab dockerd's data-root.")
    boxes = _lab_overlays()
    if not boxes:
        return Result(False, "No lab-09 container exists now: run the cell that starts lab-09-box and the "
                             "`docker exec ... rm /etc/group` cell, then look again.")
    if str(path) == "/etc/group":
        return Result(False, "/etc/group is the path inside the container (and the host has its own /etc/group). "
                             "Ask `docker inspect` where the container's layers are on the host.")
    for name, ov in boxes:
        rel = None
        if _under(path, ov.merged):
            return Result(False, f"That is under MergedDir of {name}: the container's own view, where the file is simply "
                                 "gone. The deletion is recorded in one of the layers below it.")
        for low in ov.lower:
            if _under(path, low):
                return Result(False, f"That is in a LowerDir of {name}: the image's layer, which is read-only and "
                                     "still holds its file. Look in the layer that takes the container's writes.")
        if _under(path, ov.upper):
            rel = path.relative_to(ov.upper)
            if fs.is_whiteout(path):
                hidden = any(os.path.lexists(low / rel) for low in ov.lower)
                if hidden:
                    return Result(True, f"Right: UpperDir/{rel} is a character device 0/0, a whiteout. overlayfs shows "
                                        f"nothing at /{rel} because of it, while the image's {rel} stays in its layer.")
                return Result(False, f"UpperDir/{rel} is a whiteout, but no image layer has /{rel}: it is not the "
                                     "deletion of /etc/group.")
            if not os.path.lexists(path):
                return Result(False, f"Nothing exists at UpperDir/{rel}. Did `docker exec lab-09-box rm /etc/group` run? "
                                     "A deletion leaves an entry with the deleted file's own path.")
            return Result(False, f"UpperDir/{rel} exists but is no whiteout (a character device 0/0): it is a file the "
                                 "container wrote, not a deletion.")
    if not os.path.lexists(path):
        return Result(False, "Nothing exists at that path. `docker inspect lab-09-box` names the container's "
                             "directories under GraphDriver.Data.")
    return Result(False, "That path belongs to no lab-09 container's layers. `docker inspect lab-09-box` names them "
                         "under GraphDriver.Data: LowerDir, UpperDir, MergedDir, WorkDir.")


# -- 09.2 ------------------------------------------------------------------------------------------


def _trial(make_readonly: Callable[[list[str]], object], paths: list[str]) -> dict:
    """In a child with its own mount, UTS and PID namespaces (and so its own procfs), run the answer, then look."""
    try:
        make_readonly(list(paths))
    except Exception as err:         # the learner's code: any failure is feedback
        return {"raised": f"{type(err).__name__}: {err}"}
    out: dict = {"mounts": {}}
    for m in fs.mounts():
        out["mounts"][m.point] = m.options
    try:
        with open("/proc/sys/kernel/hostname", "w") as f:
            f.write("lab-09-check\n")
        out["write"] = "went through"
    except OSError as err:
        out["write"] = errno.errorcode.get(err.errno, str(err.errno))
    try:
        out["read"] = Path("/proc/sys/kernel/ostype").read_text().strip()
    except OSError as err:
        out["read"] = errno.errorcode.get(err.errno, str(err.errno))
    return out


def _as_pid_one(fn: Callable[[], dict]) -> dict:
    """fn as PID 1 of new mount, UTS and PID namespaces, with a procfs of its own on /proc: a learner's
    remount of /proc then touches only that procfs, and a hostname written lands in the child's UTS."""
    unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID)
    mount(None, "/", None, MS_REC | MS_PRIVATE)

    def first() -> dict:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        return fn()
    return _in_child(first)


def _in_child(fn: Callable[[], dict], timeout: float = 30.0) -> dict:
    """fn() in a forked child (labkit.ns.in_child); any failure comes back as {'raised': ...}."""
    try:
        return in_child(fn, timeout=timeout)
    except Exception as err:        # a crash or hang of the learner's code is feedback, not an error here
        return {"raised": f"{type(err).__name__}: {err}"}


def _nearest_mount(path: str, mounts: dict[str, str]) -> str:
    return max((p for p in mounts if path == p or path.startswith(p.rstrip("/") + "/")), key=len)


@checker("09.2")
def readonly_paths(answer: object) -> Result:
    """make_readonly(paths) leaves runc's readonlyPaths readable, unwritable, with their flags, and /proc alone."""
    if not callable(answer):
        return Result(False, f"The answer is a function that takes a list of paths; you gave {type(answer).__name__}.")
    paths = fs.runc_spec()["linux"]["readonlyPaths"]
    seen = _in_child(lambda: _as_pid_one(lambda: _trial(answer, paths)))
    if "raised" in seen:
        hint = (" /proc/sys is a directory inside the /proc mount, not a mount point: make it one first."
                if "EINVAL" in seen["raised"] else "")
        return Result(False, f"Your function raised {seen['raised']}.{hint}")
    mounts = seen["mounts"]
    if seen["read"] != "Linux":
        return Result(False, f"/proc/sys/kernel/ostype no longer reads 'Linux' (got {seen['read']!r}): you hid the "
                             "paths. Read-only paths stay readable; hiding is what maskedPaths do.")
    if seen["write"] != "EROFS":
        return Result(False, f"A write to /proc/sys/kernel/hostname {'went through' if seen['write'] == 'went through' else 'failed with ' + seen['write']}"
                             ": /proc/sys is not read-only yet. A mount point gets read-only with MS_REMOUNT.")
    proc_now = set(mounts.get("/proc", "").split(","))
    if "ro" in proc_now:
        return Result(False, "All of /proc is read-only now: the remount hit the whole proc mount. Give each path a "
                             "mount of its own first (bind it onto itself), then remount only that.")
    for p in paths:
        if not os.path.exists(p):
            continue
        where = _nearest_mount(p, mounts)
        opts = set(mounts[where].split(","))
        if "ro" not in opts:
            return Result(False, f"{p} is not read-only (its mount {where} is {mounts[where]}). Every existing path of the "
                                 "list must be.")
        lost = _FLAGS - opts
        if lost:
            return Result(False, f"{p} is read-only, but its mount lost {', '.join(sorted(lost))}: a remount sets all "
                                 "per-mount flags to what you pass. Read the current ones (os.statvfs(path).f_flag) and "
                                 "pass them along.")
    return Result(True, "Right: each path is a read-only bind of itself, still readable, with nosuid, nodev and noexec "
                        "kept, and the rest of /proc untouched. That is runc's readonlyPaths.")
