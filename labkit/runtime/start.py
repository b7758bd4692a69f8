"""`labrun start`: open exec.fifo for reading. Init, blocked opening its other end, goes on: it writes
one byte, which start reads, and execs the program. Then poststart hooks run."""
from __future__ import annotations

import os
import select
from pathlib import Path

from labkit.runtime import hooks, store
from labkit.runtime.bundle import load
from labkit.runtime.errors import Refused


def start(root: Path, cid: str) -> None:
    """Let created container `cid` run its program."""
    with store.locked(root, cid):
        rec = store.load(root, cid)
        status = store.status(root, rec)
        if status != "created":
            raise Refused(f"cannot start a container that is {status}: only a created one can start")
        fifo = store.directory(root, cid) / store.FIFO
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            # Open for reading, init's open for writing returns, and it writes its byte.
            if not select.select([fd], [], [], 10)[0] or not os.read(fd, 1):
                raise Refused("the container's init did not answer at start: it has died")
        finally:
            os.close(fd)
        fifo.unlink()
        spec = load(Path(rec.bundle))
        hooks.run(spec, "poststart", store.oci_state(root, rec))
