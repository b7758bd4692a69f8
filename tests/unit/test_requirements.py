"""labkit.require in a real IPython shell: ready, or one paragraph and the live cells skipped."""
import pytest
from IPython.core.interactiveshell import InteractiveShell

from labkit import probes, requirements
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
    shell.run_cell("labkit.require('root')")
    shell.run_cell("y = 2")
    assert shell.user_ns["y"] == 2


def test_lab_error_shows_as_a_paragraph_not_a_traceback(shell, capsys):
    shell.run_cell("import labkit; labkit.require('kernel')")
    shell.run_cell("from labkit.errors import LabError\nraise LabError('It broke', 'because', 'Do this')")
    out = capsys.readouterr().out
    assert "It broke" in out and "Do this" in out
    assert "Traceback" not in out
