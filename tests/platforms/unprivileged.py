"""`python -m tests.platforms.unprivileged [NN ...]`: every lesson as a Binder learner meets it: not
root, and no lab engine in reach. tests/platforms/test_unprivileged.py starts this inside a user
namespace (uid 1000, no capability) whose /run/labkit is an empty tmpfs.

Each lesson's learner copy runs top to bottom as JupyterLab would run it (the kernel told which
notebook it runs), errors kept. One line a lesson, for the host's test to read:

    LABKIT-UNPRIVILEGED: {"lesson": "05", "errors": [...], "ran": [...], "silent": [...], "replayed": 12}

ran: cells tagged `unprivileged` that printed something of their own; silent: tagged cells that
printed nothing or only the skip note; replayed: cells that showed their stored output instead.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from labkit import course, learner

MARK = "LABKIT-UNPRIVILEGED:"
SKIPPED = "(skipped here: needs"
REPLAYED = "this cell shows:)"          # labkit.stored.replay's note, before the stored output


def run(lesson: course.Lesson, work: Path) -> dict:
    """Run the learner's copy of `lesson` (stubs where the answers go, as Binder's postBuild makes it)."""
    copy = work / lesson.filename
    learner.copy(lesson.path, copy)
    nb = nbformat.read(copy, as_version=4)
    os.environ["JPY_SESSION_NAME"] = str(copy)      # as jupyter_server starts a notebook's kernel
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(lesson.path.parent)}}).execute()
    report: dict = {"lesson": lesson.number, "errors": [], "ran": [], "silent": [], "replayed": 0}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = "".join(_text(o) for o in cell.outputs)
        report["errors"] += [f"{cell.id}: {o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
        if "unprivileged" in cell.metadata.get("tags", []):
            report["ran" if text.strip() and SKIPPED not in text else "silent"].append(cell.id)
        elif text.startswith(SKIPPED) and REPLAYED in text:
            report["replayed"] += 1
    return report


def _text(out) -> str:
    if out.output_type == "stream":
        return out.text
    return str(out.get("data", {}).get("text/plain", "")) if out.output_type != "error" else out.ename


def main(numbers: list[str]) -> int:
    lessons = [course.lesson(n) for n in numbers] or course.written()
    with tempfile.TemporaryDirectory(prefix="labkit-unprivileged-") as work:
        for lesson in lessons:
            print(MARK, json.dumps(run(lesson, Path(work))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
