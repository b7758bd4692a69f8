"""v2 freezer, part of the core (no controller to enable): cgroup.freeze, and `frozen` in cgroup.events."""
from __future__ import annotations

import time
from pathlib import Path

from labkit.cgroups import files
from labkit.cgroups.limits import Limits
from labkit.errors import LabError

NAME = "freezer"


def knobs(limits: Limits) -> list[tuple[str, str]]:
    """The freezer has a state, not limits."""
    return []


def apply(path: Path, limits: Limits) -> None:
    """Nothing to write."""


def read_limits(path: Path) -> dict[str, int | None]:
    """No limits."""
    return {}


def freeze(path: Path, timeout: float = 5.0) -> None:
    """Write 1 to cgroup.freeze, and wait until cgroup.events says `frozen 1`."""
    files.write(path / "cgroup.freeze", "1")
    _wait(path, 1, timeout)


def thaw(path: Path, timeout: float = 5.0) -> None:
    """Write 0 to cgroup.freeze: the tasks run on from where they stopped."""
    files.write(path / "cgroup.freeze", "0")
    _wait(path, 0, timeout)


def frozen(path: Path) -> bool:
    """True once every task is frozen."""
    return files.keyed(path / "cgroup.events").get("frozen") == 1


def stats(path: Path) -> dict[str, object]:
    """Whether the group is frozen."""
    return {"frozen": frozen(path)}


def events(path: Path) -> dict[str, dict[str, int]]:
    """cgroup.events: populated (any task inside) and frozen."""
    return {"cgroup.events": files.keyed(path / "cgroup.events")}


def _wait(path: Path, want: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while files.keyed(path / "cgroup.events").get("frozen") != want:
        if time.monotonic() > deadline:
            raise LabError(f"{path} did not {'freeze' if want else 'thaw'}", f"cgroup.events: {files.read(path / 'cgroup.events')}",
                           "Try again; a task stuck in the kernel can hold a freeze back")
        time.sleep(0.01)
