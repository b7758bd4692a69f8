"""Namespaces above the syscalls: run code in new namespaces, look at them, join them.

unshare(2) moves the *calling* process; in a notebook that would move the kernel itself.
So every experiment here runs in a forked child, and its return value (or its exception)
comes back to the caller through a pipe::

    from labkit.kernel import unshare, sethostname, CLONE_NEWUTS

    def experiment():
        unshare(CLONE_NEWUTS)
        sethostname("lab-07-uts")
        return socket.gethostname()

    in_child(experiment)                       # 'lab-07-uts'; this process keeps its hostname
    run(socket.gethostname, CLONE_NEWUTS)      # the same, with the unshare done for you
    join(pid, socket.gethostname, ["uts"])     # setns(2) into another process's namespace
    inodes(pid)                                # {'net': 4026531840, ...} from /proc/PID/ns

A PID (or time) namespace applies to the caller's *children*: `run` forks once more so the
function runs as PID 1. User namespaces get their uid/gid maps written from outside by a
helper that stays in the parent namespace, as newuidmap(1) does. See namespaces(7),
user_namespaces(7), pid_namespaces(7), mount_namespaces(7), time_namespaces(7).
"""
from __future__ import annotations

import io
import os
import pickle
import re
import select
import signal
import struct
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from labkit import config
from labkit.errors import BadInput, LabError
from labkit.forking import fork
from labkit.kernel import (CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWTIME,
                           CLONE_NEWUSER, CLONE_NEWUTS, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_REC,
                           PR_SET_DUMPABLE, PR_SET_PDEATHSIG, mount, prctl, setns, unshare)
from labkit.kernel import procfs

# Each kind of namespace, by the name of its link in /proc/PID/ns, and its CLONE_NEW* flag.
FLAGS: dict[str, int] = {
    "cgroup": CLONE_NEWCGROUP, "ipc": CLONE_NEWIPC, "mnt": CLONE_NEWNS, "net": CLONE_NEWNET,
    "pid": CLONE_NEWPID, "time": CLONE_NEWTIME, "user": CLONE_NEWUSER, "uts": CLONE_NEWUTS,
}
KINDS = tuple(FLAGS)
ALL = sum(FLAGS.values())
# The order nsenter(1) joins in: the user namespace first (it grants the capabilities the
# others need when they belong to it), the mount namespace last but one (it changes what paths mean).
JOIN_ORDER = ("user", "cgroup", "ipc", "uts", "net", "pid", "mnt", "time")
TIMEOUT = 60.0
HOLD_SECONDS = 3600                 # a held namespace's process ends by itself after an hour
_LINK = re.compile(r"^([a-z_]+):\[(\d+)\]$")
_HEADER = struct.Struct("!Q")
_MAX_ID = 2**32 - 1                 # (uid_t)-1 is never a valid id
_MAX_MAP_LINES = 340                # the kernel's limit since Linux 4.15


# -- what a process is in ---------------------------------------------------------------------

def parse_link(text: str) -> tuple[str, int]:
    """'net:[4026531840]' (a /proc/PID/ns link) -> ('net', 4026531840)."""
    m = _LINK.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise BadInput(f"{text!r} is not a namespace link", "", "A /proc/PID/ns link reads like 'net:[4026531840]'")
    return m.group(1), int(m.group(2))


def inodes(pid: int | str = "self") -> dict[str, int]:
    """The inode of each namespace process `pid` is in, by kind (equal inodes: the same namespace)."""
    base = _proc(pid) / "ns"
    found = {}
    for kind in KINDS:
        try:
            found[kind] = parse_link(os.readlink(base / kind))[1]
        except FileNotFoundError:
            if not base.exists():
                raise procfs.gone(pid) from None
        except PermissionError:
            # root is refused too where the target holds capabilities the reader lacks (ptrace rules)
            raise LabError(f"Cannot read {base / kind}", "permission denied (ptrace access mode check)",
                           "Run as root; a process with more capabilities than yours stays closed even to root") from None
    return found


def inode(pid: int | str, kind: str) -> int:
    """The inode of process `pid`'s namespace of one kind ('net', 'uts', ...)."""
    _kinds([kind])
    found = inodes(pid)
    if kind not in found:
        raise LabError(f"This kernel has no {kind} namespace", f"no /proc/{pid}/ns/{kind}", "It needs a newer kernel")
    return found[kind]


def shared(pid: int | str, other: int | str = "self") -> set[str]:
    """The kinds of namespace process `pid` shares with process `other` (by default: this one)."""
    mine, theirs = inodes(pid), inodes(other)
    return {kind for kind in mine if theirs.get(kind) == mine[kind]}


def kinds_of(flags: int) -> list[str]:
    """CLONE_NEWUTS | CLONE_NEWNET -> ['net', 'uts']."""
    flags = _flags(flags)
    return [kind for kind, flag in FLAGS.items() if flags & flag]


def flags_of(kinds: Iterable[str]) -> int:
    """['net', 'uts'] -> CLONE_NEWNET | CLONE_NEWUTS."""
    return sum(FLAGS[k] for k in set(_kinds(kinds)))


# -- mounts, as one process sees them --------------------------------------------------------

def mounts(pid: int | str = "self", under: str | os.PathLike | None = None) -> list[procfs.Mount]:
    """The mounts process `pid` sees (in its mount namespace), optionally only those at or below `under`."""
    _proc(pid)                  # a pid that is no pid is refused, not looked for
    top = None if under is None else os.path.normpath(os.fspath(under))
    return [m for m in procfs.mounts(pid)
            if top is None or m.point == top or m.point.startswith(top.rstrip("/") + "/")]


# -- uid and gid maps -------------------------------------------------------------------------

@dataclass(frozen=True)
class IdRange:
    """One line of a uid_map/gid_map: `count` ids from `inside` map to ids from `outside`."""

    inside: int
    outside: int
    count: int

    def __str__(self) -> str:
        return f"{self.inside} {self.outside} {self.count}"

    def to_outside(self, inside: int) -> int | None:
        """The outside id of `inside`, or None when this range does not map it."""
        return self.outside + inside - self.inside if self.inside <= inside < self.inside + self.count else None


def id_map_line(inside: int, outside: int, count: int = 1) -> str:
    """The uid_map/gid_map line mapping `count` ids from `inside` to `outside` ('0 100000 1')."""
    return str(_range(inside, outside, count))


def parse_id_map(text: str) -> list[IdRange]:
    """Check a uid_map/gid_map text the way the kernel does, and return its ranges."""
    if not isinstance(text, str):
        raise BadInput(f"An id map is text, not {type(text).__name__}", "", "Write lines like '0 100000 1'")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise BadInput("The id map is empty", "", "Write at least one line: inside-id outside-id count")
    if len(lines) > _MAX_MAP_LINES:
        raise BadInput(f"An id map has at most {_MAX_MAP_LINES} lines, not {len(lines)}", "", "Merge ranges")
    ranges = []
    for ln in lines:
        parts = ln.split()
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise BadInput(f"{ln.strip()!r} is not an id map line", "each line is three numbers separated by spaces",
                           "Write 'inside-id outside-id count', e.g. '0 100000 1'")
        ranges.append(_range(*(int(p) for p in parts)))
    for side in ("inside", "outside"):
        spans = sorted((getattr(r, side), getattr(r, side) + r.count) for r in ranges)
        for (_a, end), (start, _b) in zip(spans, spans[1:]):
            if start < end:
                raise BadInput(f"Two lines map overlapping {side} ids", f"{start} is in both",
                               "Each id may appear in one line only, on each side")
    return ranges


def _range(inside: int, outside: int, count: int) -> IdRange:
    for name, value in (("inside", inside), ("outside", outside), ("count", count)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BadInput(f"{name} must be a whole number >= 0, not {value!r}", "", "e.g. id_map_line(0, 100000, 1)")
    if count == 0:
        raise BadInput("A range maps at least one id (count >= 1)", "", "e.g. id_map_line(0, 100000, 1)")
    if inside + count > _MAX_ID or outside + count > _MAX_ID:
        raise BadInput(f"{inside} {outside} {count} runs past the largest id", f"ids end at {_MAX_ID - 1}",
                       "Use a smaller count")
    return IdRange(inside, outside, count)


def id_maps(pid: int | str = "self") -> dict[str, list[IdRange]]:
    """The uid and gid maps of process `pid`'s user namespace (as this process reads them)."""
    base = _proc(pid)
    try:
        return {kind: [IdRange(*map(int, ln.split())) for ln in (base / f"{kind}_map").read_text().splitlines()]
                for kind in ("uid", "gid")}
    except FileNotFoundError:
        raise procfs.gone(pid) from None


def write_id_maps(pid: int, uid_map: str, gid_map: str | None = None, setgroups: str | None = None) -> None:
    """Write /proc/PID/setgroups ('allow' or 'deny'), uid_map and gid_map: each once, each in one write(2)."""
    if setgroups not in (None, "allow", "deny"):
        raise BadInput(f"setgroups is 'allow' or 'deny', not {setgroups!r}", "",
                       "'deny' is what an unprivileged process must write before its gid_map")
    parse_id_map(uid_map)
    if gid_map is not None:
        parse_id_map(gid_map)
    base = _proc(_pid(pid))
    if not base.exists():
        raise procfs.gone(pid)
    for name, text in (("setgroups", setgroups), ("uid_map", uid_map), ("gid_map", gid_map)):
        if text is None:
            continue
        data = text if text.endswith("\n") else text + "\n"
        try:
            fd = os.open(base / name, os.O_WRONLY)
            try:
                os.write(fd, data.encode())       # the kernel takes the whole map in a single write
            finally:
                os.close(fd)
        except OSError as err:
            raise LabError(f"Cannot write {data.strip()!r} to {base / name}", f"{err.strerror}",
                           "A map can be written once, only by a process with CAP_SETUID/CAP_SETGID over "
                           "the namespace, and gid_map only after setgroups where you are not root "
                           "outside") from None


def become_user(uid: int, gid: int | None = None) -> None:
    """Drop root for good in a forked child: no supplementary groups, then `gid` (default: `uid`) and `uid`.

    What is left is an ordinary user's process, as if root had never run it. Two side effects
    of the change are undone, since an ordinary user's process never had them (prctl(2)): it
    stopped being dumpable, which hands its /proc/PID files to root (it could not write its
    own uid_map), and it lost its parent-death signal.
    """
    for name, value in (("uid", uid), ("gid", gid)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_ID):
            raise BadInput(f"{name} must be a whole number from 0 to {_MAX_ID - 1}, not {value!r}", "", "e.g. 1000")
    parent = os.getppid()
    os.setgroups([])
    os.setgid(uid if gid is None else gid)
    os.setuid(uid)
    prctl(PR_SET_DUMPABLE, 1)
    _die_with(parent)


# -- running code in a forked child -----------------------------------------------------------

def in_child(fn: Callable[..., Any], *args: Any, timeout: float = TIMEOUT, **kwargs: Any) -> Any:
    """Run fn(*args, **kwargs) in a forked child and return its result here (its exception is raised here).

    What the child prints comes back too. The child is killed if its parent dies, and
    after `timeout` seconds.
    """
    _callable(fn)
    _timeout(timeout)
    r, w = os.pipe()
    parent = os.getpid()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    # The fork is the point (unshare(2) moves its caller). The child prints into a StringIO, answers
    # through its own pipe and _exits: no lock of the kernel's threads; a hang is killed at `timeout`.
    pid = fork()
    if pid == 0:
        os.close(r)
        _child_main(w, parent, fn, args, kwargs)      # never returns
    os.close(w)
    try:
        payload = _receive(r, pid, timeout)
    finally:
        os.close(r)
    return _unpack(payload)


def run(fn: Callable[..., Any], flags: int, *args: Any, uid_map: str | None = None, gid_map: str | None = None,
        setgroups: str | None = None, mount_proc: bool = False, timeout: float = TIMEOUT, **kwargs: Any) -> Any:
    """Run fn(*args, **kwargs) in new namespaces (CLONE_NEW* `flags`) in a forked child; return its result.

    With CLONE_NEWPID or CLONE_NEWTIME, fn runs in a child of the unsharing process, so it is
    PID 1 (and sees the time offsets). With CLONE_NEWUSER, `uid_map`/`gid_map` are written from
    outside before fn runs, and fn runs as uid/gid 0 inside where they map 0. `mount_proc`
    (needs CLONE_NEWNS and CLONE_NEWPID) mounts a /proc of the new PID namespace, privately.
    """
    _callable(fn)
    flags = _flags(flags)
    maps = _maps(flags, uid_map, gid_map, setgroups)
    _proc_needs(flags, mount_proc)
    _timeout(timeout)
    return in_child(_in_new_namespaces, fn, flags, maps, mount_proc, args, kwargs, timeout, timeout=timeout)


def run_command(argv: list[str], flags: int, *, uid_map: str | None = None, gid_map: str | None = None,
                setgroups: str | None = None, mount_proc: bool = False, input: str | None = None,
                timeout: float = TIMEOUT, lesson: str | None = None) -> subprocess.CompletedProcess:
    """Run a command in new namespaces, like unshare(1) --fork; returns its exit code and output.

    The command is the first process started after unshare: with CLONE_NEWPID it is PID 1.
    It carries LABKIT_LESSON in its environment.
    """
    argv = _argv(argv)
    flags = _flags(flags)
    maps = _maps(flags, uid_map, gid_map, setgroups)
    _proc_needs(flags, mount_proc)
    _timeout(timeout)
    env = lesson_env(lesson)
    return in_child(_command_in_new_namespaces, argv, flags, maps, mount_proc, input, env, timeout,
                    timeout=timeout + 5)


def join(target: int | Mapping[str, str | os.PathLike], fn: Callable[..., Any], kinds: Iterable[str] | None = None,
         *args: Any, timeout: float = TIMEOUT, **kwargs: Any) -> Any:
    """setns(2) into `target`'s namespaces in a forked child and run fn(*args, **kwargs) there, like nsenter(1).

    `target` is a pid (then `kinds` picks which of its namespaces; by default every one that
    differs from ours) or a mapping kind -> namespace file, e.g. {"net": "/run/netns/lab-07-a"}.
    Joining a PID namespace takes effect in children: fn then runs in one, so it has a pid there.
    """
    _callable(fn)
    _timeout(timeout)
    paths = _targets(target, kinds)
    return in_child(_joined, paths, fn, args, kwargs, timeout, timeout=timeout)


def join_command(target: int | Mapping[str, str | os.PathLike], argv: list[str], kinds: Iterable[str] | None = None,
                 *, input: str | None = None, timeout: float = TIMEOUT,
                 lesson: str | None = None) -> subprocess.CompletedProcess:
    """Run a command inside `target`'s namespaces, like `nsenter -t PID ...`; its program comes from
    the target's filesystem when its mount namespace is joined."""
    argv = _argv(argv)
    _timeout(timeout)
    paths = _targets(target, kinds)
    env = lesson_env(lesson)
    return in_child(_joined, paths, _run_argv, (argv, input, env, timeout), {}, timeout, timeout=timeout + 5)


def lesson_env(lesson: str | None = None) -> dict[str, str]:
    """This process's environment plus LABKIT_LESSON (`lesson`, else the one already set, else 07)."""
    if lesson is None:
        lesson = os.environ.get(config.OWNER_ENV) or "07"
    if not isinstance(lesson, str) or not lesson.isdigit():
        raise BadInput(f"lesson is a number like '07', not {lesson!r}", "", "Pass lesson='07'")
    return {**os.environ, config.OWNER_ENV: f"{int(lesson):02d}"}


# -- a process that holds namespaces open -----------------------------------------------------

class Held:
    """A process sitting in namespaces you set up, until released: look at it, write its maps, join it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._reaped = False

    @property
    def alive(self) -> bool:
        """Whether the holding process still runs."""
        if self._reaped:
            return False
        done, _status = os.waitpid(self.pid, os.WNOHANG)
        if done:
            self._reaped = True
        return not done

    def inodes(self) -> dict[str, int]:
        """The namespaces it holds, by kind."""
        return inodes(self.pid)

    def release(self) -> None:
        """End the process (its namespaces go with it unless something else holds them); safe to repeat."""
        if self._reaped:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self._reaped = True

    def __enter__(self) -> "Held":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"Held(pid={self.pid}, {'alive' if self.alive else 'released'})"


def hold(setup: Callable[..., Any] | None = None, *args: Any, flags: int = 0, uid_map: str | None = None,
         gid_map: str | None = None, setgroups: str | None = None, timeout: float = TIMEOUT,
         lesson: str | None = None) -> Held:
    """Fork a process that unshares `flags`, runs setup(*args), then waits (as `sleep`) until released.

    Its namespaces stay alive while it runs, so you can read /proc/PID/..., write its maps and
    join it. Use it in a `with` block, or call .release(). PID namespaces are not held this way:
    their first process is a child (use `run` or a container).
    """
    if setup is not None:
        _callable(setup)
    flags = _flags(flags)
    if flags & (CLONE_NEWPID | CLONE_NEWTIME):
        raise BadInput("hold() does not make PID or time namespaces", "they apply to the caller's children only",
                       "Use labkit.ns.run(fn, CLONE_NEWPID, ...) and do the work as PID 1")
    maps = _maps(flags, uid_map, gid_map, setgroups)
    _timeout(timeout)
    env = lesson_env(lesson)
    r, w = os.pipe()          # close-on-exec: a successful exec closes it, with nothing written
    parent = os.getpid()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = fork()              # as in_child's: the child unshares, runs setup with its output captured, execs
    if pid == 0:
        os.close(r)
        _hold_main(w, parent, flags, maps, setup, args, env)       # never returns
    os.close(w)
    try:
        payload = _receive(r, pid, timeout, until_eof=True)
    finally:
        os.close(r)
    if payload:
        os.waitpid(pid, 0)
        _unpack(payload)      # raises the setup's error
    return Held(pid)


# -- the children's side ----------------------------------------------------------------------

def _child_main(w: int, parent: int, fn: Callable, args: tuple, kwargs: dict) -> None:
    code = 0
    try:
        _die_with(parent)
        out = io.StringIO()
        sys.stdout = sys.stderr = out      # the notebook's output channel does not work in a child
        try:
            message = ("ok", fn(*args, **kwargs))
        except BaseException as err:       # every failure goes back to the parent
            message = ("error", _portable(err))
        _send(w, _dumps(message + (out.getvalue(),)))
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _hold_main(w: int, parent: int, flags: int, maps: tuple | None, setup: Callable | None, args: tuple,
               env: dict) -> None:
    try:
        _die_with(parent)
        out = io.StringIO()
        sys.stdout = sys.stderr = out
        try:
            _unshare_mapped(flags, maps)
            if setup is not None:
                setup(*args)
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
            os.execvpe("sleep", ["sleep", str(HOLD_SECONDS)], env)
        except BaseException as err:
            _send(w, _dumps(("error", _portable(err), out.getvalue())))
    finally:
        os._exit(1)


def _die_with(parent: int) -> None:
    # SIGKILL when the parent dies, so no experiment outlives the notebook that started it.
    # (getppid() is 0 for PID 1 of a new PID namespace: its parent is outside.)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() not in (parent, 0):
        os._exit(1)


def _in_new_namespaces(fn, flags, maps, mount_proc, args, kwargs, timeout):
    _unshare_mapped(flags, maps)
    if flags & (CLONE_NEWPID | CLONE_NEWTIME):
        return in_child(_first_process, fn, mount_proc, args, kwargs, timeout=timeout)
    return fn(*args, **kwargs)


def _first_process(fn, mount_proc, args, kwargs):
    if mount_proc:
        _mount_new_proc()
    return fn(*args, **kwargs)


def _command_in_new_namespaces(argv, flags, maps, mount_proc, input, env, timeout):
    _unshare_mapped(flags, maps)
    # This child is single-threaded, so preexec_fn is safe here; it runs in the command's
    # process, after the fork that made it PID 1.
    return _run_argv(argv, input, env, timeout, preexec_fn=_mount_new_proc if mount_proc else None)


def _run_argv(argv, input, env, timeout, preexec_fn=None):
    try:
        return subprocess.run(argv, input=input, capture_output=True, text=True, env=env, timeout=timeout,
                              preexec_fn=preexec_fn)
    except FileNotFoundError:
        raise LabError(f"No program {argv[0]!r} here", "not found on PATH in this mount namespace",
                       "Check the name, or give its full path inside the namespace's filesystem") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"{' '.join(argv)} did not finish", f"killed after {timeout} s",
                       "Give it a larger timeout, or make it end by itself") from None


def _mount_new_proc() -> None:
    # Private first: the new /proc must not propagate to the mount namespace we came from.
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _joined(paths: dict[str, str], fn, args, kwargs, timeout):
    # Open every file first: once the mount namespace is joined, paths mean something else.
    fds = {}
    try:
        for kind, path in paths.items():
            try:
                fds[kind] = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                raise LabError(f"No namespace file {path}", "the process or the namespace is gone",
                               "Check the pid or the name again") from None
        mine = inodes("self")
        for kind in JOIN_ORDER:
            if kind in fds and os.fstat(fds[kind]).st_ino != mine.get(kind):   # joining your own user ns is EINVAL
                setns(fds[kind], FLAGS[kind])
    finally:
        for fd in fds.values():
            os.close(fd)
    if "pid" in fds or "time" in fds:
        return in_child(fn, *args, timeout=timeout, **kwargs)
    return fn(*args, **kwargs)


def _unshare_mapped(flags: int, maps: tuple | None) -> None:
    """unshare(flags); with a user namespace, have a helper left outside write its maps."""
    if not maps:
        unshare(flags)
        return
    me = os.getpid()
    go_r, go_w = os.pipe()
    err_r, err_w = os.pipe()
    helper = os.fork()
    if helper == 0:         # stays in the parent user namespace, where it may write the maps
        os.close(go_w)
        os.close(err_r)
        code = 1
        try:
            _die_with(me)
            if os.read(go_r, 1) == b"1":
                try:
                    write_id_maps(me, maps[0], maps[1], maps[2])
                    code = 0
                except BaseException as err:
                    os.write(err_w, str(err).encode()[:4000])
        finally:
            os._exit(code)
    os.close(go_r)
    os.close(err_w)
    try:
        unshare(flags)
        os.write(go_w, b"1")
    finally:       # on failure the helper reads end-of-file and exits without writing
        os.close(go_w)
        _pid, status = os.waitpid(helper, 0)
        why = os.read(err_r, 4096).decode(errors="replace")
        os.close(err_r)
    if status != 0:
        raise LabError("The uid/gid maps were not written", why or f"the helper ended with status {status}",
                       "Check the maps: ids outside must exist in this namespace")
    _become_root(*maps)


def _become_root(uid_map: str, gid_map: str | None, setgroups: str | None) -> None:
    """Switch to uid/gid 0 of the new user namespace where the maps map 0, as `unshare --map-root-user`.

    Until then the process keeps its old ids, which the new namespace does not map (it
    sees itself as 65534, the overflow id).
    """
    if gid_map is not None and any(r.to_outside(0) is not None for r in parse_id_map(gid_map)):
        if setgroups != "deny":
            os.setgroups([])
        os.setresgid(0, 0, 0)
    if any(r.to_outside(0) is not None for r in parse_id_map(uid_map)):
        os.setresuid(0, 0, 0)


# -- moving results between processes ---------------------------------------------------------

def _send(fd: int, data: bytes) -> None:
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _receive(fd: int, pid: int, timeout: float, until_eof: bool = False) -> bytes:
    """The child's message (b'' when it sent none before closing); kills and reaps it on any failure."""
    deadline = time.monotonic() + timeout
    buf = bytearray()
    need = None if until_eof else _HEADER.size
    try:
        while need is None or len(buf) < need:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise LabError("The child did not finish", f"no answer after {timeout} s, so it was killed",
                               "Make the function end sooner, or pass a larger timeout=")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            buf += chunk
            if need == _HEADER.size and len(buf) >= need:
                need += _HEADER.unpack(bytes(buf[:need]))[0]
    except BaseException:
        _kill(pid)
        raise
    if until_eof:
        return bytes(buf[_HEADER.size:]) if buf else b""
    if need is None or len(buf) < need:
        status = _kill(pid)
        raise LabError("The child ended without an answer", _status_text(status),
                       "Something in it called os._exit, exec'd or crashed")
    os.waitpid(pid, 0)
    return bytes(buf[_HEADER.size:need])


def _kill(pid: int) -> int:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return 0


def _status_text(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _dumps(message: tuple) -> bytes:
    try:
        return pickle.dumps(message)
    except Exception as err:     # an unpicklable result: say so instead of hanging the parent
        what = LabError("The child's result cannot be sent back", f"{type(err).__name__}: {err}",
                        "Return plain data: numbers, strings, lists, dicts, tuples")
        return pickle.dumps(("error", _portable(what), message[-1]))


def _portable(err: BaseException) -> tuple:
    """An exception in a form that survives pickling, with the child's traceback."""
    tb = "".join(traceback.format_exception(err))
    if isinstance(err, LabError) and type(err).__reduce__ is BaseException.__reduce__:
        return ("lab", type(err), err.what, err.why, err.fix, tb)
    try:
        pickle.loads(pickle.dumps(err))
        return ("pickled", err, tb)
    except Exception:
        return ("lab", LabError, f"{type(err).__name__} in the child", str(err), "", tb)


def _unpack(payload: bytes) -> Any:
    status, value, out = pickle.loads(payload)
    if out:
        sys.stdout.write(out)
    if status == "ok":
        return value
    if value[0] == "lab":
        _tag, cls, what, why, fix, tb = value
        err = cls.__new__(cls)
        LabError.__init__(err, what, why, fix)
    else:
        _tag, err, tb = value
        if not isinstance(err, LabError):
            _add_note(err, "In the child process:\n" + tb.rstrip())
    raise err


def _add_note(err: BaseException, note: str) -> None:
    # add_note is 3.11+; on 3.10 fill the same __notes__ list (PEP 678), which IPython shows.
    if hasattr(err, "add_note"):
        err.add_note(note)
    else:
        err.__notes__ = [*getattr(err, "__notes__", []), note]


# -- checking arguments before anything is made ----------------------------------------------

def _proc(pid: int | str) -> Path:
    return Path("/proc") / ("self" if pid == "self" else str(_pid(pid)))


def _pid(pid: object) -> int:
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise BadInput(f"A pid is a whole number above 0, not {pid!r}", "", "e.g. os.getpid(), or 1")
    return pid


def _kinds(kinds: Iterable[str]) -> list[str]:
    if isinstance(kinds, str):
        raise BadInput(f"Namespace kinds are a list, like ['net', 'uts'], not the string {kinds!r}", "",
                       f"Kinds: {', '.join(KINDS)}")
    kinds = list(kinds)
    unknown = [k for k in kinds if k not in FLAGS]
    if unknown:
        raise BadInput(f"Unknown namespace kind {', '.join(map(repr, unknown))}", "",
                       f"Kinds are the names in /proc/PID/ns: {', '.join(KINDS)}")
    return kinds


def _flags(flags: object) -> int:
    if isinstance(flags, bool) or not isinstance(flags, int) or flags < 0:
        raise BadInput(f"Namespace flags are CLONE_NEW* ints combined with |, not {flags!r}", "",
                       "e.g. CLONE_NEWUTS | CLONE_NEWPID from labkit.kernel")
    if flags & ~ALL:
        raise BadInput(f"{flags:#x} has bits that are not CLONE_NEW* flags", f"stray bits {flags & ~ALL:#x}",
                       "Combine only CLONE_NEWCGROUP, _NEWIPC, _NEWNS, _NEWNET, _NEWPID, _NEWTIME, _NEWUSER, _NEWUTS")
    return flags


def _maps(flags: int, uid_map: str | None, gid_map: str | None, setgroups: str | None) -> tuple | None:
    if uid_map is None and gid_map is None and setgroups is None:
        return None
    if not flags & CLONE_NEWUSER:
        raise BadInput("uid/gid maps belong to a new user namespace", "CLONE_NEWUSER is not in the flags",
                       "Add CLONE_NEWUSER, or leave out uid_map/gid_map")
    if uid_map is None:
        raise BadInput("A gid_map without a uid_map", "", "Give uid_map too, e.g. '0 100000 1'")
    if setgroups not in (None, "allow", "deny"):
        raise BadInput(f"setgroups is 'allow' or 'deny', not {setgroups!r}", "", "Use 'deny' or leave it out")
    parse_id_map(uid_map)
    if gid_map is not None:
        parse_id_map(gid_map)
    return (uid_map, gid_map, setgroups)


def _proc_needs(flags: int, mount_proc: bool) -> None:
    if mount_proc and not (flags & CLONE_NEWNS and flags & CLONE_NEWPID):
        raise BadInput("mount_proc needs CLONE_NEWNS and CLONE_NEWPID",
                       "a new /proc outside a new mount namespace would cover this machine's own /proc",
                       "Add CLONE_NEWNS | CLONE_NEWPID to the flags")


def _callable(fn: object) -> None:
    if not callable(fn):
        raise BadInput(f"Expected a function to run, not {fn!r}", "", "Pass the function itself, without calling it")


def _timeout(timeout: object) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise BadInput(f"timeout is a number of seconds above 0, not {timeout!r}", "", "e.g. timeout=30")


def _argv(argv: object) -> list[str]:
    if isinstance(argv, str) or not isinstance(argv, (list, tuple)) or not argv \
            or not all(isinstance(a, str) for a in argv):
        raise BadInput(f"A command is a non-empty list of strings, not {argv!r}", "",
                       "e.g. ['hostname'] or ['sh', '-c', 'echo $$']")
    return list(argv)


def _targets(target: object, kinds: Iterable[str] | None) -> dict[str, str]:
    if isinstance(target, Mapping):
        if kinds is not None:
            raise BadInput("Give kinds only with a pid", "a mapping already says which namespaces to join",
                           "Leave kinds out")
        paths = {k: os.fspath(p) for k, p in target.items()}
        _kinds(paths)
        if not paths:
            raise BadInput("Nothing to join: the mapping is empty", "", "e.g. {'net': '/run/netns/lab-07-a'}")
        missing = [p for p in paths.values() if not os.path.exists(p)]
        if missing:
            raise LabError(f"No namespace file {missing[0]}", "", "Check the name: `ip netns list`, ls /proc/PID/ns")
        return paths
    pid = _pid(target)
    theirs = inodes(pid)
    if kinds is None:
        mine = inodes()
        chosen = [k for k in KINDS if theirs[k] != mine.get(k)]
    else:
        chosen = _kinds(kinds)
    return {k: f"/proc/{pid}/ns/{k}" for k in chosen}
