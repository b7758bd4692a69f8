"""labkit.require in a real IPython shell: ready, or one paragraph and the live cells skipped."""
import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

from labkit import course, probes, requirements, stored
from labkit.errors import LabError


@pytest.fixture
def shell(monkeypatch):
    sh = InteractiveShell.instance()
    monkeypatch.setattr(requirements, "_ipython", lambda: sh)
    yield sh
    requirements._set_skipping(sh, None)
    InteractiveShell.clear_instance()


def test_unknown_need_lists_the_known_ones():
    with pytest.raises(LabError, match="does not know 'docker-compose'.*root"):
        requirements.check("docker-compose")


def test_missing_need_skips_the_later_cells(shell, monkeypatch, capsys):
    # As on a Binder pod: not root.
    monkeypatch.setitem(requirements.NEEDS, "root", lambda: probes.Row("root", False, "running as uid 1000", "Run as root"))
    monkeypatch.setattr(stored, "_cells", lambda filename: (nbformat.v4.new_code_cell("x = 1", id="c1"),))
    shell.user_ns["__session__"] = "00-setup.ipynb"
    shell.run_cell("import labkit; labkit.require('root')")
    shell.run_cell("x = 1")
    out = capsys.readouterr().out
    assert "x" not in shell.user_ns
    assert "skipped here: needs root" in out
    assert "Traceback" not in out


def test_a_re_check_lets_cells_run_again(shell, monkeypatch):
    monkeypatch.setitem(requirements.NEEDS, "root", lambda: probes.Row("root", False, "uid 1000", "Run as root"))
    shell.run_cell("import labkit; labkit.require('root')")
    monkeypatch.setitem(requirements.NEEDS, "root", lambda: probes.Row("root", True, "root"))
    monkeypatch.setattr(stored, "_cells", lambda filename: (nbformat.v4.new_code_cell("y = 2", id="c1"),))
    shell.user_ns["__session__"] = "00-setup.ipynb"
    shell.run_cell("labkit.require('root')")
    shell.run_cell("y = 2")
    assert shell.user_ns["y"] == 2


def test_lab_error_shows_as_a_paragraph_not_a_traceback(shell, capsys):
    shell.run_cell("import labkit; labkit.require('kernel')")
    shell.run_cell("from labkit.errors import LabError\nraise LabError('It broke', 'because', 'Do this')")
    out = capsys.readouterr().out
    assert "It broke" in out and "Do this" in out
    assert "Traceback" not in out


def test_a_skipped_cell_shows_its_stored_output_again(shell, monkeypatch, capsys):
    # As JupyterLab runs it: the kernel knows its notebook (a learner's copy) and each cell's id.
    monkeypatch.setitem(requirements.NEEDS, "root", lambda: probes.Row("root", False, "uid 1000", "Run as root"))
    lesson = course.lesson("01")
    cells = nbformat.read(lesson.path, as_version=4).cells
    shown = next(c for c in cells if c.cell_type == "code" and c.outputs and c.outputs[0].output_type == "stream"
                 and "unprivileged" not in c.metadata.get("tags", []) and "check(" not in c.source)
    shell.user_ns["__session__"] = f"/home/learner/learner/{lesson.filename}"
    shell.run_cell("import labkit; labkit.require('root')")
    capsys.readouterr()
    shell.run_cell(shown.source)
    out = capsys.readouterr().out
    assert "skipped here: needs root" in out and shown.outputs[0].text in out


def test_a_check_is_skipped_without_its_stored_verdict(shell, monkeypatch, capsys):
    monkeypatch.setitem(requirements.NEEDS, "root", lambda: probes.Row("root", False, "uid 1000", "Run as root"))
    lesson = course.lesson("02")
    check_cell = next(c for c in nbformat.read(lesson.path, as_version=4).cells if 'check("02.1"' in c.source)
    shell.user_ns["__session__"] = lesson.filename
    shell.run_cell("import labkit; labkit.require('root')")
    shell.run_cell(check_cell.source)
    out = capsys.readouterr().out
    assert "skipped here: needs root" in out and "✓" not in out


def test_cells_that_need_nothing_missing_run(shell, monkeypatch, capsys):
    monkeypatch.setitem(requirements.NEEDS, "root", lambda: probes.Row("root", False, "uid 1000", "Run as root"))
    tagged = nbformat.v4.new_code_cell("free = 1", id="free", metadata={"tags": ["unprivileged"]})
    locked = nbformat.v4.new_code_cell("locked = 3", id="locked")
    monkeypatch.setattr(stored, "_cells", lambda filename: (tagged, locked))
    shell.user_ns["__session__"] = "00-setup.ipynb"
    shell.run_cell("import labkit; labkit.require('root')")
    for code in ("free = 1", "mine = 2  # an answer the learner wrote", "locked = 3"):
        shell.run_cell(code)
    assert (shell.user_ns.get("free"), shell.user_ns.get("mine"), "locked" in shell.user_ns) == (1, 2, False)
