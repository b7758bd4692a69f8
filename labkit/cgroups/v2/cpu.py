"""v2 cpu controller: cpu.max ("quota period"); cpu.stat (usage and throttling)."""
from __future__ import annotations

from pathlib import Path

from labkit.cgroups import files
from labkit.cgroups.limits import Limits

NAME = "cpu"


def knobs(limits: Limits) -> list[tuple[str, str]]:
    """(file, value) pairs: one line "quota period" in cpu.max ("max" = no quota)."""
    if limits.cpu_quota is None and limits.cpu_period is None:
        return []
    quota = "max" if limits.cpu_quota is None else str(limits.cpu_quota)
    return [("cpu.max", quota if limits.cpu_period is None else f"{quota} {limits.cpu_period}")]


def apply(path: Path, limits: Limits) -> None:
    """Write the limits; a period given alone keeps the quota that is there."""
    for name, value in knobs(limits):
        if limits.cpu_quota is None:
            value = f"{files.read(path / name).split()[0]} {limits.cpu_period}"
        files.write(path / name, value)


def read_limits(path: Path) -> dict[str, int | None]:
    """cpu_quota (None = no quota) and cpu_period, in µs."""
    quota, period = files.read(path / "cpu.max").split()
    return {"cpu_quota": None if quota == "max" else int(quota), "cpu_period": int(period)}


def stats(path: Path) -> dict[str, int]:
    """CPU time used, periods seen, periods throttled, time throttled (cpu.stat, µs)."""
    st = files.keyed(path / "cpu.stat")
    return {"cpu_usage_usec": st.get("usage_usec", 0), "cpu_periods": st.get("nr_periods", 0),
            "cpu_throttled": st.get("nr_throttled", 0), "cpu_throttled_usec": st.get("throttled_usec", 0)}


def events(path: Path) -> dict[str, dict[str, int]]:
    """The raw counters, by file."""
    return {"cpu.stat": files.keyed(path / "cpu.stat")}
