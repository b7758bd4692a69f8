"""`python -m tests.vm.record [NN ...]`: re-run lessons in the systemd + cgroup v2 guest and store
their outputs in notebooks/, so the stored outputs show what a learner on a stock VM sees.

The guest (tests/vm, flavour SYSTEMD) starts the lab engine as `./lab` does and runs each lesson in
place on its overlay root (`labkit course run`); the notebooks come back over the serial console,
base64 between markers. Outputs that differ between v1, hybrid and v2 are either printed in a form
that reads the same everywhere or marked NBVAL_IGNORE_OUTPUT, so nbval passes on every platform.
"""
from __future__ import annotations

import base64
import re
import shlex
import sys
from pathlib import Path

from tests.vm import Guest, initramfs, lab_job_prelude

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent
MARK = "LABKIT-RECORD"


def job(lessons: list[str]) -> str:
    files = " ".join(shlex.quote(f"notebooks/{p.name}") for p in paths(lessons))
    return "\n".join([
        *lab_job_prelude(REPO, VENV),
        "labkit up >/dev/null && labkit images build >/dev/null",
        f"labkit course run --in-place {' '.join(lessons)} > /tmp/run.log 2>&1; echo \"{MARK}-EXIT $?\"; "
        "grep -v '^  File \\|^    ' /tmp/run.log | tail -n 60",
        f"for f in {files}; do echo; echo \"{MARK} $f $(base64 -w0 \"$f\")\"; done",
    ])


def paths(lessons: list[str]) -> list[Path]:
    from labkit import course

    return [course.lesson(n).path for n in lessons] if lessons else [ls.path for ls in course.written()]


def main(lessons: list[str]) -> int:
    result = Guest.prepare(flavour=initramfs.SYSTEMD).run(job(lessons), timeout=3600, memory="3G")
    status = re.findall(rf"^{MARK}-EXIT (\d+)\s*$", result.console, re.M)
    if status != ["0"]:         # a lesson failed: its notebook is not rewritten, and nothing is stored
        print("\n".join(ln for ln in result.console.splitlines() if not ln.startswith(f"{MARK} "))[-8000:])
        print("`labkit course run` failed in the guest: nothing recorded", file=sys.stderr)
        return 1
    found = re.findall(rf"^{MARK} (\S+) (\S+)$", result.console, re.M)
    for name, data in found:
        (REPO / name).write_bytes(base64.b64decode(data))
        print(f"recorded {name}")
    wanted = {f"notebooks/{p.name}" for p in paths(lessons)}
    missing = wanted - {name for name, _ in found}
    if missing:
        print(result.console[-6000:])
        print(f"not recorded: {', '.join(sorted(missing))}", file=sys.stderr)
        return 1
    print(f"{len(found)} lessons recorded in the guest in {result.seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
