"""A container's record under --root: ROOT/ID holds state.json, exec.fifo from create until start,
and a lock, so several callers (the shim, `docker ps`, a learner) can act on it at once."""
from __future__ import annotations

import fcntl
import json
import os
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from labkit.runtime.errors import Refused

OCI_VERSION = "1.0.2"
FIFO = "exec.fifo"
_ID = re.compile(r"^[\w+.-]+$")     # runc's rule: letters, digits, _ + - .


@dataclass
class Record:
    """What a later verb needs to know of a container: state.json."""

    id: str
    bundle: str
    rootfs: str
    pid: int = 0
    start_time: int = 0                                  # /proc/PID/stat field 22: a reused pid has another
    created: str = ""
    annotations: dict = field(default_factory=dict)
    cgroup: dict = field(default_factory=dict)           # controller -> directory
    cgroup_path: str = ""                                # below each hierarchy's root, for update
    systemd: dict = field(default_factory=dict)          # the scope (slice, unit) with --systemd-cgroup
    poststop: list = field(default_factory=list)         # hooks for delete
    owner: str = "root"


def check_id(cid: str) -> None:
    """Refuse an id that is not a plain name (it becomes a directory under --root)."""
    if not _ID.match(cid) or cid in (".", ".."):
        raise Refused(f"invalid container id {cid!r}: use letters, digits and _ + - . only")


def directory(root: Path, cid: str) -> Path:
    """ROOT/ID."""
    check_id(cid)
    return root / cid


def ids(root: Path) -> list[str]:
    """The containers under `root` (`labrun list`)."""
    return sorted(d.name for d in root.iterdir() if (d / "state.json").exists()) if root.is_dir() else []


def load(root: Path, cid: str) -> Record:
    """The record of container `cid`, or Refused('container does not exist')."""
    try:
        data = json.loads((directory(root, cid) / "state.json").read_text())
    except FileNotFoundError:
        raise Refused(f"container {cid} does not exist") from None
    return Record(**data)


def save(root: Path, rec: Record) -> None:
    """Write state.json whole or not at all: a temporary file, then rename(2)."""
    d = directory(root, rec.id)
    tmp = d / "state.json.tmp"
    tmp.write_text(json.dumps(asdict(rec)))
    os.replace(tmp, d / "state.json")


def write_pid(path: str, pid: int) -> None:
    """A --pid-file as the shim parses it: digits only, no newline, never half-written (a temporary
    file renamed over it)."""
    tmp = f"{path}.labrun-tmp"
    Path(tmp).write_text(str(pid))
    os.replace(tmp, path)


@contextmanager
def locked(root: Path, cid: str) -> Iterator[None]:
    """Hold ROOT/ID's lock (flock(2) on the directory) while changing the container."""
    try:
        fd = os.open(directory(root, cid), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Refused(f"container {cid} does not exist") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def start_time(pid: int) -> int:
    """Field 22 of /proc/PID/stat (0 when there is no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[19])


def alive(rec: Record) -> bool:
    """The container's init still runs: same pid, same start time, not a zombie."""
    if not rec.pid or start_time(rec.pid) != rec.start_time:
        return False
    try:
        state = Path(f"/proc/{rec.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def status(root: Path, rec: Record) -> str:
    """created (init waits on exec.fifo), running, paused (frozen) or stopped, as runc decides."""
    if not alive(rec):
        return "stopped"
    if (directory(root, rec.id) / FIFO).exists():
        return "created"
    return "paused" if _frozen(rec) else "running"


def _frozen(rec: Record) -> bool:
    d = rec.cgroup.get("freezer")
    if not d:
        return False
    for name, frozen in (("freezer.state", "FROZEN"), ("cgroup.freeze", "1")):
        try:
            return Path(d, name).read_text().strip() == frozen
        except OSError:
            continue
    return False


def oci_state(root: Path, rec: Record) -> dict:
    """The state the OCI runtime spec defines, plus runc's extra fields (rootfs, created, owner)."""
    st = status(root, rec)
    return {"ociVersion": OCI_VERSION, "id": rec.id, "pid": rec.pid if st != "stopped" else 0, "status": st,
            "bundle": rec.bundle, "rootfs": rec.rootfs, "created": rec.created, "owner": rec.owner,
            "annotations": rec.annotations}
