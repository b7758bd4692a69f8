"""A lesson's stored outputs, shown again where a cell cannot run (no root, no engine: Binder).

Running a cell clears what the notebook showed under it, so a skipped cell would lose the very
output that stood in for it. The teacher's notebook (notebooks/NN-slug.ipynb) is the source: the
learner's copy has the same cells, by id, but loses outputs as cells run, and never had those
that give an answer away, which stay hidden here too.
"""
from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Callable

from labkit import course, learner


def cell(cell_id: str | None, session: str | None):
    """The teacher's cell `cell_id` of the lesson that notebook `session` is a copy of, or None."""
    if not cell_id or not session:
        return None
    return next((c for c in _cells(Path(session).name) if c.get("id") == cell_id), None)


def by_code(code: str, session: str | None, transform: Callable[[str], str]):
    """The teacher's cell whose code, transformed as IPython transforms a cell, is `code`; or None."""
    if not session:
        return None
    return next((c for c in _cells(Path(session).name) if c.cell_type == "code" and transform(c.source) == code), None)


def runs_unprivileged(found) -> bool:
    """Whether the cell runs as it is where the lesson's needs are missing: a cell tagged
    `unprivileged` (it reads /proc, computes a digest...), or an answer cell (the learner's own Python)."""
    tags = found.metadata.get("tags", [])
    return "unprivileged" in tags or "solution" in tags


def replay(cell_id: str | None, session: str | None, needs: str) -> None:
    """Say why the cell did not run, and show its stored output (unless it would give an answer away)."""
    found = cell(cell_id, session)
    if found is None or learner.hides_output(found):
        print(f"(skipped here: needs {needs})")
        return
    print(f"(skipped here: needs {needs}; on a machine that has it, this cell shows:)")
    from IPython.display import display

    for out in found.outputs:
        if out.output_type == "stream":
            (sys.stderr if out.name == "stderr" else sys.stdout).write(out.text)
        elif out.output_type in ("display_data", "execute_result"):
            display(dict(out.data), raw=True, metadata=dict(out.get("metadata", {})))


@lru_cache(maxsize=4)
def _cells(filename: str) -> tuple:
    lesson = next((ls for ls in course.LESSONS if ls.filename == filename), None)
    if lesson is None or not lesson.path.exists():
        return ()
    import nbformat

    return tuple(nbformat.read(lesson.path, as_version=4).cells)
