"""cgroup v2: one unified tree (mounted at /sys/fs/cgroup on most machines).

A v2 group is one directory. Its controllers are those its parent enables in
cgroup.subtree_control; freezing and killing are part of the core (cgroup.freeze,
cgroup.kill), and so is the CPU time in cpu.stat.
"""
from __future__ import annotations

from pathlib import Path

from labkit.cgroups import files
from labkit.cgroups.v2 import cpu, freezer, memory, pids
from labkit.errors import LabError

CONTROLLERS = {m.NAME: m for m in (memory, pids, cpu, freezer)}
CORE = {"freezer"}     # in every v2 group, nothing to enable


def enable(root: Path, directory: Path, controllers: set[str]) -> None:
    """Enable `controllers` in cgroup.subtree_control of every ancestor of `directory` below `root`."""
    wanted = controllers - CORE
    if not wanted:
        return
    available = set(files.read(root / "cgroup.controllers").split())
    missing = wanted - available
    if missing:
        raise LabError(f"The v2 tree at {root} offers no {', '.join(sorted(missing))} controller",
                       f"cgroup.controllers lists: {' '.join(sorted(available)) or 'nothing'}",
                       "On hybrid machines those controllers are bound to v1 hierarchies; boot with "
                       "systemd.unified_cgroup_hierarchy=1 for pure v2")
    parent = directory.parent
    chain = [parent, *parent.parents]
    for d in reversed([d for d in chain if d == root or root in d.parents]):
        enabled = set(files.read(d / "cgroup.subtree_control").split())
        todo = wanted - enabled
        if todo:
            files.write(d / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(todo)))


def kill(directory: Path) -> bool:
    """SIGKILL every process of the group and its children at once (cgroup.kill, Linux 5.14+)."""
    knob = directory / "cgroup.kill"
    if not knob.exists():
        return False
    files.write(knob, "1")
    return True
