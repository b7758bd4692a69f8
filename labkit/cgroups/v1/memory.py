"""v1 memory controller: memory.limit_in_bytes, memory.memsw.limit_in_bytes; usage, failcnt, oom_control."""
from __future__ import annotations

from pathlib import Path

from labkit.cgroups import files
from labkit.cgroups.limits import MAX, Limits

NAME = "memory"


def _bytes(value: int | str) -> str:
    return "-1" if value == MAX else str(value)


def knobs(limits: Limits) -> list[tuple[str, str]]:
    """(file, value) pairs that express `limits`; v1 counts swap inside memsw (memory + swap)."""
    out = []
    if limits.memory_max is not None:
        out.append(("memory.limit_in_bytes", _bytes(limits.memory_max)))
    if limits.memory_swap_max is not None and limits.memory_max not in (None, MAX):
        memsw = MAX if limits.memory_swap_max == MAX else limits.memory_max + limits.memory_swap_max
        out.append(("memory.memsw.limit_in_bytes", _bytes(memsw)))
    return out


def apply(path: Path, limits: Limits) -> None:
    """Write the limits; memsw must never be below the memory limit, so the order depends on the values."""
    pairs = [(n, v) for n, v in knobs(limits) if n != "memory.memsw.limit_in_bytes" or (path / n).exists()]
    memsw = dict(pairs).get("memory.memsw.limit_in_bytes")
    if memsw is not None:
        current = files.read(path / "memory.memsw.limit_in_bytes")
        if memsw == "-1" or int(memsw) > int(current):
            pairs.reverse()           # raising both: memsw first
    for name, value in pairs:
        files.write(path / name, value)


def read_limits(path: Path) -> dict[str, int | None]:
    """memory_max (None = no limit)."""
    return {"memory_max": files.number(path / "memory.limit_in_bytes")}


def stats(path: Path) -> dict[str, int]:
    """Usage now and at its peak, hits of the limit (failcnt), OOM kills (memory.oom_control)."""
    oom = files.keyed(path / "memory.oom_control")
    return {"memory_current": int(files.read(path / "memory.usage_in_bytes")),
            "memory_peak": int(files.read(path / "memory.max_usage_in_bytes")),
            "memory_max_hits": int(files.read(path / "memory.failcnt")), "oom_kills": oom.get("oom_kill", 0)}


def events(path: Path) -> dict[str, dict[str, int]]:
    """The raw event counters, by file."""
    return {"memory.oom_control": files.keyed(path / "memory.oom_control"),
            "memory.failcnt": {"failcnt": int(files.read(path / "memory.failcnt"))}}
