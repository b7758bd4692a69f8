"""Every lesson: built as the course promises, runs twice in a row, and leaves nothing behind.

nbval (run over notebooks/ by the same test command) checks the stored outputs; this file
runs each notebook with papermill, as a learner would, with a residue check around it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from labkit import course, inventory, learner
from tests.conftest import residue

LESSONS = course.written()


def cells(lesson: course.Lesson) -> list[dict]:
    return json.loads(lesson.path.read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def output_text(output: dict) -> str:
    """The plain text of one stored output (a stream, or a result's text/plain)."""
    value = output["data"].get("text/plain", "") if "data" in output else output.get("text", "")
    return "".join(value) if isinstance(value, list) else value


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda ls: ls.number)
def test_lesson_has_the_course_shape(lesson):
    all_cells = cells(lesson)
    title = source(all_cells[0])
    assert title.startswith(f"# {lesson.number} · "), "first cell: '# NN · Title'"
    assert "**Time:**" in title and "**You will**" in title
    code = [c for c in all_cells if c["cell_type"] == "code"]
    assert "labkit.require(" in source(code[0]), "the first code cell checks what the lesson needs"
    markdown = "\n".join(source(c) for c in all_cells if c["cell_type"] == "markdown")
    exercises = re.findall(rf"^## Exercise {lesson.number}\.(\d+)", markdown, re.M)
    assert len(exercises) >= 2, "at least two exercises"
    solutions = [c for c in code if "solution" in c["metadata"].get("tags", [])]
    assert len(solutions) == len(exercises), "one solution cell, tagged 'solution', per exercise"
    assert all(learner.SOLUTION_MARK in source(c) for c in solutions)
    assert "## Recap" in markdown and "## Cleanup" in markdown
    assert f'labkit.clean("{lesson.number}")' in source(code[-1]), "the last code cell cleans up"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda ls: ls.number)
def test_stored_outputs_come_from_one_clean_run(lesson):
    code = [c for c in cells(lesson) if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), "re-run the lesson top to bottom: labkit course run --in-place NN"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert errors == []


@pytest.mark.integration
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda ls: ls.number)
def test_runs_twice_and_leaves_nothing_behind(lesson, engine, tmp_path):
    before = inventory.snapshot()
    for run in (1, 2):
        run_and_check(lesson, tmp_path / f"run{run}.ipynb")
    assert residue(before) == {}


def run_and_check(lesson: course.Lesson, out: Path) -> None:
    """Run the lesson top to bottom as a learner would (papermill raises on an error output),
    and require every checker to accept its solution."""
    import papermill

    papermill.execute_notebook(str(lesson.path), str(out), kernel_name="python3",
                               cwd=str(lesson.path.parent), progress_bar=False, log_output=False)
    assert_every_check_passes(json.loads(out.read_text()))


def assert_every_check_passes(nb: dict) -> None:
    """Each `check(...)` cell, run after its solution, must print ✓: the checker accepts it."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and 'check("' in source(cell):
            text = "".join(output_text(o) for o in cell["outputs"])
            assert text.startswith("✓"), (source(cell), text)
