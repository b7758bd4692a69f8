"""Every lesson as a Binder learner meets it (no root, no lab engine in reach), on this machine: a
user namespace where the test runs as uid 1000 with no capability, and /run/labkit is an empty tmpfs.
No cell shows an error; every cell tagged `unprivileged` really runs and prints; the others show their
stored outputs again."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from labkit import config, course
from tests.platforms.unprivileged import MARK

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def unprivileged(command: str) -> subprocess.CompletedProcess:
    # The outer namespace is root's (it may mount); the inner one maps this user to uid 1000.
    inner = f"exec unshare --user --map-user=1000 --map-group=1000 -- {command}"
    # No /run/labkit (the engine down): nothing there to hide.
    outer = f"{{ [ ! -d {config.RUN} ] || mount -t tmpfs -o mode=755 lab-none {config.RUN}; }} && {inner}"
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "--", "sh", "-c", outer],
                          cwd=REPO, capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def reports(root):
    done = unprivileged(f"{shlex.quote(sys.executable)} -m tests.platforms.unprivileged")
    found = {r["lesson"]: r for r in (json.loads(line.split(" ", 1)[1])
                                      for line in done.stdout.splitlines() if line.startswith(MARK))}
    assert set(found) == {ls.number for ls in course.written()}, done.stdout[-3000:] + done.stderr[-3000:]
    return found


def test_the_namespace_is_a_learner_without_root_or_engine(root):
    done = unprivileged(f"{shlex.quote(sys.executable)} -c \"import os; print(os.geteuid(), os.listdir('{config.RUN}') if os.path.isdir('{config.RUN}') else [])\"")
    assert done.stdout.split() == ["1000", "[]"], done.stderr


def test_no_lesson_shows_an_error(reports):
    assert {n: r["errors"] for n, r in reports.items() if r["errors"]} == {}


def test_cells_that_need_no_root_really_run(reports):
    assert {n: r["silent"] for n, r in reports.items() if r["silent"]} == {}
    ran = sum(len(r["ran"]) for r in reports.values())
    assert ran >= 10, f"only {ran} cells are tagged unprivileged and ran"


def test_the_other_cells_show_their_stored_outputs_again(reports):
    assert all(r["replayed"] > 0 for r in reports.values()), {n: r["replayed"] for n, r in reports.items()}
