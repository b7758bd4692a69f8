"""`--systemd-cgroup`: the container's group as a transient systemd scope, made over D-Bus as runc does.

On a cgroup v2 machine whose PID 1 is systemd, labrun asks systemd (through busctl) for the scope, as
runc's systemd driver asks it. linux.cgroupsPath is then 'slice:prefix:name': the scope
'prefix-name.scope' in 'slice' (system.slice when empty), so 'system.slice:docker:ID' is
/sys/fs/cgroup/system.slice/docker-ID.scope. With Delegate=yes the scope's directory is the runtime's
to write, as with cgroupfs; the limits also go to systemd as unit properties, so that systemd does not
write its own values back.
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from labkit.runtime.errors import Refused
from labkit.runtime.resources import cpu_weight

BUS = ["org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager"]
INFINITY = 2**64 - 1                 # systemd's "infinity" for a uint64 limit
DEFAULT_SLICE = "system.slice"
DEFAULT_PREFIX = "labrun"            # runc's is "runc"


@dataclass(frozen=True)
class Scope:
    """The unit a container's group is, and its directory below the cgroup2 root."""

    slice: str
    unit: str

    @property
    def path(self) -> str:
        return f"{expand_slice(self.slice).strip('/')}/{self.unit}".lstrip("/")


def scope(cgroups_path: str, cid: str) -> Scope:
    """linux.cgroupsPath in systemd's 'slice:prefix:name' form (or empty: ':labrun:ID')."""
    parts = (cgroups_path or f"::{cid}").split(":")
    if len(parts) != 3:
        raise Refused(f"with --systemd-cgroup, cgroupsPath is 'slice:prefix:name', such as "
                      f"'system.slice:labrun:{cid}'; {cgroups_path!r} is not")
    slice_, prefix, name = parts[0] or DEFAULT_SLICE, parts[1] if cgroups_path else DEFAULT_PREFIX, parts[2] or cid
    expand_slice(slice_)
    if name.endswith(".slice") or "/" in name or "/" in prefix:
        raise Refused(f"cgroupsPath {cgroups_path!r}: labrun makes a scope, named prefix-name; "
                      "a name ending in .slice or holding '/' is not one")
    return Scope(slice_, f"{prefix}-{name}.scope" if prefix else f"{name}.scope")


def expand_slice(name: str) -> str:
    """A slice's directory, as systemd nests it: 'a-b.slice' is /a.slice/a-b.slice, '-.slice' is /."""
    stem = name[:-len(".slice")] if name.endswith(".slice") else ""
    if not stem or "/" in name:
        raise Refused(f"{name!r} is not a systemd slice name (such as system.slice or machine-lab.slice)")
    if stem == "-":
        return "/"
    path, prefix = "", ""
    for part in stem.split("-"):
        if not part:
            raise Refused(f"{name!r} is not a systemd slice name: a '-' separates non-empty parts")
        path += f"/{prefix}{part}.slice"
        prefix += f"{part}-"
    return path


def usable() -> None:
    """Refuse, in one sentence, a machine where labrun's systemd driver cannot work."""
    from labkit.cgroups import hierarchy

    if not os.path.isdir("/run/systemd/system"):       # sd_booted(3)'s test
        raise Refused("--systemd-cgroup needs systemd as PID 1, and this machine has none: leave the flag off")
    if hierarchy.v1_mounts() or not hierarchy.unified():
        raise Refused("labrun's systemd driver needs cgroup v2 only (a unified hierarchy); "
                      "this machine mounts v1 controllers: leave --systemd-cgroup off")


def start(sc: Scope, cid: str, pid: int, resources: dict, timeout: float = 30.0) -> None:
    """StartTransientUnit: the scope, with `pid` in it and the limits as properties; returns once
    systemd has moved `pid` into the scope's directory."""
    props = [("Description", "s", f"labrun container {cid}"), ("Slice", "s", sc.slice), ("Delegate", "b", "true"),
             ("PIDs", "au", "1", str(pid)), ("DefaultDependencies", "b", "false"),
             *[(key, "b", "true") for key in ("MemoryAccounting", "CPUAccounting", "TasksAccounting")],
             *properties(resources)]
    _busctl("StartTransientUnit", "ssa(sv)a(sa(sv))", sc.unit, "replace", str(len(props)),
            *[arg for prop in props for arg in prop], "0")
    want = f"0::/{sc.path}"
    deadline = time.monotonic() + timeout
    while _cgroup_of(pid) != want:
        if time.monotonic() > deadline:
            raise Refused(f"systemd did not put the container in {sc.unit} within {timeout:.0f} s")
        time.sleep(0.01)


def set_properties(sc: Scope, resources: dict) -> None:
    """SetUnitProperties (runtime only): new limits that systemd keeps, for `labrun update`."""
    props = properties(resources)
    if props:
        _busctl("SetUnitProperties", "sba(sv)", sc.unit, "true", str(len(props)), *[a for p in props for a in p])


def stop(sc: Scope) -> None:
    """StopUnit; a scope already gone (systemd drops an empty one) is no error."""
    try:
        _busctl("StopUnit", "ss", sc.unit, "replace")
    except Refused as err:
        if "not loaded" not in str(err):
            raise


def properties(resources: dict) -> list[tuple[str, ...]]:
    """linux.resources as systemd unit properties, converted as runc's systemd driver converts them."""
    mem, cpu, pids = resources.get("memory") or {}, resources.get("cpu") or {}, resources.get("pids") or {}
    props: list[tuple[str, ...]] = []
    for key, value in (("MemoryMax", mem.get("limit")), ("TasksMax", pids.get("limit"))):
        if value == -1 or (value or 0) > 0:
            props.append((key, "t", str(INFINITY if value == -1 else value)))
    limit, swap = mem.get("limit") or 0, mem.get("swap") or 0
    if swap == -1 or (limit > 0 and swap >= limit):
        props.append(("MemorySwapMax", "t", str(INFINITY if swap == -1 else swap - limit)))
    quota, period = cpu.get("quota") or 0, cpu.get("period") or 100_000
    if quota > 0:
        per_sec = quota * 1_000_000 // period
        per_sec += -per_sec % 10_000            # systemd keeps it in whole 10 ms steps: round up, as runc does
        props.append(("CPUQuotaPerSecUSec", "t", str(per_sec)))
    if (cpu.get("shares") or 0) > 0:
        props.append(("CPUWeight", "t", str(cpu_weight(cpu["shares"]))))
    return props


def _busctl(method: str, signature: str, *args: str) -> str:
    try:
        done = subprocess.run(["busctl", "call", *BUS, method, signature, *args],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise Refused(f"cannot ask systemd to {method} over D-Bus: {err}") from None
    if done.returncode != 0:
        raise Refused(f"systemd refused {method} {args[0]}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _cgroup_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cgroup").read_text().strip()
    except OSError:
        raise Refused("the container's first process ended before systemd took it in") from None
