"""`labkit bench`: measured, never guessed. Each figure is the median of several rounds."""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

# target seconds for each measurement
ENGINE_TARGETS = {"cold up (images built)": 5.0, "warm up": 0.5, "warm up (CLI process)": 0.5}


def _median_time(fn: Callable[[], object], rounds: int, before: Callable[[], object] = lambda: None) -> float:
    times = []
    for _ in range(rounds):
        before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def engine(rounds: int) -> dict[str, float]:
    """Cold `up` from a stopped engine, warm `up` in-process and as the `labkit up` command."""
    from labkit import engine as eng

    cli = [str(Path(sys.executable).parent / "labkit"), "up"]
    results = {
        "cold up (images built)": _median_time(eng.up, rounds, before=eng.down),
        "warm up": _median_time(eng.up, rounds),
        "warm up (CLI process)": _median_time(lambda: subprocess.run(cli, capture_output=True, check=True), rounds),
    }
    return results


def run(what: str, rounds: int = 3) -> int:
    """Print each measurement beside its target; exit 1 when one misses."""
    results = engine(rounds)
    print(f"{'measurement':<26} {'median':>9} {'target':>9}  ({rounds} rounds)")
    missed = 0
    for name, secs in results.items():
        target = ENGINE_TARGETS[name]
        missed += secs > target
        print(f"{name:<26} {secs:>8.3f}s {target:>8.1f}s  {'ok' if secs <= target else 'MISSED'}")
    return 1 if missed else 0
