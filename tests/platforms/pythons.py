"""labkit's venv on each Python it supports, from pyenv, to run its tests (or a lesson) there.

`venv_python("3.10")` builds /var/lib/labkit-pythons/3.10 from pyenv's newest 3.10.x with
`pip install -e` of this checkout and returns its interpreter. Like `./lab` does for .venv, it
installs again only when pyproject.toml changed (a stamp file), or when the venv was made for
another checkout: an editable install points at one.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOME = Path("/var/lib/labkit-pythons")
DEFAULT = ("3.10", "3.12")        # the oldest supported and one past the system's 3.11
INSTALL_TIMEOUT = 1800            # a cold install fetches jupyterlab, grpcio, playwright...


class PythonsError(Exception):
    """A Python or its venv cannot be had; the message says what to do."""


class PythonMissing(PythonsError):
    """pyenv has no such Python on this machine."""


def versions() -> list[str]:
    """The Pythons to test on: $LABKIT_PYTHONS (e.g. "3.10 3.12"), else 3.10 and 3.12."""
    return os.environ.get("LABKIT_PYTHONS", "").split() or list(DEFAULT)


def pyenv_python(version: str) -> Path:
    """pyenv's interpreter for `version` ("3.10": its newest 3.10.x); the binary itself, never the shim."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = [p for p in root.glob(f"{version}.*/bin/python{version}") if re.fullmatch(r"[\d.]+", p.parents[1].name)]
    if not found:
        raise PythonMissing(f"Python {version} is missing: the platform tests want pyenv's {root}/{version}.x; "
                           f"get it with `pyenv install {version}`, or set LABKIT_PYTHONS to the versions you "
                           f"have (e.g. LABKIT_PYTHONS=\"3.11 3.13\").")
    return max(found, key=lambda p: [int(n) for n in p.parents[1].name.split(".")])


def venv_python(version: str) -> Path:
    """The interpreter of labkit's venv on Python `version`, (re)installed first if pyproject.toml changed."""
    venv = HOME / version
    python, stamp, log = venv / "bin" / "python", venv / ".labkit-stamp", HOME / f"{version}.log"
    if not os.access(HOME if HOME.exists() else HOME.parent, os.W_OK):
        raise PythonsError(f"Cannot write {HOME}, where the platform tests keep their venvs: run them as root, "
                           "as `sudo ./lab test` does.")
    HOME.mkdir(exist_ok=True)
    with open(HOME / f".{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)           # two test runs must not pip into one venv at once
        want = _stamp()
        if python.exists() and stamp.is_file() and stamp.read_text() == want:
            return python
        if not python.exists():                    # none yet, or its pyenv Python is gone
            _run([str(pyenv_python(version)), "-m", "venv", "--clear", str(venv)], log)
        _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", str(REPO)], log)
        stamp.write_text(want)
    return python


def _stamp() -> str:
    # As sha256sum prints it: the digest and the path, so another checkout installs again.
    pyproject = REPO / "pyproject.toml"
    return f"{hashlib.sha256(pyproject.read_bytes()).hexdigest()}  {pyproject}\n"


def _run(argv: list[str], log: Path) -> None:
    with open(log, "w") as out:
        code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT).returncode
    if code != 0:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise PythonsError(f"`{' '.join(argv)}` failed (exit {code}); the end of {log}:\n{tail}")
