"""Checkers for lesson 03 · containerd: namespaces, snapshots, the shim.

The answers are read from the live system when the checker runs: the lesson's containers
(`lab-03-ctr` in containerd namespace `lab-03-ns`, and Docker's `lab-03-docker`) must be running.
"""
from __future__ import annotations

import os
from pathlib import Path

from labkit import containerd as ctr
from labkit.check import Result, checker
from labkit.errors import LabError

NAMESPACE = "lab-03-ns"
CONTAINER = "lab-03-ctr"
DOCKER_CONTAINER = "lab-03-docker"


def _rootfs() -> ctr.Mount | None:
    try:
        return ctr.rootfs_mount(NAMESPACE, CONTAINER)
    except LabError:
        return None


def _not_running() -> Result:
    return Result(False, f"Task {CONTAINER} in namespace {NAMESPACE} is not running: run the lesson's cells "
                         "that create and start it, then look again.")


def _docker_id() -> str | None:
    from contextlib import closing

    from labkit.engine import docker_client

    try:
        with closing(docker_client(timeout=60)) as client:
            c = client.containers.get(DOCKER_CONTAINER)
    except Exception:       # no such container, or no dockerd: either way, nothing to check against
        return None
    return c.id if c.status == "running" else None


def _docker_rootfs() -> ctr.Mount | None:
    """The overlay Docker mounted for lab-03-docker, found as the lesson teaches: spec root → mountinfo."""
    cid = _docker_id()
    if cid is None:
        return None
    try:
        path = ctr.container_info("moby", cid)["Spec"]["root"]["path"]
        found = ctr.mounts_at(path)
    except (LabError, KeyError):
        return None
    return found[-1] if found else None


def _wrong_upperdirs() -> list:
    found, ours = _docker_rootfs(), _rootfs()
    live = [found.target, found.lowerdirs[0], found.workdir] if found else []
    return [*live, *([ours.upperdir] if ours else []), "/var/lib/labkit/docker/overlay2", DOCKER_CONTAINER, 42]


@checker("03.1")
def upperdir(answer: object) -> Result:
    """The upperdir of the overlay behind Docker's container lab-03-docker."""
    if not isinstance(answer, (str, Path)):
        return Result(False, f"Answer with a path (a str); you gave {type(answer).__name__} {answer!r}.")
    mount = _docker_rootfs()
    if mount is None:
        return Result(False, f"Docker's container {DOCKER_CONTAINER} is not running: run the lesson's cell "
                             "that starts it, then look again.")
    given = os.path.normpath(str(answer))
    if given == mount.upperdir:
        return Result(True, f"Right: {DOCKER_CONTAINER} writes into {mount.upperdir}: Docker's overlay2, "
                            "not a containerd snapshot.")
    ours = _rootfs()
    if ours is not None and given == ours.upperdir:
        return Result(False, f"That is the upperdir of {CONTAINER}, the container you ran through containerd. "
                             f"Docker's {DOCKER_CONTAINER} lives in namespace moby, and its rootfs is not a snapshot.")
    if given in mount.lowerdirs:
        return Result(False, "That is one of the lowerdirs: an image layer, read-only and shared. "
                             "The container's writes land in the directory named by upperdir=.")
    if given == mount.workdir:
        return Result(False, "That is overlayfs's workdir, its scratch space for atomic copy-up. "
                             "Look for upperdir= in the same mount's options.")
    if given == mount.target:
        return Result(False, "That is the spec's root.path, where the overlay is mounted (the merged view the "
                             "container sees as /). The upperdir is named in that mount's options.")
    return Result(False, f"{given} is not in the options of the overlay behind {DOCKER_CONTAINER}. Take root.path "
                         "from its containerd record (`ctr -n moby containers info ID`), then find that mount "
                         "point in /proc/self/mountinfo.")


def _busybox_layer() -> tuple[str, list[str]] | None:
    """(chain id of the topmost lower layer holding bin/busybox, the snapshot keys top first)."""
    mount = _rootfs()
    if mount is None:
        return None
    chain = [s.key for s in ctr.lineage(NAMESPACE, CONTAINER)]
    for key, lower in zip(chain[1:], mount.lowerdirs):
        if os.path.lexists(os.path.join(lower, "bin", "busybox")):    # lexists: a symlink counts, unfollowed
            return key, chain
    return None


def _wrong_layers() -> list:
    found = _busybox_layer()
    others = [k for k in found[1] if k != found[0]] if found else []
    return [*others, CONTAINER, "sha256:" + "0" * 64, 3]


@checker("03.2")
def busybox_layer(answer: object) -> Result:
    """The snapshot key (a chain id) of the layer that brought /bin/busybox."""
    if not isinstance(answer, str):
        return Result(False, f"A snapshot key is a str like 'sha256:…'; you gave {type(answer).__name__} {answer!r}.")
    found = _busybox_layer()
    if found is None:
        return _not_running()
    key, chain = found
    if answer == key:
        return Result(True, f"Right: snapshot {key}, lowerdir {chain.index(key)} of {len(chain) - 1} "
                            f"in {CONTAINER}'s overlay, holds the busybox binary.")
    if answer == CONTAINER:
        return Result(False, f"'{CONTAINER}' is the Active snapshot: the container's own writable layer. "
                             "/bin/busybox came with the image, in one of the Committed ones below it.")
    if answer in chain:
        return Result(False, "That snapshot is a layer of this image, but /bin/busybox is not in its fs/ "
                             "(look: that layer holds other files). Match each lowerdir, in order, to the "
                             "parent chain of the Active snapshot.")
    if answer.startswith("sha256:") and answer.removeprefix("sha256:") in {b.digest.removeprefix("sha256:") for b in ctr.content(NAMESPACE)}:
        return Result(False, "That is a blob digest from the content store (a compressed layer, a manifest or "
                             "a config), not a snapshot key. Snapshot keys are listed by `ctr snapshots ls`.")
    return Result(False, f"{answer!r} is not a snapshot of {CONTAINER}'s rootfs. List the chain with "
                         f"`ctr -n {NAMESPACE} snapshots ls` and follow PARENT from the Active key.")


def _docker_task() -> tuple[int, int] | None:
    """(task pid, shim pid) of the Docker container lab-03-docker, or None."""
    cid = _docker_id()
    if cid is None:
        return None
    try:
        return ctr.task("moby", cid).pid, ctr.shim("moby", cid).pid
    except LabError:
        return None


def _wrong_shims() -> list:
    from labkit.engine import containerd, dockerd

    found = _docker_task()
    live = [found[0]] if found else []
    return [*live, containerd.daemon().pid() or 0, dockerd.daemon().pid() or 0, 1, "shim"]


@checker("03.3")
def shim_pid(answer: object) -> Result:
    """The pid of the shim that owns the task of Docker's container lab-03-docker."""
    if not isinstance(answer, int) or isinstance(answer, bool):
        return Result(False, f"A pid is a whole number; you gave {type(answer).__name__} {answer!r}.")
    found = _docker_task()
    if found is None:
        return Result(False, f"Docker's container {DOCKER_CONTAINER} is not running: run the lesson's cell "
                             "that starts it, then look again.")
    task_pid, shim = found
    if answer == shim:
        return Result(True, f"Right: pid {shim} is the containerd-shim-runc-v2 that owns the task "
                            "(the parent of its init process).")
    if answer == task_pid:
        return Result(False, "That is the task's own pid: the container's init process. Its owner is its parent.")
    argv = ctr.cmdline(answer)
    name = os.path.basename(argv[0]) if argv else ""
    if name == ctr.SHIM:
        return Result(False, f"pid {answer} is a shim, but for another task: read its -namespace and -id flags.")
    if name in ("containerd", "dockerd"):
        return Result(False, f"pid {answer} is {name}. Neither is the task's parent: containerd starts the "
                             "shim, and the shim, not containerd, owns the task.")
    if answer == 1:
        return Result(False, "pid 1 is the shim's parent (the shim daemonized), not the task's. Go one level down.")
    return Result(False, f"pid {answer} runs {' '.join(argv) or '(nothing now)'}. Start from the task's pid "
                         "(`ctr -n moby tasks ls`) and read PPid in /proc/<pid>/status.")


WRONG_ANSWERS = {
    "03.1": _wrong_upperdirs,
    "03.2": _wrong_layers,
    "03.3": _wrong_shims,
}
