"""`labrun kill [--all] ID SIGNAL`: a signal to the container's init, or with --all to every process
in its cgroup. The shim reads "container not running" and "no such process" in the error."""
from __future__ import annotations

import os
import signal
from pathlib import Path

from labkit.runtime import store
from labkit.runtime.errors import Refused


def parse_signal(text: str) -> int:
    """'9', 'KILL' or 'SIGKILL' -> 9."""
    if text.isdigit():
        number = int(text)
        if not 0 < number < signal.NSIG:
            raise Refused(f"signal {text} is out of range (1 to {signal.NSIG - 1})")
        return number
    name = text.upper() if text.upper().startswith("SIG") else "SIG" + text.upper()
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise Refused(f"unknown signal {text!r}: give a number or a name like TERM or SIGKILL") from None


def kill(root: Path, cid: str, sig: int, everything: bool = False) -> None:
    """Send `sig` to container `cid`'s init, or (everything) to all its processes."""
    rec = store.load(root, cid)
    status = store.status(root, rec)
    if everything:
        from labkit.runtime import resources      # labkit.cgroups: a third of this verb's imports, only for --all
        if status == "stopped" and not resources.procs(rec.cgroup):
            raise Refused("container not running")
        resources.signal_all(rec.cgroup, sig)
        return
    if status == "stopped":
        raise Refused("container not running")
    try:
        os.kill(rec.pid, sig)
    except ProcessLookupError:
        raise Refused("no such process") from None
