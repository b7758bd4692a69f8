"""Shared fixtures. Integration tests run against the real lab engine, as root."""
from __future__ import annotations

import os
import socket
import time
import warnings
from pathlib import Path

import pytest

from labkit import inventory


# The two systemd + cgroup v2 guests are the run's longest part, each on one CPU (qemu TCG, -smp 1):
# they boot before the first test and are collected by the last ones, while the host's tests run.
GUEST_TEST = "tests/integration/test_systemd_vm.py"
_GUEST = pytest.StashKey()


def pytest_collection_modifyitems(config, items):
    # Unit tests first, then the other Pythons and the engine, then the notebooks (nbval items are
    # .ipynb), then the guest's result.
    def rank(item):
        path = str(item.fspath)
        if item.nodeid.startswith(GUEST_TEST):
            return 4
        if path.endswith(".ipynb"):
            return 3
        return 2 if any(slow in path for slow in ("integration", "platforms", "test_notebooks", "test_kill_anywhere")) else 1

    items.sort(key=rank)


def pytest_collection_finish(session):
    if session.config.option.collectonly:
        return                  # nothing runs: boot nothing
    guest = next((item for item in session.items if item.nodeid.startswith(GUEST_TEST)), None)
    if guest is not None:
        session.config.stash[_GUEST] = guest.module
        guest.module.start()


def pytest_sessionfinish(session):
    # A run stopped before its last test (-x, Ctrl-C) must not leave a guest running.
    module = session.config.stash.get(_GUEST, None)
    for running in getattr(module, "_booted", {}).values():
        if running.qemu.poll() is None:
            running.qemu.kill()
            running.qemu.wait()
            running.tmp.cleanup()


@pytest.fixture(scope="session")
def root():
    if os.geteuid() != 0:
        pytest.skip("needs root: the lab engine makes mounts, bridges and cgroups (run `sudo ./lab test`)")


@pytest.fixture(scope="session")
def engine(root):
    """The lab engine up with its images built, as a lesson expects it, and nothing left of a run
    that was killed before it could clean up (a test makes the state it needs)."""
    import labkit
    from labkit import images

    labkit.up()
    images.build(progress=lambda line: None)
    left = labkit.clean()
    if any(left.values()):
        warnings.warn(f"an earlier run left lessons' state on this machine; removed before testing:\n{left}")
    return labkit


@pytest.fixture
def up(engine):
    """The engine up again for this test, even if a previous test took it down."""
    engine.up()
    return engine


# Every process this test run starts, and every process those start, inherits this mark; a
# process of the machine's own (a cron job, an editor, another user's shell) does not.
RUN_MARK = "LABKIT_TEST_RUN"
os.environ[RUN_MARK] = str(os.getpid())


def residue(before: dict[str, set[str]], settle: float = 5.0) -> dict[str, set[str]]:
    """What the lab made that exists now and did not before (processes get `settle` s to exit).

    The engine's own daemons are not residue: lesson 03 restarts containerd on purpose. A new
    process is residue when the lab made it (see `made_by_lab`), not because the machine is busy.
    """
    from labkit import engine

    deadline = time.monotonic() + settle
    while True:
        after = inventory.snapshot()
        daemon_pids = {str(r.pid) for r in engine.status().rows if r.pid}
        after["processes"] = {p for p in after["processes"] - before["processes"]
                              if p.split()[0] not in daemon_pids and made_by_lab(p.split()[0])}
        left = {k: after[k] - before[k] for k in after if after[k] - before[k]}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def made_by_lab(pid: str) -> bool:
    """A process this test run, a lesson or a lab container made: it carries the run's mark or a
    lesson's LABKIT_LESSON, sits in a lab cgroup, or descends from a shim of the lab containerd."""
    from labkit import config

    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        groups = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False         # gone meanwhile
    # This run's mark, not another test run's that happens to share the machine.
    if f"{RUN_MARK}={os.environ[RUN_MARK]}".encode() in env or any(v.startswith(f"{config.OWNER_ENV}=".encode()) for v in env):
        return True
    if any(part.startswith((config.PREFIX, "labkit")) for line in groups.splitlines()
           for part in line.split(":", 2)[-1].split("/")):
        return True
    return _lab_shim_ancestor(pid, str(config.CONTAINERD_SOCK).encode())


def _lab_shim_ancestor(pid: str, socket: bytes) -> bool:
    while pid not in ("0", "1"):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            pid = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            return False
        if b"containerd-shim" in cmd.split(b"\0")[0] and socket in cmd:
            return True
    return False


def free_port() -> int:
    """A TCP port nothing on 127.0.0.1 listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
