"""v1 freezer controller: freezer.state (THAWED, FREEZING, FROZEN)."""
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
    """Write FROZEN, and wait until the kernel reports every task frozen (FREEZING passes)."""
    files.write(path / "freezer.state", "FROZEN")
    _wait(path, "FROZEN", timeout)


def thaw(path: Path, timeout: float = 5.0) -> None:
    """Write THAWED: the tasks run on from where they stopped."""
    files.write(path / "freezer.state", "THAWED")
    _wait(path, "THAWED", timeout)


def frozen(path: Path) -> bool:
    """True once every task is frozen."""
    return files.read(path / "freezer.state") == "FROZEN"


def stats(path: Path) -> dict[str, object]:
    """Whether the group is frozen."""
    return {"frozen": frozen(path)}


def events(path: Path) -> dict[str, dict[str, int]]:
    """No event counters."""
    return {}


def _wait(path: Path, state: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while files.read(path / "freezer.state") != state:
        if time.monotonic() > deadline:
            raise LabError(f"{path} did not reach {state}", f"freezer.state still reads {files.read(path / 'freezer.state')}",
                           "A task stuck in the kernel (uninterruptible sleep) can hold a freeze back; try again")
        time.sleep(0.01)
