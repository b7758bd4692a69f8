"""`labrun ps [--format json] ID`: the pids of every process in the container's cgroup."""
from __future__ import annotations

from pathlib import Path

from labkit.runtime import resources, store


def ps(root: Path, cid: str) -> list[int]:
    """Host pids of the container's processes."""
    return resources.procs(store.load(root, cid).cgroup)
