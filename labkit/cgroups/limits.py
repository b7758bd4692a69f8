"""The limits a lesson asks for, in one vocabulary that v1 and v2 each translate to their files.

Units follow Docker's flags and the OCI runtime spec (linux.resources): memory in bytes (or
"32M"), a pids count, and CPU as a quota per period in microseconds, or `cpus` like
`docker run --cpus` (0.5 = half of one CPU = quota 50000 per period 100000).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields

from labkit.errors import LabError

MAX = "max"                 # "no limit", as v2 writes it
DEFAULT_PERIOD = 100_000    # µs: the kernel's and Docker's default CFS period

# limit keyword -> the controller that enforces it
CONTROLLER = {"memory_max": "memory", "memory_swap_max": "memory", "pids_max": "pids",
              "cpu_quota": "cpu", "cpu_period": "cpu", "cpus": "cpu"}
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)(?:i?b)?\s*$", re.I)


@dataclass(frozen=True)
class Limits:
    """Requested limits; None leaves a knob as it is, MAX lifts the limit."""

    memory_max: int | str | None = None       # bytes
    memory_swap_max: int | str | None = None  # bytes of swap; 0 when memory_max is set and this is not
    pids_max: int | str | None = None         # processes and threads
    cpu_quota: int | str | None = None        # µs of CPU time per period
    cpu_period: int | None = None             # µs

    @classmethod
    def parse(cls, **given: object) -> "Limits":
        """Validate keyword limits (memory_max=, pids_max=, cpus= or cpu_quota=/cpu_period=)."""
        unknown = sorted(set(given) - set(CONTROLLER))
        if unknown:
            raise LabError(f"Unknown limit {', '.join(map(repr, unknown))}", "",
                           f"Use one of: {', '.join(CONTROLLER)}")
        given = {k: v for k, v in given.items() if v is not None}
        memory = _size("memory_max", given.get("memory_max"))
        swap = _size("memory_swap_max", given.get("memory_swap_max"), zero_ok=True)
        if isinstance(memory, int) and swap is None:
            swap = 0                           # no swap: a memory limit then means an OOM kill, not paging
        period = _count("cpu_period", given.get("cpu_period"), low=1000, high=1_000_000, allow_max=False)
        quota = _count("cpu_quota", given.get("cpu_quota"), low=1000, high=None)
        if "cpus" in given:
            if "cpu_quota" in given:
                raise LabError("Give either cpus= or cpu_quota=, not both", "they set the same knob",
                               "cpus=0.5 means cpu_quota=50000 with cpu_period=100000")
            cpus = given["cpus"]
            if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or cpus <= 0:
                raise LabError(f"cpus={cpus!r} is not a positive number of CPUs", "",
                               "Use a fraction like cpus=0.5 (half of one CPU), as with `docker run --cpus`")
            period = period or DEFAULT_PERIOD
            quota = round(cpus * period)
            if quota < 1000:
                raise LabError(f"cpus={cpus} is too small", f"it gives a quota of {quota} µs; the kernel's minimum is 1000 µs",
                               "Use at least cpus=0.01")
        return cls(memory, swap, _count("pids_max", given.get("pids_max"), low=0, high=None), quota, period)

    def set(self) -> dict[str, object]:
        """The limits actually given, as {keyword: value}."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def controllers(self) -> set[str]:
        """The controllers these limits need."""
        return {CONTROLLER[k] for k in self.set()}


def _size(name: str, value: object, zero_ok: bool = False) -> int | str | None:
    if value is None or value == MAX:
        return value
    if isinstance(value, str):
        m = _SIZE.match(value)
        if not m:
            raise LabError(f"{name}={value!r} is not a size", "", 'Give bytes as a number, or a string like "32M" or "1G"')
        value = int(m.group(1)) * _UNITS[m.group(2).lower()]
    if isinstance(value, bool) or not isinstance(value, int):
        raise LabError(f"{name}={value!r} is not a size", "", 'Give bytes as a number, or a string like "32M"')
    if value < 0 or (value == 0 and not zero_ok):
        raise LabError(f"{name}={value} is not a limit", "a memory limit must be positive",
                       f'Give a positive size like "32M", or "{MAX}" for no limit')
    return value


def _count(name: str, value: object, low: int, high: int | None, allow_max: bool = True) -> int | str | None:
    if value is None or (allow_max and value == MAX):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        also = ' or "max"' if allow_max else ""
        raise LabError(f"{name}={value!r} is not a whole number", "", f"Give an int{also}")
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high else f"at least {low}"
        raise LabError(f"{name}={value} is out of range", f"the kernel accepts {bound}", f"Give a value {bound}")
    return value
