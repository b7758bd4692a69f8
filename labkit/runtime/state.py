"""`labrun state ID`: the container's state as the OCI runtime spec defines it, in JSON."""
from __future__ import annotations

from pathlib import Path

from labkit.runtime import store


def state(root: Path, cid: str) -> dict:
    """id, pid, status (created, running, paused, stopped), bundle, annotations, and runc's extras."""
    return store.oci_state(root, store.load(root, cid))
