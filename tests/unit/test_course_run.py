"""`labkit course run`: a lesson run in a real kernel, stopped at the cell that raises and named by it,
its checks counted, the executed copy written where asked, and one table at the end."""
from __future__ import annotations

import nbformat
import pytest

from labkit import cli, course


def lesson(tmp_path, monkeypatch, number: str, *cells: str) -> course.Lesson:
    monkeypatch.setattr(course, "NOTEBOOKS", tmp_path)
    made = course.Lesson(number, f"try-{number}", "a try", "test")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, made.path)
    return made


def test_a_failing_cell_is_named_with_its_own_message(tmp_path, monkeypatch):
    ls = lesson(tmp_path, monkeypatch, "90", "print('one')", "raise ValueError('the error\\'s own words')", "print('never')")
    run = course.run(ls, tmp_path / "out" / ls.filename)
    assert not run.ok and run.cells == 1
    assert run.error == "cell 2 of 3: ValueError: the error's own words"
    written = nbformat.read(tmp_path / "out" / ls.filename, as_version=4)
    assert written.cells[0].outputs[0]["text"] == "one\n" and written.cells[2].outputs == []
    assert nbformat.read(ls.path, as_version=4).cells[0].outputs == []        # the lesson itself untouched


def test_checks_are_counted_and_a_missed_one_fails_the_lesson(tmp_path, monkeypatch):
    ls = lesson(tmp_path, monkeypatch, "91", "from labkit.check import check",
                "check('12.1', None)", "check('12.1', ['pivot_root'])")
    run = course.run(ls, tmp_path / ls.filename)
    assert (run.cells, run.checks, run.passed, run.error, run.ok) == (3, 2, 0, "", False)
    row = course.table([run]).splitlines()[1]
    assert row.startswith("91 try-91") and row.endswith("0/2  2 check(s) not passed")


def test_the_command_prints_a_table_and_fails_when_a_lesson_fails(tmp_path, monkeypatch, capfd):
    good = lesson(tmp_path, monkeypatch, "92", "x = 1")
    bad = lesson(tmp_path, monkeypatch, "93", "1 / 0")
    assert cli._run_lessons([good, bad], str(tmp_path / "runs"), in_place=False) == 1
    out, err = capfd.readouterr()                # fd level: the kernels' own stderr too
    assert "WARNING" not in err, err
    assert "92-try-92.ipynb: ok" in out and "93-try-93.ipynb: FAILED" in out
    assert "ZeroDivisionError: division by zero" in out and "Traceback" not in out
    assert (tmp_path / "runs" / bad.filename).exists()
