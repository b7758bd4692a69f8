"""`labrun delete [--force] ID`: remove a stopped container: its cgroup, its state; then the poststop
hooks. With --force a container that still runs is killed first (SIGKILL to its whole cgroup)."""
from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

from labkit.runtime import hooks, log, resources, store, systemd
from labkit.runtime.errors import Refused


def delete(root: Path, cid: str, force: bool = False) -> None:
    """Delete container `cid`; with force, whatever state it is in (and a missing one is no error)."""
    try:
        rec = store.load(root, cid)
    except Refused:
        if force:
            shutil.rmtree(store.directory(root, cid), ignore_errors=True)
            return
        raise
    with store.locked(root, cid):
        status = store.status(root, rec)
        if status != "stopped":
            if not force:
                raise Refused(f"cannot delete container {cid} that is {status}: stop it, or use --force")
            resources.signal_all(rec.cgroup, signal.SIGKILL)
            _wait_gone(rec)
        if rec.systemd:
            systemd.stop(systemd.Scope(**rec.systemd))
        resources.remove(rec.cgroup)
        shutil.rmtree(store.directory(root, cid), ignore_errors=True)
    for hook in rec.poststop:
        try:
            hooks.run_one(hook, "poststop", store.oci_state(root, rec) | {"status": "stopped"})
        except Refused as err:              # the spec: a failing poststop hook is logged, and delete goes on
            log.log("warning", str(err))


def _wait_gone(rec: store.Record, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (store.alive(rec) or resources.procs(rec.cgroup)) and time.monotonic() < deadline:
        time.sleep(0.01)
