"""v1 cpu controller (CFS bandwidth): cpu.cfs_quota_us, cpu.cfs_period_us; cpu.stat throttling."""
from __future__ import annotations

from pathlib import Path

from labkit.cgroups import files
from labkit.cgroups.limits import MAX, Limits

NAME = "cpu"


def knobs(limits: Limits) -> list[tuple[str, str]]:
    """(file, value) pairs: the period first, then the quota (-1 = no quota)."""
    out = []
    if limits.cpu_period is not None:
        out.append(("cpu.cfs_period_us", str(limits.cpu_period)))
    if limits.cpu_quota is not None:
        out.append(("cpu.cfs_quota_us", "-1" if limits.cpu_quota == MAX else str(limits.cpu_quota)))
    return out


def apply(path: Path, limits: Limits) -> None:
    """Write the limits."""
    for name, value in knobs(limits):
        files.write(path / name, value)


def read_limits(path: Path) -> dict[str, int | None]:
    """cpu_quota (None = no quota) and cpu_period, in µs."""
    return {"cpu_quota": files.number(path / "cpu.cfs_quota_us"),
            "cpu_period": int(files.read(path / "cpu.cfs_period_us"))}


def stats(path: Path) -> dict[str, int]:
    """Periods seen, periods throttled, time throttled (cpu.stat; v1 counts that in ns)."""
    st = files.keyed(path / "cpu.stat")
    return {"cpu_periods": st.get("nr_periods", 0), "cpu_throttled": st.get("nr_throttled", 0),
            "cpu_throttled_usec": st.get("throttled_time", 0) // 1000}


def events(path: Path) -> dict[str, dict[str, int]]:
    """The raw counters, by file."""
    return {"cpu.stat": files.keyed(path / "cpu.stat")}
