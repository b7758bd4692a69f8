"""`python -m tests.platforms.lessons [LESSON.ipynb ...]`: every lesson under nbval strict, with the
residue check around the whole run, on a platform other than this machine (a guest VM, the
workshop container). It prints machine-readable lines for the host's test to read:

    LABKIT-LESSONS: nbval exit 0
    LABKIT-LESSONS: residue {}                      # kind -> what the lessons left, as JSON
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MARK = "LABKIT-LESSONS:"


def main(lessons: list[str]) -> int:
    from labkit import inventory
    from tests.conftest import residue

    before = inventory.snapshot()
    nbval = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--color=no", "-rA",
                            "--tb=short", "--nbval", "--nbval-sanitize-with", "tests/sanitize.cfg",
                            *(lessons or ["notebooks"])], cwd=REPO)
    print(f"{MARK} nbval exit {nbval.returncode}", flush=True)
    left = residue(before)
    print(f"{MARK} residue {json.dumps({k: sorted(v) for k, v in left.items()})}", flush=True)
    return 0 if nbval.returncode == 0 and not left else 1


def read(console: str) -> tuple[int | None, dict | None]:
    """(nbval's exit status, the residue) from a run's output; None where a line is missing."""
    status = residue = None
    for line in console.splitlines():
        if line.startswith(f"{MARK} nbval exit "):
            status = int(line.rsplit(" ", 1)[1])
        elif line.startswith(f"{MARK} residue "):
            residue = json.loads(line.split(" ", 2)[2])
    return status, residue


def failures(console: str) -> str:
    """pytest's ERRORS and FAILURES sections of a run's output, where the reasons are."""
    start = min((console.find(h) for h in ("= ERRORS =", "= FAILURES =") if h in console), default=-1)
    end = console.find("short test summary info", max(start, 0))
    return console[start:end] if 0 <= start < end else ""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
