"""v1 cpuacct controller: CPU time used (cpuacct.usage, ns). v2 folds this into cpu.stat."""
from __future__ import annotations

from pathlib import Path

from labkit.cgroups import files
from labkit.cgroups.limits import Limits

NAME = "cpuacct"


def knobs(limits: Limits) -> list[tuple[str, str]]:
    """cpuacct only counts: it has no limits."""
    return []


def apply(path: Path, limits: Limits) -> None:
    """Nothing to write."""


def read_limits(path: Path) -> dict[str, int | None]:
    """No limits."""
    return {}


def stats(path: Path) -> dict[str, int]:
    """CPU time used, in µs."""
    return {"cpu_usage_usec": int(files.read(path / "cpuacct.usage")) // 1000}


def events(path: Path) -> dict[str, dict[str, int]]:
    """No event counters."""
    return {}
