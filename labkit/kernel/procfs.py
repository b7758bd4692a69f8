"""/proc read as text: the mount table (mountinfo) and what a process's files say about it.

The one parser of each file labkit reads there (see proc(5)):

    mounts()                 # /proc/self/mountinfo, one Mount per line
    mounts(pid, text=...)    # another process's mount namespace, or recorded text (tests)
    cmdline(pid)             # ['sleep', '3600']
    status(pid)["NSpid"]     # '4242 1'
    state(pid), alive(pid), started(pid), parent_pid(pid), comm(pid), environ(pid)
    parse_cmdline(raw), parse_status(text), parse_stat(text)    # the same, from text read elsewhere

A process can exit between two reads. Each reader says so its own way, the way its callers
need: an empty value ([] / {} / None / False), or `gone(pid)` where a number is expected.
Stdlib only: a container runtime process imports labkit.kernel.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from labkit.errors import BadInput, LabError

PROC = Path("/proc")

_OCTAL = re.compile(r"\\([0-7]{3})")
_PID = re.compile(r"self|[0-9]+")


def gone(pid: int | str) -> LabError:
    """The error for a pid /proc does not show (it exited, or never was)."""
    return LabError(f"No process {pid}", "/proc has no such pid", "It may have exited; check the pid")


def _read(pid: int | str, name: str) -> bytes:
    # Only a pid or "self": any other name is another file of /proc (/proc/cmdline is the kernel's own).
    key = str(pid)
    if isinstance(pid, bool) or not _PID.fullmatch(key):
        raise FileNotFoundError(2, "not a pid", f"/proc/{key}/{name}")
    return (PROC / key / name).read_bytes()


def unescape(text: str) -> str:
    """Undo the octal escapes mountinfo writes for space, tab, newline and backslash (\\040 ...)."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), text)


# -- mounts ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mount:
    """One line of /proc/PID/mountinfo: where, what, with which options, and how it propagates."""

    mount_id: int
    parent_id: int
    major_minor: str        # the device, '0:50'
    root: str               # the directory of the filesystem mounted here ('/', or a bind's subdirectory)
    point: str              # where it is mounted, as this process's root sees it
    options: str            # per-mount options: 'rw,nosuid,relatime'
    optional: str           # the optional fields as written: 'shared:12 master:3', '' when private
    fstype: str
    source: str
    super_options: str      # the filesystem's own: 'rw,lowerdir=...,upperdir=...' (escapes kept)

    @property
    def propagation(self) -> str:
        """'shared', 'slave', 'shared+slave', 'private' or 'unbindable' (from the optional fields)."""
        tags = {field.split(":")[0] for field in self.optional.split()}
        if "unbindable" in tags:
            return "unbindable"
        if {"shared", "master"} <= tags:
            return "shared+slave"
        return "shared" if "shared" in tags else "slave" if "master" in tags else "private"

    @property
    def type(self) -> str:
        """The filesystem type (the name mount(8) -t and containerd use)."""
        return self.fstype

    @property
    def target(self) -> str:
        """The mount point (the name mount(8) and containerd use)."""
        return self.point

    def option(self, name: str) -> str:
        """The value of `name=` among the options, unescaped ('' when absent)."""
        for opt in _split_options(self.super_options) + _split_options(self.options):
            if opt.startswith(name + "="):
                return unescape(opt.split("=", 1)[1])
        return ""

    @property
    def lowerdirs(self) -> list[str]:
        """overlayfs's read-only layers, the topmost first."""
        # ':' separates the layers; overlayfs writes a ':' inside a path as '\:'
        return [d for d in re.split(r"(?<!\\):", self.option("lowerdir")) if d]

    @property
    def upperdir(self) -> str:
        """overlayfs's writable layer: where the container's changes land."""
        return self.option("upperdir")

    @property
    def workdir(self) -> str:
        """overlayfs's scratch directory (same filesystem as upperdir)."""
        return self.option("workdir")


def _split_options(text: str) -> list[str]:
    return [o for o in re.split(r"(?<!\\),", text) if o]


def parse_mountinfo_line(line: str) -> Mount:
    """One line of /proc/PID/mountinfo as a Mount (see proc(5))."""
    left, sep, right = line.partition(" - ")
    fields, rest = left.split(), right.split()
    if not sep or len(fields) < 6 or len(rest) < 2 or not (fields[0].isdigit() and fields[1].isdigit()):
        raise BadInput(f"{line!r} is not a mountinfo line", "", "Read lines from /proc/PID/mountinfo")
    return Mount(int(fields[0]), int(fields[1]), fields[2], unescape(fields[3]), unescape(fields[4]), fields[5],
                 " ".join(fields[6:]), unescape(rest[0]), unescape(rest[1]), rest[2] if len(rest) > 2 else "")


def mounts(pid: int | str = "self", text: str | None = None) -> list[Mount]:
    """The mounts process `pid` sees (its mount namespace), or those of mountinfo `text`.

    In the kernel's order: of several mounts on one point, the last is the one in use.
    """
    if text is None:
        try:
            text = _read(pid, "mountinfo").decode(errors="surrogateescape")
        except FileNotFoundError:
            raise gone(pid) from None
    return [parse_mountinfo_line(line) for line in text.splitlines() if line.strip()]


# -- a process ------------------------------------------------------------------------------------

def parse_cmdline(raw: bytes) -> list[str]:
    """The bytes of /proc/PID/cmdline as argv: each argument ends in NUL (a rewritten title may not)."""
    raw = raw[:-1] if raw.endswith(b"\0") else raw
    return [a.decode(errors="replace") for a in raw.split(b"\0")] if raw else []


def parse_status(text: str) -> dict[str, str]:
    """The text of /proc/PID/status as {'Name': 'sleep', 'PPid': '1', 'NSpid': '4242 1', ...}."""
    return {key: value.strip() for key, sep, value in (line.partition(":") for line in text.splitlines()) if sep}


def parse_stat(text: str) -> list[str]:
    """The fields of /proc/PID/stat, indexed as proc(5) numbers them less one: [pid, comm, state, ppid, ...].

    comm may hold spaces and ')', so it is what lies between the first '(' and the last ')'.
    [] for text of another shape.
    """
    pid, paren, rest = text.partition("(")
    comm, close, tail = rest.rpartition(")")
    return [pid.strip(), comm, *tail.split()] if paren and close else []


def pids() -> list[int]:
    """Every process /proc shows now (some may be gone by the time they are read)."""
    return [int(entry) for entry in os.listdir(PROC) if entry.isdigit()]


def cmdline(pid: int | str = "self") -> list[str]:
    """A process's argv ([] when it is gone, and for kernel threads and zombies)."""
    try:
        return parse_cmdline(_read(pid, "cmdline"))
    except OSError:
        return []


def comm(pid: int | str = "self") -> str | None:
    """The kernel's name for the process (15 characters at most), or None when it is gone."""
    try:
        return _read(pid, "comm").decode(errors="replace").rstrip("\n")
    except OSError:
        return None


def status(pid: int | str = "self") -> dict[str, str]:
    """/proc/PID/status as {'Name': 'sleep', 'PPid': '1', 'NSpid': '4242 1', ...} ({} when it is gone)."""
    try:
        return parse_status(_read(pid, "status").decode(errors="replace"))
    except OSError:
        return {}


def parent_pid(pid: int | str) -> int:
    """The parent of `pid`, from /proc/PID/status (raises `gone` when it has exited)."""
    ppid = status(pid).get("PPid")
    if ppid is None:
        raise gone(pid)
    return int(ppid)


def environ(pid: int | str = "self") -> dict[str, str]:
    """The environment the process started with ({} when it is gone or not ours to read)."""
    try:
        raw = _read(pid, "environ")
    except OSError:
        return {}
    pairs = (var.decode(errors="replace").partition("=") for var in raw.split(b"\0") if var)
    return {key: value for key, _, value in pairs}


def _stat(pid: int | str) -> list[str]:
    try:
        return parse_stat(_read(pid, "stat").decode(errors="replace"))
    except OSError:
        return []           # gone


def state(pid: int | str = "self") -> str | None:
    """The state letter (field 3 of stat): R running, S sleeping, D disk, Z zombie, T stopped, ... (None when gone)."""
    fields = _stat(pid)
    return fields[2] if len(fields) > 2 else None


def alive(pid: int | str) -> bool:
    """Is `pid` a live process (a zombie, exited but not yet reaped, is not)?"""
    return state(pid) not in (None, "Z")


def started(pid: int | str) -> float:
    """When `pid` started, in seconds after boot (field 22 of /proc/PID/stat)."""
    fields = _stat(pid)
    if len(fields) < 22:
        raise gone(pid)
    return int(fields[21]) / os.sysconf("SC_CLK_TCK")


def uptime() -> float:
    """Seconds since boot (/proc/uptime)."""
    return float((PROC / "uptime").read_text().split()[0])


def running_for(pid: int | str) -> float:
    """How long `pid` has been running, in seconds."""
    return uptime() - started(pid)
