"""The learner's working copies of the lessons, and solutions on demand.

notebooks/ holds the teacher's lessons: solutions run, checks print their verdicts, and CI runs them
as they are. A learner works in learner/NN-slug.ipynb instead (`./lab open` serves that directory):
each exercise's answer cell keeps only its stub, and no stored output shows an answer, so nothing
answers an exercise before the learner has tried. The teacher's files are never opened, so never
rewritten by autosave. `labkit.solution("04.1")` shows one solution when asked for;
`labkit course reset NN` gives a fresh copy and keeps the old one aside.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from labkit import config, course
from labkit.errors import BadInput

LEARNER = config.REPO / "learner"
SOLUTION_MARK = "# --- solution ---"


def copy(src: Path, dest: Path) -> int:
    """Write lesson `src` to `dest` as a learner gets it; returns how many answer cells were cut."""
    import nbformat
    import nbformat.sign

    nb = nbformat.read(src, as_version=4)
    cut = 0
    for cell in nb.cells:
        if _is_solution(cell):
            cell.source = cell.source.split(SOLUTION_MARK)[0].rstrip() + "\n"
            cut += 1
        if hides_output(cell):
            cell.outputs, cell.execution_count = [], None
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.sign.NotebookNotary().sign(nb)     # the course's own: its stored diagrams (SVG) render
    nbformat.write(nb, dest)
    return cut


def sync(dest: Path = LEARNER) -> list[Path]:
    """A working copy of every lesson that has none yet (a copy that exists is the learner's work:
    it is never overwritten); returns the copies made."""
    made = []
    for lesson in course.written():
        target = dest / lesson.filename
        if not target.exists():
            copy(lesson.path, target)
            made.append(target)
    return made


def reset(number: str, dest: Path = LEARNER) -> tuple[Path, Path | None]:
    """Lesson `number`'s working copy, fresh; the old one moves to dest/.previous/ (returned too)."""
    lesson = _lesson(number)
    target, kept = dest / lesson.filename, None
    if target.exists():
        kept = dest / ".previous" / f"{target.stem}.{time.strftime('%Y%m%d-%H%M%S')}.ipynb"
        kept.parent.mkdir(parents=True, exist_ok=True)
        target.rename(kept)
    copy(lesson.path, target)
    return target, kept


@dataclass
class Solution:
    """One exercise's solution, as the teacher's notebook has it."""

    exercise: str
    lesson: str
    code: str

    def __str__(self) -> str:
        return (f"The solution of exercise {self.exercise}, from notebooks/{self.lesson} "
                f"(this shows the whole answer):\n\n{self.code}")

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        return (f"The solution of exercise **{self.exercise}**, from `notebooks/{self.lesson}` "
                f"(this shows the whole answer):\n\n```python\n{self.code}\n```")


def solution(exercise: str) -> Solution:
    """The solution of `exercise` ('04.1'): the code below the solution mark of its answer cell."""
    number = exercise.split(".")[0] if isinstance(exercise, str) else ""
    lesson = _lesson(number, exercise)
    import nbformat

    cells = nbformat.read(lesson.path, as_version=4).cells
    for i, cell in enumerate(cells):
        found = course.CHECK.search(cell.source) if cell.cell_type == "code" else None
        if found and found.group(1) == exercise:
            answer = next((c for c in reversed(cells[:i]) if _is_solution(c)), None)
            if answer is not None and SOLUTION_MARK in answer.source:
                return Solution(exercise, lesson.filename, answer.source.split(SOLUTION_MARK, 1)[1].strip())
    raise BadInput(f"Lesson {lesson.number} has no exercise {exercise}", "",
                   f"Its exercises are: {', '.join(exercises(lesson.number)) or 'none'}")


def exercises(number: str) -> list[str]:
    """The exercises of lesson `number`, in order ('04.1', '04.2', ...)."""
    import nbformat

    cells = nbformat.read(_lesson(number).path, as_version=4).cells
    return list(dict.fromkeys(m.group(1) for c in cells if c.cell_type == "code" for m in course.CHECK.finditer(c.source)))


def hides_output(cell) -> bool:
    """Whether a learner never sees this cell's stored output: an answer, a check (a stored
    "✓ Right: ..." names the answer), or a cell tagged `reveals`."""
    return cell.cell_type == "code" and (_is_solution(cell) or bool(course.CHECK.search(cell.source))
                                         or _tagged(cell, "reveals"))


def _is_solution(cell) -> bool:
    return cell.cell_type == "code" and _tagged(cell, "solution")


def _tagged(cell, tag: str) -> bool:
    # "solution": an answer cell (stub, mark, solution); "reveals": a cell whose stored output gives
    # an exercise's answer away (lesson 02 rebuilds what 02.1 asks to predict)
    return tag in cell.metadata.get("tags", [])


def _lesson(number: str, asked: str | None = None) -> course.Lesson:
    try:
        return course.lesson(number)
    except (StopIteration, ValueError, TypeError):
        raise BadInput(f"There is no lesson {asked or number!r}",
                       "lessons are numbered 00 to " + course.written()[-1].number,
                       "Give an exercise as 'NN.k' (such as '04.1'), or a lesson as 'NN'") from None
