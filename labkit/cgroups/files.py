"""Reading and writing cgroup files: every kernel refusal becomes a LabError that says why."""
from __future__ import annotations

import errno
import os
from pathlib import Path

from labkit.errors import LabError

UNLIMITED = 2**62        # v1 prints "no limit" as a huge page-rounded number, e.g. 9223372036854771712

# errno -> what a learner should know when the kernel refuses a cgroup write
_WHY = {
    errno.EBUSY: ("the cgroup is in use: on v2 a non-root group either holds processes or enables domain "
                  "controllers (memory, io, ...) for its children, never both (no internal processes); "
                  "v1 refuses a memory limit below what the group already uses"),
    errno.EINVAL: "the kernel rejected the value (wrong format, or out of the range this file accepts)",
    errno.ENOENT: "no such file: the controller is not enabled for this cgroup",
    errno.EOPNOTSUPP: ("the group's type does not allow it (v2: a threaded subtree, or a group of type "
                       "'domain invalid')"),
    errno.EACCES: ("permission denied: cgroup files belong to root, or to the user a group was delegated to; "
                   "on v2, moving a process also needs write access to cgroup.procs of the common ancestor"),
    errno.EPERM: "permission denied: cgroup files belong to root",
    errno.ESRCH: "no such process",
    errno.EAGAIN: "the pids limit is reached",
}


def read(path: Path) -> str:
    """The stripped text of a cgroup file."""
    try:
        return Path(path).read_text().strip()
    except OSError as err:
        raise LabError(f"Cannot read {path}", _why(err), "Check that the cgroup exists: ls its directory") from None


def write(path: Path, value: object) -> None:
    """Write one value the way the kernel wants it: one write(2) call, no buffering."""
    try:
        _write_once(path, value)
    except OSError as err:
        raise LabError(f"Writing {str(value)!r} to {path} failed", _why(err),
                       "Read the file's current value and its man page (cgroups(7)) for what it accepts") from None


def _write_once(path: Path, value: object) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def procs(group: Path) -> list[int]:
    """The pids in directory `group`'s cgroup.procs (LabError once the group is gone)."""
    return [int(p) for p in read(Path(group) / "cgroup.procs").split()]


def attempt(path: Path, value: object) -> str:
    """Write `value` and say what the kernel answered: 'ok', or the errno's name ('EBUSY', 'EACCES', ...).

    For showing a rule at work, where the refusal is the point; `write` raises instead.
    """
    try:
        _write_once(path, value)
    except OSError as err:
        return errno.errorcode.get(err.errno or 0, str(err.errno))
    return "ok"


def keyed(path: Path) -> dict[str, int]:
    """A flat-keyed file like memory.events or cpu.stat, as {key: number}."""
    out: dict[str, int] = {}
    for line in read(path).splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def number(path: Path) -> int | None:
    """A single-number file; None for 'max' (v2) or v1's huge 'no limit' values."""
    text = read(path)
    if text == "max" or text == "-1":
        return None
    value = int(text)
    return None if value >= UNLIMITED else value


def _why(err: OSError) -> str:
    code = err.errno or 0
    return f"{errno.errorcode.get(code, code)} ({os.strerror(code)}): {_WHY.get(code, 'the kernel refused')}"
