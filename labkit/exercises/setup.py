"""Checkers for lesson 00 · Setup."""
from __future__ import annotations

import os

from labkit import cgroups, config
from labkit.check import Result, checker
from labkit.kernel import procfs

WRONG_ANSWERS = {
    "00.1": lambda: [1, os.getpid(), "containerd", 10**9],
    "00.2": lambda: ["v3", "cgroup2"] + [m for m in ("v1", "hybrid", "v2") if m != cgroups.mode()],
}


@checker("00.1")
def containerd_pid(answer: object) -> Result:
    """The pid of the lab's containerd, found in /proc."""
    from labkit.engine import containerd

    real = containerd.daemon().pid()
    if real is None:
        return Result(False, "The lab containerd is not running: run `labkit.up()` first, then look again.")
    if not isinstance(answer, int):
        return Result(False, f"A pid is a whole number; you gave {type(answer).__name__} {answer!r}.")
    if answer == real:
        return Result(True, f"Right: containerd runs as pid {real}, found from its command line in /proc.")
    if procfs.state(answer) is None:
        return Result(False, f"No process {answer} exists now. Read /proc/<pid>/cmdline of live processes.")
    cmd = " ".join(procfs.cmdline(answer))          # '' for a kernel thread
    if "containerd" in cmd and str(config.CONTAINERD_SOCK) not in cmd and "labkit" not in cmd:
        return Result(False, f"pid {answer} is a containerd ({cmd!r}), but not the lab's: "
                             "its command line names the lab's config under /etc/labkit.")
    return Result(False, f"pid {answer} runs {cmd!r}; look for the process whose command line starts with containerd.")


@checker("00.2")
def cgroup_mode(answer: object) -> Result:
    """This machine's cgroup mode, read from the mount table."""
    real = cgroups.mode()
    if answer not in ("v1", "hybrid", "v2"):
        return Result(False, f"Answer with one of 'v1', 'hybrid' or 'v2'; you gave {answer!r}.")
    if answer == real:
        # Says no mode: the stored output is the same on every machine, whichever mode it has.
        return Result(True, "Right: that is how this machine mounts its cgroups, as labkit.cgroups.mode() says too.")
    hint = {
        "v2": "only one cgroup2 mount, at /sys/fs/cgroup, and no 'cgroup' (v1) mounts",
        "hybrid": "v1 controller mounts *and* a cgroup2 mount (often /sys/fs/cgroup/unified)",
        "v1": "only 'cgroup' (v1) mounts, one per controller",
    }[answer]
    return Result(False, f"{answer!r} would mean {hint}. Count the filesystem types in /proc/self/mountinfo again.")
