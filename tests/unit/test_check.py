"""Every exercise checker rejects wrong answers and accepts its notebook's solution."""
import json
import os
from pathlib import Path

import pytest

from labkit import check as checks
from labkit import course

# Wrong answers a learner could plausibly give, per exercise.
WRONG = {
    "00.1": [1, os.getpid(), "containerd", 10**9],
    "00.2": ["v3", "cgroup2"] + [m for m in ("v1", "hybrid", "v2")],
}


def solutions() -> list[tuple[str, str, str]]:
    """(exercise, variable, solution source) from every lesson's solution cells."""
    found = []
    for ls in course.written():
        cells = json.loads(ls.path.read_text())["cells"]
        for i, cell in enumerate(cells):
            if "solution" not in cell.get("metadata", {}).get("tags", []):
                continue
            src = "".join(cell["source"])
            variable = src.split("=", 1)[0].strip()
            following = "".join(cells[i + 1]["source"])
            exercise = following.split('check("', 1)[1].split('"', 1)[0]
            found.append((exercise, variable, src))
    return found


def test_every_checker_has_wrong_answers_and_a_solution():
    checks._load()
    assert set(checks.CHECKERS) == set(WRONG)
    assert set(checks.CHECKERS) == {ex for ex, _, _ in solutions()}


@pytest.mark.parametrize("exercise", sorted(WRONG))
def test_checker_rejects_wrong_answers(exercise, engine):
    from labkit import cgroups

    for answer in WRONG[exercise]:
        if exercise == "00.2" and answer == cgroups.mode():
            continue      # the one right mode on this machine
        result = checks.check(exercise, answer)
        assert not result.ok, (exercise, answer)
        assert result.message.strip()


def test_checker_says_when_there_is_no_answer_yet():
    assert "No answer yet" in checks.check("00.2", None).message


@pytest.mark.parametrize("exercise,variable,source", solutions(), ids=lambda v: v if len(v) < 8 else "")
def test_checker_accepts_the_solution(exercise, variable, source, engine):
    namespace: dict = {}
    exec(compile(source, f"<solution {exercise}>", "exec"), namespace)
    assert checks.check(exercise, namespace[variable]).ok


def test_student_copy_keeps_the_stub_and_drops_the_solution(tmp_path):
    lesson = course.lesson("00")
    n = course.student_copy(lesson.path, tmp_path / lesson.filename)
    assert n == 2
    text = (tmp_path / lesson.filename).read_text()
    assert "containerd_pid = None" in text
    assert course.SOLUTION_MARK not in text and "/etc/labkit/containerd.toml\\\" in argv" not in text
