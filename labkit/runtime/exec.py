"""`labrun exec`: one more process in a running container (`docker exec`). A child joins the
container's namespaces, forks into its PID namespace, and becomes the process of process.json,
with the container's seccomp filter; the parent puts it in the container's cgroup first."""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path

from labkit.kernel import consts as k
from labkit.kernel import prctl, setns
from labkit.runtime import init, log, resources, store
from labkit.runtime.bundle import load
from labkit.runtime.errors import Refused
from labkit.runtime.sync import Channel

# /proc/PID/ns names, in the order joined: the user namespace first (it owns the others), the
# mount namespace last (joining it changes our root and cwd to the container's).
ORDER = ("user", "ipc", "uts", "net", "pid", "cgroup", "mnt")


def exec_(root: Path, cid: str, process_path: str, detach: bool = False, pid_file: str | None = None,
          console_socket: str | None = None) -> int:
    """Run process.json's program in container `cid`; its exit status unless `detach`."""
    rec = store.load(root, cid)
    status = store.status(root, rec)
    if status != "running":
        raise Refused(f"cannot exec in a container that is {status}: it must be running")
    proc = _process(process_path)
    linux = load(Path(rec.bundle)).get("linux") or {}
    joins = _namespaces(rec.pid)
    console = None
    if proc.get("terminal"):
        if not console_socket:
            raise Refused("process.terminal is true: give --console-socket")
        console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        console.connect(console_socket)
    if not detach:
        prctl(k.PR_SET_CHILD_SUBREAPER, 1)               # the process will be our grandchild: adopt it
    ours, theirs = socket.socketpair()
    child = os.fork()
    if child == 0:
        ours.close()
        _child(Channel(theirs), proc, linux, joins, console)
    theirs.close()
    for _name, fd in joins:
        os.close(fd)
    if console:
        console.close()
    try:
        pid = _lead(Channel(ours), rec, child)
    except BaseException:
        os.kill(child, signal.SIGKILL)
        raise
    finally:
        ours.close()
        os.waitpid(child, 0)
    if pid_file:
        store.write_pid(pid_file, pid)
    if detach:
        return 0
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _process(path: str) -> dict:
    try:
        proc = json.load(sys.stdin if path == "-" else open(path))
    except (OSError, ValueError) as err:
        raise Refused(f"cannot read the process to run from {path}: {err}") from None
    if not isinstance(proc, dict) or not proc.get("args"):
        raise Refused(f"{path} has no args: give the program to run")
    return proc


def _namespaces(pid: int) -> list[tuple[str, int]]:
    """An open fd on each of the container's namespaces that is not ours already."""
    out = []
    for name in ORDER:
        theirs = f"/proc/{pid}/ns/{name}"
        if os.stat(theirs).st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
            out.append((name, os.open(theirs, os.O_RDONLY | os.O_CLOEXEC)))
    return out


def _child(ch: Channel, proc: dict, linux: dict, joins: list[tuple[str, int]], console: socket.socket | None) -> None:
    """Join, fork into the PID namespace, become the process. Never returns."""
    try:
        prctl(k.PR_SET_DUMPABLE, 0)                      # the container must not reach our /proc/PID/exe
        ch.expect("go")
        ready = init.Prepared(proc, linux.get("seccomp"))
        for _name, fd in joins:
            setns(fd, 0)
        init.seal_imports()
        pid = os.fork()                                  # setns(pid) applies to children only
        if pid:
            ch.send("pid", pid=pid)
            os._exit(0)
        os.setsid()
        if console is not None:
            init.terminal(console, proc.get("consoleSize"))
        path = ready.become(ch, userns=any(name == "user" for name, _ in joins))
        init.process.close_on_exec()
        ch.send("ready")
        ready.execve(path)
    except BaseException as err:                     # noqa: BLE001
        init.fail(ch, err)


def _lead(ch: Channel, rec: store.Record, child: int) -> int:
    resources.join(rec.cgroup, child)
    ch.send("go")
    pid = 0
    while True:
        msg = ch.recv()
        if msg["type"] == "pid":
            pid = msg["pid"]
        elif msg["type"] == "warning":
            log.log("warning", msg["msg"])
        elif msg["type"] == "ready" and pid:
            return pid
        elif msg["type"] == "error":
            raise Refused(msg["msg"])
        elif msg["type"] == "eof":
            raise Refused("the exec'd process ended before it was ready")
