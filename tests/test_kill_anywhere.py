"""A lesson killed at any point is recovered by `labkit clean`, and then runs again to green.

A learner's kernel dies (out of memory, a restart, a closed laptop) in the middle of a cell that
has containers running, a daemon stopped or a mount made. Each lesson is killed here with SIGKILL
while a cell runs, at two points; then the learner's one command, `labkit clean`, must leave
nothing the lesson made, keep the engine working, and say only what it did; then the whole lesson
runs again and every check passes.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from labkit import course, engine, inventory
from tests.conftest import residue
from tests.test_notebooks import run_and_check

pytestmark = pytest.mark.integration

LESSONS = course.written()
POINTS = (0.25, 0.58, 0.8)      # how far into its code cells (0.58: lesson 03 stops containerd, 08 freezes)
LABKIT = str(Path(sys.executable).parent / "labkit")


def code_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def run_until_killed(path: Path, point: float, delay: float = 0.5) -> str:
    """Run the lesson from the top; SIGKILL its kernel `delay` s into the code cell at `point`
    (or as that cell ends, if it ends sooner).

    Returns the source of the cell the kernel died in.
    """
    nb = nbformat.read(path, as_version=4)
    cells = code_cells(nb)
    stop = cells[int(len(cells) * point)]
    client = NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        for index in cells:
            if index == stop:
                kernel = client.km.provisioner.process
                timer = threading.Timer(delay, kernel.send_signal, (signal.SIGKILL,))
                timer.start()
                try:
                    client.execute_cell(nb.cells[index], index)
                except DeadKernelError:
                    pass
                timer.cancel()
                if kernel.poll() is None:      # a quick cell ended first: the kernel dies right after it
                    kernel.send_signal(signal.SIGKILL)
                return nb.cells[index].source
            client.execute_cell(nb.cells[index], index)
    raise AssertionError("the lesson ended before the kernel was killed")


@pytest.mark.parametrize("point", POINTS, ids=lambda p: f"{round(p * 100)}pc")
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda ls: ls.number)
def test_a_killed_lesson_is_recovered_by_labkit_clean(lesson, point, engine_up, tmp_path):
    before = inventory.snapshot()
    cell = run_until_killed(lesson.path, point)
    clean = subprocess.run([LABKIT, "clean"], capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr
    assert engine.status().up, f"labkit clean left the engine down after a kill in:\n{cell}"
    assert residue(before) == {}, f"left behind after a kill in:\n{cell}\nlabkit clean said:\n{clean.stdout}"
    again = subprocess.run([LABKIT, "clean"], capture_output=True, text=True, timeout=300)
    assert again.stdout.startswith("nothing to clean"), f"a second clean still found:\n{again.stdout}"
    run_and_check(lesson, tmp_path / "again.ipynb")


@pytest.fixture
def engine_up(engine):
    engine.up()
    return engine
