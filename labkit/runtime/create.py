"""`labrun create`: everything but the program. It returns once the container's init waits on
exec.fifo, with the pid file written; on any failure it leaves nothing (no process, cgroup or state)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
from datetime import datetime, timezone
from pathlib import Path

from labkit.runtime import bundle as bundles
from labkit.runtime import hooks, init, log, resources, store, systemd
from labkit.runtime.errors import Refused
from labkit.runtime.sync import Channel


def create(root: Path, cid: str, bundle: str, pid_file: str | None = None, console_socket: str | None = None,
           no_pivot: bool = False, systemd_cgroup: bool = False) -> store.Record:
    """Create container `cid` from `bundle`; returns its record (status 'created')."""
    bundle = os.path.abspath(bundle)
    spec = bundles.load(Path(bundle))
    d = store.directory(root, cid)
    root.mkdir(parents=True, exist_ok=True, mode=0o711)
    try:
        d.mkdir(mode=0o711)
    except FileExistsError:
        raise Refused(f"container with id {cid} exists already") from None
    rec = store.Record(id=cid, bundle=bundle, rootfs=_rootfs(spec, bundle),
                       created=datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z"),
                       annotations=spec.get("annotations") or {}, poststop=(spec.get("hooks") or {}).get("poststop") or [])
    pids: list[int] = []
    try:
        _fifo(d, spec)
        _cgroup(rec, spec, systemd_cgroup)
        rec.pid = _spawn(rec, spec, d, console_socket, no_pivot, pids)
        rec.start_time = store.start_time(rec.pid)
        store.save(root, rec)
        if pid_file:
            store.write_pid(pid_file, rec.pid)
    except BaseException:
        _undo(rec, d, pids)
        raise
    return rec


def _cgroup(rec: store.Record, spec: dict, use_systemd: bool) -> None:
    """cgroupfs: make the group, with its limits, now. systemd: plan the scope; systemd makes it
    around stage 1's pid (a scope cannot be empty), in `_join`."""
    linux = spec.get("linux") or {}
    res = linux.get("resources") or {}
    if use_systemd:
        systemd.usable()
        resources.limits(res)                # bad limits are refused before anything is made
        scope = systemd.scope(linux.get("cgroupsPath") or "", rec.id)
        rec.systemd = {"slice": scope.slice, "unit": scope.unit}
        rec.cgroup, rec.cgroup_path = resources.planned(scope.path), scope.path
    else:
        rel = resources.relative_path(spec, rec.id)
        rec.cgroup, rec.cgroup_path = resources.create(rel, res), rel


def _join(rec: store.Record, spec: dict, pid: int) -> None:
    """Put stage 1 in the container's group before it unshares anything: all it forks is counted."""
    if rec.systemd:
        res = (spec.get("linux") or {}).get("resources") or {}
        systemd.start(systemd.Scope(**rec.systemd), rec.id, pid, res)
        resources.configure(rec.cgroup_path, res)
    else:
        resources.join(rec.cgroup, pid)


def _rootfs(spec: dict, bundle: str) -> str:
    path = (spec.get("root") or {}).get("path")
    if not path:
        raise Refused("config.json has no root.path: the container needs a root filesystem")
    full = os.path.normpath(os.path.join(bundle, path))
    if not os.path.isdir(full):
        raise Refused(f"root.path {full} is not a directory")
    return full


def _fifo(d: Path, spec: dict) -> None:
    """exec.fifo, 0622 and owned by the container's root (its host uid), as runc makes it."""
    old = os.umask(0)
    try:
        os.mkfifo(d / store.FIFO, 0o622)
    finally:
        os.umask(old)
    linux = spec.get("linux") or {}
    os.chown(d / store.FIFO, _host_id(linux.get("uidMappings")), _host_id(linux.get("gidMappings")))


def _host_id(mappings: list | None) -> int:
    for m in mappings or []:
        if m["containerID"] <= 0 < m["containerID"] + m["size"]:
            return m["hostID"] - m["containerID"]
    return 0


def _spawn(rec: store.Record, spec: dict, d: Path, console_socket: str | None, no_pivot: bool, pids: list[int]) -> int:
    """Fork stage 1, lead it through the handshake; the container's init pid once it is ready."""
    terminal = bool(spec["process"].get("terminal"))
    if terminal and not console_socket:
        raise Refused("process.terminal is true: give --console-socket, where the pty's master is sent")
    console = None
    if terminal:
        console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        console.connect(console_socket)
    ours, theirs = socket.socketpair()
    fifo_fd = os.open(d / store.FIFO, os.O_PATH | os.O_CLOEXEC)
    job = {"rootfs": rec.rootfs, "bundle": rec.bundle, "cgroup": rec.cgroup, "no_pivot": no_pivot,
           "fifo_fd": fifo_fd, "console_fd": console.fileno() if console else -1}
    child = os.fork()
    if child == 0:
        ours.close()
        init.stage1(Channel(theirs), spec, job)
    pids.append(child)
    theirs.close()
    os.close(fifo_fd)
    if console:
        console.close()
    try:
        return _lead(Channel(ours), rec, spec, child, pids)
    except BaseException:
        _kill(pids)                          # before waiting: stage 1 may be blocked on us
        raise
    finally:
        ours.close()
        os.waitpid(child, 0)                 # stage 1 exits once it has forked init


def _lead(ch: Channel, rec: store.Record, spec: dict, child: int, pids: list[int]) -> int:
    """The parent's side of the handshake (runc's parentProcess.start)."""
    _join(rec, spec, child)
    ch.send("go")
    pid = 0
    while True:
        msg = ch.recv()
        kind = msg["type"]
        if kind == "userns":
            _write_maps(child, spec)
            ch.send("maps")
        elif kind == "pid":
            pid = msg["pid"]
            pids.append(pid)
        elif kind == "hooks":
            while not pid:                   # stage 1's pid message may come second
                msg = ch.recv()
                if msg["type"] != "pid":
                    raise Refused(msg.get("msg") or "init ended before it was ready")
                pid = msg["pid"]
                pids.append(pid)
            state = {"ociVersion": store.OCI_VERSION, "id": rec.id, "status": "creating", "pid": pid,
                     "bundle": rec.bundle, "annotations": rec.annotations}
            hooks.run(spec, "prestart", state)
            hooks.run(spec, "createRuntime", state)
            ch.send("hooks-done", state=state)
        elif kind == "warning":
            log.log("warning", msg["msg"])
        elif kind == "ready":
            return pid
        elif kind == "error":
            raise Refused(msg["msg"])
        else:
            raise Refused("the container's init ended before it was ready")


def _write_maps(pid: int, spec: dict) -> None:
    linux = spec.get("linux") or {}
    for name, key in (("uid_map", "uidMappings"), ("gid_map", "gidMappings")):
        lines = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in linux.get(key) or [])
        if not lines:
            raise Refused(f"a new user namespace needs linux.{key}")
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write(lines)


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _undo(rec: store.Record, d: Path, pids: list[int]) -> None:
    _kill(pids)
    if rec.cgroup:
        resources.signal_all(rec.cgroup, signal.SIGKILL)
        if rec.systemd:
            try:
                systemd.stop(systemd.Scope(**rec.systemd))
            except Refused:
                pass                         # the error that brought us here is the one to report
        resources.remove(rec.cgroup)
    shutil.rmtree(d, ignore_errors=True)
