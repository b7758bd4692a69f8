"""`labrun pause ID` and `labrun resume ID`: freeze and thaw the container's cgroup."""
from __future__ import annotations

from pathlib import Path

from labkit.runtime import resources, store
from labkit.runtime.errors import Refused


def pause(root: Path, cid: str, frozen: bool = True) -> None:
    """Freeze (frozen=True) a running container, or thaw a paused one."""
    with store.locked(root, cid):
        rec = store.load(root, cid)
        status = store.status(root, rec)
        if status != ("running" if frozen else "paused"):
            raise Refused(f"container {cid} is {status}: only a {'running' if frozen else 'paused'} one can be "
                          f"{'paused' if frozen else 'resumed'}")
        resources.freeze(rec.cgroup, frozen)
