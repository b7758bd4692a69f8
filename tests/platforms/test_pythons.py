"""labkit on every Python it supports: its unit tests and the lessons a Python version can change pass in a venv of each ($LABKIT_PYTHONS).

The venvs live in /var/lib/labkit-pythons and are built once per pyproject.toml (see pythons.py);
a cold build fetches every dependency from the package index.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.platforms import pythons

pytestmark = pytest.mark.platforms
UNIT_TIMEOUT = 600
LESSONS = [f"notebooks/{name}.ipynb" for name in ("05-oci-image", "07-namespaces", "09-filesystems", "10-container-by-hand")]


def venv_or_fail(version: str) -> Path:
    """The venv's interpreter, or a failure that says only what is missing and how to get it.

    A learner's VM rarely has pyenv: there a missing Python is a skip that says so. CI's machines
    have these Pythons, so under CI (CI=true) it fails.
    """
    try:
        return pythons.venv_python(version)
    except pythons.PythonMissing as err:
        if not os.environ.get("CI"):
            pytest.skip(str(err))
        message = str(err)
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


@pytest.mark.parametrize("version", pythons.versions())
def test_the_version_sensitive_lessons_pass_nbval_on(version, engine):
    # The lessons a Python version can change: 07, 09 and 10 fork in the kernel (3.12+ warns), 05
    # gzips layers (3.11 changed gzip.compress's header). Their kernel is this venv's Python:
    # jupyter_client starts a kernelspec's "python" as the running interpreter.
    python = venv_or_fail(version)
    run = subprocess.run([str(python), "-m", "pytest", "--nbval", *LESSONS, "--nbval-sanitize-with",
                          "tests/sanitize.cfg", "-q", "-p", "no:cacheprovider"],
                         cwd=pythons.REPO, capture_output=True, text=True, timeout=UNIT_TIMEOUT)
    if run.returncode != 0:
        tail = "\n".join((run.stdout + run.stderr).splitlines()[-60:])
        pytest.fail(f"lessons fail under nbval on Python {version} ({python}):\n{tail}", pytrace=False)
