"""v2 pids controller: pids.max; pids.current, pids.events."""
from __future__ import annotations

from pathlib import Path

from labkit.cgroups import files
from labkit.cgroups.limits import Limits

NAME = "pids"


def knobs(limits: Limits) -> list[tuple[str, str]]:
    """(file, value) pairs that express `limits`."""
    return [] if limits.pids_max is None else [("pids.max", str(limits.pids_max))]


def apply(path: Path, limits: Limits) -> None:
    """Write the limits."""
    for name, value in knobs(limits):
        files.write(path / name, value)


def read_limits(path: Path) -> dict[str, int | None]:
    """pids_max (None = no limit)."""
    return {"pids_max": files.number(path / "pids.max")}


def stats(path: Path) -> dict[str, int]:
    """Processes now, and how many forks the limit refused (pids.events max)."""
    return {"pids_current": int(files.read(path / "pids.current")),
            "pids_max_hits": files.keyed(path / "pids.events").get("max", 0)}


def events(path: Path) -> dict[str, dict[str, int]]:
    """The raw event counters, by file."""
    return {"pids.events": files.keyed(path / "pids.events")}
