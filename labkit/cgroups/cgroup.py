"""One interface over v1, hybrid and v2: a Cgroup is the set of directories that make one group.

On v2 that is one directory; on v1 it is one directory per controller hierarchy; on a
hybrid machine each controller lives wherever this machine mounts it (a v1 hierarchy,
or the cgroup2 tree when that is where the controller is). Each controller's files are
handled by its own module in v1/ or v2/.
"""
from __future__ import annotations

import errno
import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from labkit import config, owned
from labkit.cgroups import files, hierarchy, v1, v2
from labkit.cgroups.limits import Limits
from labkit.errors import LabError

CONTROLLERS = ("memory", "pids", "cpu", "freezer")    # what the lab drives, on every kind of machine
_NAME = re.compile(r"^lab-[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Part:
    """One controller of a group: which hierarchy serves it, the group's directory there, its module."""

    controller: str
    version: str          # "v1" or "v2"
    path: Path
    module: ModuleType


class Cgroup:
    """A control group made of one directory (v2) or one per controller hierarchy (v1)."""

    def __init__(self, name: str, parts: dict[str, Part]) -> None:
        self.name = name
        self.parts = parts
        self._children: list[subprocess.Popen] = []

    # -- where it is ----------------------------------------------------------------------

    @property
    def version(self) -> str:
        """'v1', 'v2', or 'hybrid' when its controllers come from both kinds of hierarchy."""
        kinds = {p.version for p in self.parts.values()}
        return kinds.pop() if len(kinds) == 1 else "hybrid"

    def path(self, controller: str) -> Path:
        """The group's directory in the hierarchy that serves `controller`."""
        if controller not in self.parts:
            raise LabError(f"{self.name} has no {controller} controller", f"it has: {', '.join(self.parts)}",
                           f"Create it with controllers including {controller!r}")
        return self.parts[controller].path

    @property
    def dirs(self) -> list[Path]:
        """Every directory of the group, once each (v1 co-mounted controllers share one)."""
        return list(dict.fromkeys(p.path for p in self.parts.values()))

    def __repr__(self) -> str:
        where = ", ".join(f"{c} {p.version}" for c, p in self.parts.items())
        return f"Cgroup({self.name!r}: {where})"

    # -- processes ------------------------------------------------------------------------

    def add(self, pid: int) -> None:
        """Move process `pid` (all its threads) into the group: its pid into each cgroup.procs."""
        for d in self.dirs:
            files.write(d / "cgroup.procs", pid)

    def procs(self) -> list[int]:
        """Pids of the processes in the group (in any of its directories).

        A child of ours that has died is reaped first: until then v1 lists it as a member.
        """
        self._reap()
        found: set[int] = set()
        for d in self.dirs:
            if d.exists():          # a half-removed group (clean got to some hierarchies) still answers
                found.update(files.procs(d))
        return sorted(found)

    def popen(self, argv: list[str], **kwargs) -> subprocess.Popen:
        """Start `argv` inside the group: a /bin/sh writes its own pid into cgroup.procs, then execs it.

        The program's first instruction already runs under the group's limits, and the
        process carries LABKIT_LESSON so `labkit.clean` finds it. Returns once the process is
        in every directory of the group (or has exited), so what the caller does next sees it there.
        """
        joins = "; ".join(f"echo $$ > {shlex.quote(str(d / 'cgroup.procs'))}" for d in self.dirs)
        env = {**os.environ, **kwargs.pop("env", {}), config.OWNER_ENV: self.lesson}
        kwargs.setdefault("start_new_session", True)     # Jupyter's interrupt must not reach it
        proc = subprocess.Popen(["/bin/sh", "-c", f'set -e; {joins}; exec "$@"', "sh", *argv], env=env, **kwargs)
        self._children.append(proc)
        deadline = time.monotonic() + 5
        while proc.poll() is None and not self._holds(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.005)
        return proc

    def _holds(self, pid: int) -> bool:
        """Whether `pid` is in cgroup.procs of every directory of the group."""
        try:
            return all(pid in files.procs(d) for d in self.dirs)
        except LabError:
            return False

    @property
    def lesson(self) -> str:
        """The lesson this group belongs to ('08' for lab-08-...), for LABKIT_LESSON."""
        m = re.match(r"lab-(\d+)-", self.name)
        return m.group(1) if m else self.name

    # -- limits and counters --------------------------------------------------------------

    def set(self, **limits: object) -> None:
        """Change limits (memory_max=, memory_swap_max=, pids_max=, cpus=, cpu_quota=, cpu_period=)."""
        wanted = Limits.parse(**limits)
        for controller in sorted(wanted.controllers()):
            part = self.parts.get(controller)
            if part is None:
                raise LabError(f"{self.name} has no {controller} controller", "", "Create the group with it")
            part.module.apply(part.path, wanted)

    def limits(self) -> dict[str, int | None]:
        """The limits in force, read back from the files (None = no limit)."""
        out: dict[str, int | None] = {}
        for part in self.parts.values():
            out.update(part.module.read_limits(part.path))
        return out

    def stats(self) -> dict[str, object]:
        """Counters in one vocabulary: memory_current, oom_kills, pids_current, cpu_throttled, frozen, ..."""
        out: dict[str, object] = {}
        for part in self.parts.values():
            out.update(part.module.stats(part.path))
        return out

    def events(self) -> dict[str, dict[str, int]]:
        """The kernel's own event files, parsed (memory.events on v2, memory.oom_control on v1, ...)."""
        out: dict[str, dict[str, int]] = {}
        for part in self.parts.values():
            out.update(part.module.events(part.path))
        return out

    # -- freeze, kill, remove -------------------------------------------------------------

    def freeze(self) -> None:
        """Stop every process of the group where it stands (v1 freezer.state, v2 cgroup.freeze)."""
        part = self.parts.get("freezer") or self._no("freezer")
        part.module.freeze(part.path)

    def thaw(self) -> None:
        """Let the frozen processes run on."""
        part = self.parts.get("freezer") or self._no("freezer")
        part.module.thaw(part.path)

    @property
    def frozen(self) -> bool:
        """True while the group is frozen."""
        part = self.parts.get("freezer")
        return bool(part and part.module.frozen(part.path))

    def kill(self, timeout: float = 5.0) -> int:
        """SIGKILL every process in the group and in its child groups, and wait until they are gone;
        returns how many were killed.

        v2 has cgroup.kill, which the kernel applies to the whole subtree at once. v1 has no
        such file, and a fork bomb forks faster than a loop can kill, so: freeze, kill each, thaw.
        """
        victims = set(self._members())
        v2dirs = [p.path for p in self.parts.values() if p.version == "v2"]
        if not (v2dirs and all(v2.kill(d) for d in v2dirs) and len(self.dirs) == 1):
            freezer = self.parts.get("freezer")
            if freezer is not None and victims and freezer.path.exists():
                freezer.module.freeze(freezer.path)
            try:
                victims |= self._signal_all()
            finally:
                if freezer is not None and freezer.path.exists() and freezer.module.frozen(freezer.path):
                    freezer.module.thaw(freezer.path)
        deadline = time.monotonic() + timeout
        while True:
            self._reap()
            left = self._members()
            if not left:
                return len(victims)
            if time.monotonic() > deadline:
                raise LabError(f"{self.name} still holds processes after SIGKILL", f"pids {left[:10]}",
                               "A process in uninterruptible sleep (state D) dies when its I/O ends; try again")
            victims |= self._signal_all()
            time.sleep(0.01)

    def remove(self) -> None:
        """Kill what is left inside, then remove the group's directories, child groups first
        (rmdir, as the kernel wants: a group with a child or a process cannot go)."""
        if self._members():
            self.kill()
        self._reap()
        for d in self._tree():
            _rmdir(d)
        owned.unmark("cgroup", self.name)

    def __enter__(self) -> "Cgroup":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # -- helpers ----------------------------------------------------------------------------

    def _tree(self) -> list[Path]:
        """The group's directories and every child group below them, deepest first."""
        found = []
        for d in self.dirs:
            found += [Path(root) / c for root, children, _ in os.walk(d) for c in children] + [d]
        return sorted(dict.fromkeys(found), key=lambda p: len(p.parts), reverse=True)

    def _members(self) -> list[int]:
        """Pids in the group or in any child group (a child group's processes are the group's too)."""
        self._reap()
        found: set[int] = set()
        for d in self._tree():
            try:
                found.update(files.procs(d))
            except LabError:
                pass            # removed meanwhile
        return sorted(found)

    def _signal_all(self) -> set[int]:
        pids = set(self._members())
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pids

    def _reap(self) -> None:
        for child in self._children:
            child.poll()          # collect the exit status, so no zombie of ours lingers
        self._children = [c for c in self._children if c.returncode is None]

    def _no(self, controller: str):
        raise LabError(f"{self.name} has no {controller} controller", f"it has: {', '.join(self.parts)}",
                       f"Create it with controllers including {controller!r}")


def create(name: str, controllers: tuple[str, ...] | list[str] | None = None, **limits: object) -> Cgroup:
    """Make group `name` (it must start with ``lab-``) with its limits set, before any process joins.

    `controllers` defaults to memory, pids, cpu and freezer; limits are memory_max,
    memory_swap_max, pids_max, cpus or cpu_quota/cpu_period. On any failure nothing is left made.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise LabError(f"{name!r} is not a lab cgroup name",
                       "lesson cgroups are one directory named lab-NN-something (letters, digits, . _ -)",
                       f"Use a name like {config.lab_name('demo', '08')!r}, so `labkit.clean` can find it")
    wanted = Limits.parse(**limits)                      # bad input fails before anything is made
    parts = resolve(name, set(controllers or CONTROLLERS) | wanted.controllers())
    taken = [d for d in dict.fromkeys(p.path for p in parts.values()) if d.exists()]
    if taken:
        raise LabError(f"A cgroup {name} exists already", f"at {', '.join(map(str, taken))}",
                       f"Use labkit.cgroups.get({name!r}), or remove it first: labkit.cgroups.get({name!r}).remove()")
    group = Cgroup(name, parts)
    owned.mark("cgroup", name)          # before any directory: what a kill leaves, clean finds
    made: list[Path] = []
    try:
        for d in group.dirs:
            v2parts = {p.controller for p in parts.values() if p.path == d and p.version == "v2"}
            if v2parts:
                v2.enable(_root_of(parts, d), d, v2parts)
            os.mkdir(d)
            made.append(d)
        for part in parts.values():
            part.module.apply(part.path, wanted)
    except BaseException as err:
        for d in reversed(made):
            _rmdir(d, quiet=True)
        if isinstance(err, OSError):
            raise LabError(f"Cannot create cgroup {name}", str(err), "Run as root, on a machine with cgroups mounted") from None
        raise
    return group


def get(name: str) -> Cgroup:
    """An existing group, by its path below the hierarchy roots (e.g. 'lab-08-demo', 'labkit-docker/<id>')."""
    rel = name.strip("/")
    if not rel or ".." in rel.split("/"):
        raise LabError(f"{name!r} is not a cgroup path", "", "Give a path below the hierarchy root, like 'lab-08-demo'")
    parts = {c: p for c, p in _available(rel).items() if p.path.is_dir()}
    if not parts:
        raise LabError(f"No cgroup {rel}", "no hierarchy of this machine has that directory",
                       "List them: ls /sys/fs/cgroup (v2) or /sys/fs/cgroup/memory (v1)")
    return Cgroup(rel, parts)


def of(pid: int) -> Cgroup:
    """The group(s) process `pid` belongs to, from /proc/<pid>/cgroup."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        raise LabError(f"No process {pid}", "/proc has no such pid", "Check the pid: it may have exited") from None
    v1mounts, unified = hierarchy.v1_mounts(), hierarchy.unified()
    parts: dict[str, Part] = {}
    v2path = None
    for line in lines:
        _id, ctrls, path = line.split(":", 2)
        if ctrls == "":
            v2path = path
            continue
        for c in ctrls.split(","):
            if c in v1.CONTROLLERS and c in v1mounts:
                parts[c] = Part(c, "v1", Path(v1mounts[c]) / path.lstrip("/"), v1.CONTROLLERS[c])
    if v2path is not None and unified:
        d = Path(unified) / v2path.lstrip("/")
        have = set(files.read(d / "cgroup.controllers").split()) | v2.CORE if d.exists() else set()
        for c in CONTROLLERS:
            if c not in parts and c in have:
                parts[c] = Part(c, "v2", d, v2.CONTROLLERS[c])
    parts = {c: parts[c] for c in sorted(parts, key=_order)}
    name = next((str(p.path.relative_to(_mount_of(p))) for p in parts.values()), "/")
    return Cgroup(name, parts)


def resolve(name: str, controllers: set[str]) -> dict[str, Part]:
    """Where group `name` lives for each controller on this machine (v1 first, then cgroup2)."""
    unknown = sorted(set(controllers) - set(CONTROLLERS) - {"cpuacct"})
    if unknown:
        raise LabError(f"Unknown controller {', '.join(map(repr, unknown))}", "",
                       f"The lab drives: {', '.join(CONTROLLERS)}")
    available = _available(name)
    missing = sorted(c for c in controllers if c not in available)
    if missing:
        raise LabError(f"This machine has no {', '.join(missing)} controller", f"mode {hierarchy.mode()}; "
                       f"found {', '.join(sorted(available)) or 'none'}",
                       "Enable the controller (see `labkit doctor`, the cgroups row)")
    wanted = set(controllers)
    if "cpu" in wanted and available["cpu"].version == "v1" and "cpuacct" in available:
        wanted.add("cpuacct")         # v1 counts CPU time in a separate controller
    return {c: available[c] for c in sorted(wanted, key=_order)}


def _available(name: str) -> dict[str, Part]:
    found: dict[str, Part] = {}
    for c, point in hierarchy.v1_mounts().items():
        if c in v1.CONTROLLERS:
            found[c] = Part(c, "v1", Path(point) / name, v1.CONTROLLERS[c])
    unified = hierarchy.unified()
    if unified:
        try:
            offered = set(files.read(Path(unified) / "cgroup.controllers").split())
        except LabError:
            offered = set()
        for c in CONTROLLERS:
            if c not in found and (c in offered or c in v2.CORE):
                found[c] = Part(c, "v2", Path(unified) / name, v2.CONTROLLERS[c])
    return found


def _order(controller: str) -> int:
    order = (*CONTROLLERS, "cpuacct")
    return order.index(controller) if controller in order else len(order)


def _root_of(parts: dict[str, Part], d: Path) -> Path:
    return Path(hierarchy.unified() or d.parent)     # v2 parts of a group always live in the cgroup2 tree


def _mount_of(part: Part) -> Path:
    best = Path("/")
    for point, _fstype, _ctrls in hierarchy.mounts():
        p = Path(point)
        if (part.path == p or p in part.path.parents) and len(p.parts) > len(best.parts):
            best = p
    return best


def remove_dir(d: Path | str, timeout: float = 2.0) -> bool:
    """rmdir a cgroup directory, waiting while its last task is released; whether it is gone now."""
    _rmdir(Path(d), quiet=True, timeout=timeout)
    return not os.path.isdir(d)


def _rmdir(d: Path, quiet: bool = False, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.rmdir(d)
            return
        except FileNotFoundError:
            return
        except OSError as err:
            # EBUSY right after a kill: the last task is still on its way out
            if err.errno == errno.EBUSY and time.monotonic() < deadline:
                time.sleep(0.02)
                continue
            if quiet:
                return
            raise LabError(f"Cannot remove {d}", f"{errno.errorcode.get(err.errno, err.errno)}: {err.strerror}",
                           "A cgroup is removed with rmdir once it holds no process and no child group") from None
