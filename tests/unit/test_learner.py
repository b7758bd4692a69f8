"""The learner's working copies: stubs without solutions, no stored verdict or reveal, a solution
on demand, a reset that keeps the old copy; the teacher's notebooks untouched."""
from __future__ import annotations

import json

import nbformat
import nbformat.sign
import pytest

from labkit import check as checks
from labkit import course, learner
from labkit.errors import BadInput


@pytest.fixture(autouse=True)
def own_notary(tmp_path, monkeypatch):
    # Signatures go to a database of the test's own, not root's ~/.local/share/jupyter.
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))


def outputs_text(cell: dict) -> str:
    return "".join("".join(o.get("text", "")) + json.dumps(o.get("data", {})) for o in cell.get("outputs", []))


@pytest.mark.parametrize("lesson", course.written(), ids=lambda ls: ls.number)
def test_a_learner_copy_keeps_each_stub_and_no_answer(lesson, tmp_path):
    teacher = lesson.path.read_bytes()
    cells = json.loads(teacher)["cells"]
    solutions = [c for c in cells if "solution" in c["metadata"].get("tags", [])]
    assert learner.copy(lesson.path, tmp_path / lesson.filename) == len(solutions) >= 2
    copied = json.loads((tmp_path / lesson.filename).read_text())["cells"]
    assert [c["source"] for c in copied if c["cell_type"] == "markdown"] == \
           [c["source"] for c in cells if c["cell_type"] == "markdown"]
    for cell in copied:
        src = "".join(cell["source"])
        if "solution" in cell["metadata"].get("tags", []):
            assert learner.SOLUTION_MARK not in src and "= None" in src, "a stub remains, the solution goes"
        assert "✓" not in outputs_text(cell), f"a stored verdict gives the answer away:\n{src}"
    assert lesson.path.read_bytes() == teacher


def test_the_copy_is_trusted_so_its_diagrams_render(tmp_path):
    lesson = course.lesson("00")
    learner.copy(lesson.path, tmp_path / lesson.filename)
    nb = nbformat.read(tmp_path / lesson.filename, as_version=4)
    assert nbformat.sign.NotebookNotary().check_signature(nb)


def test_a_cell_that_reveals_an_answer_is_blank_in_the_copy(tmp_path):
    lesson = course.lesson("02")
    learner.copy(lesson.path, tmp_path / lesson.filename)
    teacher = {c["id"]: c for c in json.loads(lesson.path.read_text())["cells"]}
    copied = {c["id"]: c for c in json.loads((tmp_path / lesson.filename).read_text())["cells"]}
    assert "edit: [3, 4, 5, 6]" in outputs_text(teacher["c18"])
    assert copied["c18"]["outputs"] == [] and copied["c18"]["source"] == teacher["c18"]["source"]


def test_every_exercise_has_its_solution_on_demand():
    checks._load()
    for exercise in checks.CHECKERS:
        got = learner.solution(exercise)
        assert got.code.strip() and "= None  # your answer" not in got.code, exercise
        assert f"exercise {exercise}" in str(got) and "```python" in got._repr_markdown_()
    assert sorted(checks.CHECKERS) == sorted(e for ls in course.written() for e in learner.exercises(ls.number))


@pytest.mark.parametrize("asked", ["99.1", "04.9", "x", "", None])
def test_a_solution_that_does_not_exist_is_one_sentence(asked):
    with pytest.raises(BadInput) as err:
        learner.solution(asked)
    assert "\n" not in err.value.args[0]


def test_sync_makes_what_is_missing_and_keeps_the_learners_work(tmp_path):
    made = learner.sync(tmp_path)
    assert sorted(p.name for p in made) == sorted(ls.filename for ls in course.written())
    mine = tmp_path / course.lesson("04").filename
    mine.write_text(mine.read_text().replace("# your answer", "# my answer"))
    (tmp_path / course.lesson("05").filename).unlink()
    assert [p.name for p in learner.sync(tmp_path)] == [course.lesson("05").filename]
    assert "# my answer" in mine.read_text()


def test_reset_gives_a_fresh_copy_and_keeps_the_old_one(tmp_path):
    learner.sync(tmp_path)
    mine = tmp_path / course.lesson("04").filename
    mine.write_text(mine.read_text().replace("# your answer", "# my answer"))
    fresh, kept = learner.reset("4", tmp_path)
    assert fresh == mine and "# my answer" not in fresh.read_text()
    assert kept is not None and kept.parent == tmp_path / ".previous" and "# my answer" in kept.read_text()
    with pytest.raises(BadInput):
        learner.reset("42", tmp_path)
