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


RUNTIMES = ("runc", "labrun")       # the reference first: ratios are against it


def _interleaved(fn: Callable[[str], object], rounds: int) -> dict[str, float]:
    """fn(runtime) timed for each runtime in turn, round after round (so a slow moment of the machine
    falls on both), then each runtime's median."""
    times: dict[str, list[float]] = {rt: [] for rt in RUNTIMES}
    for _ in range(rounds):
        for rt in RUNTIMES:
            start = time.perf_counter()
            fn(rt)
            times[rt].append(time.perf_counter() - start)
    return {rt: statistics.median(t) for rt, t in times.items()}


def runtime(rounds: int) -> dict[str, dict[str, float]]:
    """For runc and labrun, interleaved in this same run: a bundle that runs `true` (create, start, wait,
    delete through the runtime's CLI), and `docker run --rm` of the same program through the lab engine."""
    import json
    import os
    import shutil

    from labkit import config, engine as eng
    from labkit.oci.spec import rootfs_from_image

    eng.up()
    bundle = config.SCRATCH / "lab-12-bench"
    shutil.rmtree(bundle, ignore_errors=True)
    rootfs_from_image("labkit/busybox", bundle / "rootfs", lesson="12")
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"].update(terminal=False, args=["true"])
    (bundle / "config.json").write_text(json.dumps(spec))
    cli = {"runc": ["runc", "--root", str(config.RUNC_ROOT)], "labrun": [str(config.LABRUN), "--root", str(config.LABRUN_ROOT)]}
    docker = ["docker", "--host", config.DOCKER_HOST, "run", "--rm", "--runtime"]

    def lifecycle(rt: str) -> None:
        cid = "lab-12-bench"
        _must([*cli[rt], "create", "--bundle", str(bundle), cid])
        _must([*cli[rt], "start", cid])
        while b'"stopped"' not in subprocess.run([*cli[rt], "state", cid], capture_output=True).stdout:
            time.sleep(0.002)
        _must([*cli[rt], "delete", cid])

    measures = {"create, start, delete (CLI)": lifecycle,
                "docker run --rm": lambda rt: subprocess.run([*docker, rt, "labkit/busybox", "true"], check=True,
                                                             capture_output=True)}
    try:
        return {name: _interleaved(fn, rounds) for name, fn in measures.items()}
    finally:
        shutil.rmtree(bundle, ignore_errors=True)
        os.sync()


def _must(argv: list[str]) -> None:
    """Run a runtime's verb with its stdio on a file (the container keeps create's), or say why it failed."""
    import tempfile

    from labkit.errors import LabError

    with tempfile.TemporaryFile() as err:
        if subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err).returncode:
            err.seek(0)
            raise LabError(f"`{' '.join(argv[:1] + argv[3:])}` failed", err.read().decode(errors="replace").strip(),
                           "Run it by hand to see more; `labkit clean 12` removes what it left")


def run(what: str, rounds: int = 3) -> int:
    """Print each measurement beside its target, or labrun's beside runc's; exit 1 when a target is missed."""
    if what == "runtime":
        rows = runtime(rounds)
        print(f"{'measurement':<30} {'runc':>9} {'labrun':>9} {'labrun/runc':>12}  ({rounds} rounds, medians)")
        for name, t in rows.items():
            print(f"{name:<30} {t['runc']:>8.3f}s {t['labrun']:>8.3f}s {t['labrun'] / t['runc']:>11.2f}x")
        return 0
    results = engine(rounds)
    print(f"{'measurement':<26} {'median':>9} {'target':>9}  ({rounds} rounds)")
    missed = 0
    for name, secs in results.items():
        target = ENGINE_TARGETS[name]
        missed += secs > target
        print(f"{name:<26} {secs:>8.3f}s {target:>8.1f}s  {'ok' if secs <= target else 'MISSED'}")
    return 1 if missed else 0
