"""The container's cgroup: linux.cgroupsPath made in every hierarchy the lab drives, with the limits
of linux.resources written before any process joins; then joined, signalled, frozen and removed.
labkit.cgroups' v1 and v2 modules write the files; this module decides which and where."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from labkit.cgroups import cgroup as cg
from labkit.cgroups import files, hierarchy, v1, v2
from labkit.cgroups.limits import MAX, Limits
from labkit.errors import LabError
from labkit.runtime import devices
from labkit.runtime.errors import Refused

DRIVEN = {"memory", "pids", "cpu", "freezer"}


def relative_path(spec: dict, cid: str) -> str:
    """linux.cgroupsPath below each hierarchy's root ('/labkit-docker/ID'); /ID when unset, as runc."""
    path = (spec.get("linux") or {}).get("cgroupsPath") or f"/{cid}"
    if ":" in path:
        raise Refused(f"cgroupsPath {path!r} is systemd's slice:prefix:name form: give a path like /{cid}, "
                      "or call labrun with --systemd-cgroup")
    rel = os.path.normpath("/" + path).lstrip("/")
    if not rel or rel.startswith(".."):
        raise Refused(f"cgroupsPath {path!r} names no group below the hierarchy root")
    return rel


def limits(resources: dict) -> Limits:
    """OCI resources as labkit.cgroups Limits. OCI's memory.swap is memory plus swap, as v1's memsw;
    -1 lifts a limit (what `update` sends to undo one), 0 leaves it as it is."""
    mem, cpu, pids = resources.get("memory") or {}, resources.get("cpu") or {}, resources.get("pids") or {}
    given: dict[str, object] = {key: MAX for key, value in (("memory_max", mem.get("limit")), ("pids_max", pids.get("limit")),
                                                            ("cpu_quota", cpu.get("quota"))) if value == -1}
    if mem.get("limit", 0) > 0:
        given["memory_max"] = mem["limit"]
        swap = mem.get("swap", 0)
        if swap == -1:
            given["memory_swap_max"] = MAX
        elif swap >= mem["limit"]:
            given["memory_swap_max"] = swap - mem["limit"]
    if pids.get("limit", 0) > 0:
        given["pids_max"] = pids["limit"]
    if cpu.get("quota", 0) > 0:
        given["cpu_quota"] = cpu["quota"]
    if cpu.get("period", 0) > 0:
        given["cpu_period"] = cpu["period"]
    try:
        return Limits.parse(**given)
    except LabError as err:
        raise Refused(f"linux.resources: {err}") from None


def create(rel: str, resources: dict) -> dict[str, str]:
    """Make the group with its limits; returns {controller: directory}. On failure nothing is left."""
    limits(resources)                                      # refused before anything is made
    dirs, parts = planned(rel), _parts(rel)
    made: list[str] = []
    try:
        for d in dict.fromkeys(dirs.values()):
            made += _makedirs(os.path.dirname(d))          # parents first: v2 enables controllers in them
            v2parts = {c for c, p in parts.items() if str(p.path) == d and p.version == "v2"}
            if v2parts:
                v2.enable(Path(hierarchy.unified()), Path(d), v2parts)
            made += _makedirs(d)
        configure(rel, resources)
    except (LabError, OSError) as err:
        remove(made)
        raise Refused(f"cannot set up cgroup {rel}: {err}") from None
    except BaseException:
        remove(made)
        raise
    return dirs


def planned(rel: str) -> dict[str, str]:
    """{controller: directory} of group `rel`, made or not (v1's devices too: labrun writes its rules)."""
    dirs = {c: str(p.path) for c, p in _parts(rel).items()}
    v1dev = hierarchy.v1_mounts().get("devices")
    if v1dev:
        dirs["devices"] = os.path.join(v1dev, rel)
    return dirs


def configure(rel: str, resources: dict) -> None:
    """Write the limits and the device rules into the existing group `rel`."""
    dirs = planned(rel)
    try:
        _write_limits(_parts(rel), limits(resources), resources)
        rules = resources.get("devices") or []
        rules = rules + devices.RUNC_ALLOWED if rules else []
        if rules and "devices" in dirs:
            devices.apply_v1(dirs["devices"], rules)
        elif rules:
            devices.apply_v2(dirs[next(iter(dirs))], rules)
    except (LabError, OSError) as err:
        raise Refused(f"cannot set up cgroup {rel}: {err}") from None


def update(rel: str, resources: dict) -> None:
    """New limits for a container's existing group (`labrun update`): memory, pids, cpu."""
    wanted = limits(resources)
    try:
        _write_limits(_parts(rel), wanted, resources)
    except (LabError, OSError) as err:
        raise Refused(f"cannot update cgroup {rel}: {err}") from None


def _write_limits(parts: dict, wanted: Limits, resources: dict) -> None:
    """The limits, cpu shares and the OOM switch into the group's files: what create and update share."""
    for part in parts.values():
        part.module.apply(part.path, wanted)
    _shares(parts, (resources.get("cpu") or {}).get("shares", 0))
    _oom_killer(parts, (resources.get("memory") or {}).get("disableOOMKiller", False))


def _parts(rel: str) -> dict:
    """Where group `rel` lives for each controller labrun drives that this machine offers."""
    return cg.resolve(rel, DRIVEN & set(cg._available(rel)))


def _shares(parts: dict, shares: int) -> None:
    """cpu.shares (v1), or cpu.weight (v2) converted as runc converts it."""
    if not shares or "cpu" not in parts:
        return
    part = parts["cpu"]
    if part.version == "v1":
        files.write(part.path / "cpu.shares", shares)
    else:
        files.write(part.path / "cpu.weight", cpu_weight(shares))


def cpu_weight(shares: int) -> int:
    """v1's cpu.shares (2..262144) as v2's cpu.weight (1..10000), runc's linear conversion."""
    return 1 + ((max(shares, 2) - 2) * 9999) // 262142


def _oom_killer(parts: dict, disable: bool) -> None:
    """memory.disableOOMKiller: v1's memory.oom_control; cgroup v2 has no such switch, so it is refused
    (runc drops it there silently, and Docker discards --oom-kill-disable with a warning)."""
    if not disable:
        return
    if "memory" not in parts or parts["memory"].version != "v1":
        raise Refused("linux.resources.memory.disableOOMKiller needs cgroup v1's memory controller; "
                      "cgroup v2 cannot turn the OOM killer off")
    files.write(parts["memory"].path / "memory.oom_control", 1)


def _makedirs(d: str) -> list[str]:
    """mkdir -p; the directories it made, deepest last."""
    made, missing = [], []
    p = Path(d)
    while not p.exists():
        missing.append(p)
        p = p.parent
    for p in reversed(missing):
        os.mkdir(p)
        made.append(str(p))
    return made


def join(dirs: dict[str, str], pid: int) -> None:
    """Move process `pid` into every directory of the group."""
    for d in dict.fromkeys(dirs.values()):
        files.write(Path(d) / "cgroup.procs", pid)


def procs(dirs: dict[str, str]) -> list[int]:
    """Every pid in the group, in any of its directories or their children."""
    found: set[int] = set()
    for d in dict.fromkeys(dirs.values()):
        for root, _subdirs, _files in os.walk(d):
            try:
                found.update(files.procs(Path(root)))
            except LabError:
                pass
    return sorted(found)


def signal_all(dirs: dict[str, str], sig: int) -> int:
    """Send `sig` to every process of the group, frozen meanwhile so none forks past it (runc's kill --all)."""
    freezer = dirs.get("freezer")
    module = _freezer(freezer) if freezer else None
    if module and sig == signal.SIGKILL:
        module.freeze(Path(freezer))
    try:
        pids = procs(dirs)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    finally:
        if module and sig == signal.SIGKILL:
            module.thaw(Path(freezer))
    return len(pids)


def freeze(dirs: dict[str, str], frozen: bool) -> None:
    """pause (freeze) or resume (thaw) the group."""
    d = dirs.get("freezer")
    if not d:
        raise Refused("this container's cgroup has no freezer: it cannot be paused")
    module = _freezer(d)
    (module.freeze if frozen else module.thaw)(Path(d))


def _freezer(d: str):
    return v2.CONTROLLERS["freezer"] if Path(d, "cgroup.freeze").exists() else v1.CONTROLLERS["freezer"]


def remove(dirs: list[str] | dict[str, str], timeout: float = 5.0) -> None:
    """rmdir the group's directories, children first; only what is empty can go."""
    paths = list(dict.fromkeys(dirs.values() if isinstance(dirs, dict) else dirs))
    for d in sorted(paths, key=len, reverse=True):
        for root, subdirs, _files in sorted(os.walk(d, topdown=False), key=lambda w: -len(w[0])):
            deadline = time.monotonic() + timeout
            while os.path.isdir(root):
                try:
                    os.rmdir(root)
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)
