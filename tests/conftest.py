"""Shared fixtures. Integration tests run against the real lab engine, as root."""
from __future__ import annotations

import os
import time

import pytest

from labkit import inventory


def pytest_collection_modifyitems(config, items):
    # Unit tests first, then the other Pythons and the engine, then the notebooks (nbval items are .ipynb).
    def rank(item):
        path = str(item.fspath)
        if path.endswith(".ipynb"):
            return 3
        return 2 if any(slow in path for slow in ("integration", "platforms", "test_notebooks")) else 1

    items.sort(key=rank)


@pytest.fixture(scope="session")
def root():
    if os.geteuid() != 0:
        pytest.skip("needs root: the lab engine makes mounts, bridges and cgroups (run `sudo ./lab test`)")


@pytest.fixture(scope="session")
def engine(root):
    """The lab engine up with its images built, as a lesson expects it."""
    import labkit
    from labkit import images

    labkit.up()
    images.build(progress=lambda line: None)
    return labkit


@pytest.fixture
def up(engine):
    """The engine up again for this test, even if a previous test took it down."""
    engine.up()
    return engine


def residue(before: dict[str, set[str]], settle: float = 5.0) -> dict[str, set[str]]:
    """What exists now that did not before (processes get `settle` seconds to exit).

    The engine's own daemons are not residue: lesson 03 restarts containerd on purpose.
    """
    from labkit import engine

    deadline = time.monotonic() + settle
    while True:
        after = inventory.snapshot()
        daemon_pids = {str(r.pid) for r in engine.status().rows if r.pid}
        after["processes"] = {p for p in after["processes"] if p.split()[0] not in daemon_pids}
        left = {k: after[k] - before[k] for k in after if after[k] - before[k]}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)
