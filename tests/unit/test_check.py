"""Every exercise checker rejects its known wrong answers; solutions are accepted in
tests/test_notebooks.py, where each lesson runs for real and every check must say ✓."""
import json

import pytest

from labkit import check as checks
from labkit import course

WRONG = checks.wrong_answers()


def exercises_in_notebooks() -> set[str]:
    found = set()
    for ls in course.written():
        for cell in json.loads(ls.path.read_text())["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] == "code" and 'check("' in src:
                found.add(src.split('check("', 1)[1].split('"', 1)[0])
    return found


def test_every_checker_has_wrong_answers_and_a_lesson():
    assert set(checks.CHECKERS) == set(WRONG)
    assert set(checks.CHECKERS) == exercises_in_notebooks()


@pytest.mark.parametrize("exercise", sorted(WRONG))
def test_checker_rejects_wrong_answers(exercise, engine):
    assert WRONG[exercise], "list at least one wrong answer"
    for answer in WRONG[exercise]:
        result = checks.check(exercise, answer)
        assert not result.ok, (exercise, answer)
        assert result.message.strip()


def test_checker_says_when_there_is_no_answer_yet():
    assert "No answer yet" in checks.check("00.2", None).message


def test_notebooks_readme_is_the_generated_index():
    assert (course.NOTEBOOKS / "README.md").read_text() == course.index_page()
