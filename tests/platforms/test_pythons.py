"""labkit on every Python it supports: its unit tests pass in a venv of each ($LABKIT_PYTHONS).

The venvs live in /var/lib/labkit-pythons and are built once per pyproject.toml (see pythons.py);
a cold build fetches every dependency from the package index.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.platforms import pythons

pytestmark = pytest.mark.platforms
UNIT_TIMEOUT = 600


def venv_or_fail(version: str) -> Path:
    """The venv's interpreter, or a failure that says only what is missing and how to get it."""
    try:
        return pythons.venv_python(version)
    except pythons.PythonsError as err:
        message = str(err)
    pytest.fail(message, pytrace=False)


@pytest.mark.parametrize("version", pythons.versions())
def test_unit_tests_pass_on(version):
    python = venv_or_fail(version)
    found = subprocess.run([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert found == version, f"{python} is Python {found}, not {version}: remove {python.parents[1]} to rebuild it"
    run = subprocess.run([str(python), "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider"],
                         cwd=pythons.REPO, capture_output=True, text=True, timeout=UNIT_TIMEOUT)
    if run.returncode != 0:
        tail = "\n".join((run.stdout + run.stderr).splitlines()[-40:])
        pytest.fail(f"labkit's unit tests fail on Python {version} ({python}):\n{tail}", pytrace=False)
