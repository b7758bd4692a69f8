"""Pressure stall information (PSI): how long tasks waited for CPU, memory or I/O.

The kernel writes the same format in /proc/pressure/{cpu,memory,io} (the whole machine) and,
on cgroup v2, in every non-root group's cpu.pressure, memory.pressure and io.pressure:

    some avg10=0.00 avg60=0.00 avg300=0.00 total=0
    full avg10=0.00 avg60=0.00 avg300=0.00 total=0

"some": the share of time at least one task was stalled; "full": all non-idle tasks at once.
The averages are percentages over 10, 60 and 300 s windows; total is the stall time in µs
and only grows. See the kernel's Documentation/accounting/psi.rst.

    pressure.read("/proc/pressure/memory")["some"].total
    pressure.read(group_dir / "memory.pressure")["full"].avg10
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labkit.cgroups import files
from labkit.errors import LabError

RESOURCES = ("cpu", "memory", "io")
SYSTEM = Path("/proc/pressure")
FIELDS = ("avg10", "avg60", "avg300", "total")


@dataclass(frozen=True)
class Stall:
    """One line of a pressure file: the three averages (percent) and the total (µs)."""

    avg10: float
    avg60: float
    avg300: float
    total: int


def parse(text: str) -> dict[str, Stall]:
    """{"some": Stall, "full": Stall} from a pressure file's text (a line the kernel lacks is left out)."""
    out: dict[str, Stall] = {}
    for line in text.splitlines():
        kind, *pairs = line.split()
        values = dict(p.split("=", 1) for p in pairs if "=" in p)
        if kind not in ("some", "full") or set(FIELDS) - set(values):
            raise LabError(f"{line!r} is not a pressure line",
                           "expected 'some|full avg10=… avg60=… avg300=… total=…'",
                           "Read a file in /proc/pressure or a cgroup's *.pressure")
        out[kind] = Stall(float(values["avg10"]), float(values["avg60"]), float(values["avg300"]), int(values["total"]))
    return out


def read(path: Path | str) -> dict[str, Stall]:
    """The pressure file at `path` (/proc/pressure/memory, or a v2 group's memory.pressure), parsed."""
    path = Path(path)
    if not path.exists():
        raise LabError(f"No pressure file {path}", "PSI is off in this kernel (CONFIG_PSI, or booted with psi=0), "
                       "or the directory is not a cgroup v2 group",
                       "Boot with psi=1, or read a group in the cgroup2 tree")
    return parse(files.read(path))


def system(resource: str) -> dict[str, Stall]:
    """The whole machine's pressure for `resource` (cpu, memory or io), from /proc/pressure."""
    if resource not in RESOURCES:
        raise LabError(f"No pressure for {resource!r}", "", f"Use one of: {', '.join(RESOURCES)}")
    return read(SYSTEM / resource)
