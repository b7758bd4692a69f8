"""v2 memory controller: memory.max, memory.swap.max; memory.current, memory.peak, memory.events."""
from __future__ import annotations

from pathlib import Path

from labkit.cgroups import files
from labkit.cgroups.limits import Limits

NAME = "memory"


def knobs(limits: Limits) -> list[tuple[str, str]]:
    """(file, value) pairs that express `limits`, in the order to write them."""
    out = []
    if limits.memory_max is not None:
        out.append(("memory.max", str(limits.memory_max)))
    if limits.memory_swap_max is not None:
        out.append(("memory.swap.max", str(limits.memory_swap_max)))
    return out


def apply(path: Path, limits: Limits) -> None:
    """Write the limits; memory.swap.max is skipped where the kernel has no swap accounting."""
    for name, value in knobs(limits):
        if name == "memory.swap.max" and not (path / name).exists():
            continue
        files.write(path / name, value)


def read_limits(path: Path) -> dict[str, int | None]:
    """memory_max (None = no limit)."""
    return {"memory_max": files.number(path / "memory.max")}


def stats(path: Path) -> dict[str, int]:
    """Usage now and at its peak, hits of the limit, OOM kills (memory.events)."""
    events = files.keyed(path / "memory.events")
    peak = path / "memory.peak"        # since Linux 5.19
    return {"memory_current": int(files.read(path / "memory.current")),
            "memory_peak": int(files.read(peak)) if peak.exists() else None,
            "memory_max_hits": events.get("max", 0), "oom_kills": events.get("oom_kill", 0)}


def events(path: Path) -> dict[str, dict[str, int]]:
    """The raw event counters, by file."""
    return {"memory.events": files.keyed(path / "memory.events")}
