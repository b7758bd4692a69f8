"""`labrun update --resources FILE ID`: new limits for a created or running container, from a JSON
LinuxResources object (containerd's shim sends it on stdin, `--resources -`; `docker update`)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from labkit.runtime import bundle, resources, store, systemd
from labkit.runtime.errors import Refused

# What update changes: the limits, not the device rules (runc's update leaves those too).
UPDATABLE = {key: value for key, value in bundle.SUPPORTED["linux"]["resources"].items() if key != "devices"}


def update(root: Path, cid: str, source: str) -> None:
    """Apply the LinuxResources in `source` (a path, or - for stdin) to container `cid`'s group."""
    rec = store.load(root, cid)
    if store.status(root, rec) == "stopped":
        raise Refused("container not running: a stopped container's limits cannot change")
    wanted = _read(source)
    for path in bundle.unsupported(wanted, UPDATABLE, "linux.resources."):
        raise Refused(f"unsupported field {path} in the update; labrun updates {', '.join(sorted(UPDATABLE))}")
    resources.update(rec.cgroup_path, wanted)
    if rec.systemd:                      # and to systemd, which would otherwise write its own back
        systemd.set_properties(systemd.Scope(**rec.systemd), wanted)


def _read(source: str) -> dict:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        wanted = json.loads(text)
    except (OSError, ValueError) as err:
        raise Refused(f"cannot read the resources to update from {source}: {err}") from None
    if not isinstance(wanted, dict):
        raise Refused(f"the resources to update must be a JSON object (LinuxResources), not {type(wanted).__name__}")
    return wanted
