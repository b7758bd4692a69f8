"""The processes `create` forks, which become the container (runc's nsexec stages and its init).

    create (the parent, in the host's namespaces)
      └─ stage 1: joins the user namespace and the namespaces given by path, unshares the new ones,
         │        forks, sends its child's pid, exits: the shim, a child subreaper, adopts the child
         └─ init:  the mounts, the hooks' turn, pivot_root, the process's user, capabilities,
                   seccomp; says "ready", then blocks opening exec.fifo until `start`, then execve.

Every module init will use is imported before it leaves the host's root, and then the import
machinery is emptied: nothing is ever loaded from a container's files (a planted module would
run as the runtime). Both processes are non-dumpable from the start, so a process in the
container cannot open /proc/<init>/exe or its memory (the CVE-2019-5736 class), and init marks
every inherited descriptor close-on-exec (the CVE-2024-21626 class).
"""
from __future__ import annotations

import fcntl
import os
import socket
import struct
import sys
import termios
import traceback

from labkit.kernel import consts as k
from labkit.kernel import mount, prctl, sethostname, setns, unshare
from labkit.kernel.libc import check, cstr, libc
from labkit.runtime import hooks, mounts, process, seccomp
from labkit.runtime.errors import Refused
from labkit.runtime.sync import Channel

CLONE = {"pid": k.CLONE_NEWPID, "network": k.CLONE_NEWNET, "mount": k.CLONE_NEWNS, "ipc": k.CLONE_NEWIPC,
         "uts": k.CLONE_NEWUTS, "user": k.CLONE_NEWUSER, "cgroup": k.CLONE_NEWCGROUP}


def namespaces(spec: dict) -> dict[str, str]:
    """{type: path ('' for a new one)} from linux.namespaces, checked."""
    out = {}
    for ns in (spec.get("linux") or {}).get("namespaces") or []:
        kind = ns.get("type")
        if kind not in CLONE:
            raise Refused(f"namespace type {kind!r} is not one of {', '.join(CLONE)}")
        if kind in out:
            raise Refused(f"namespace {kind} is listed twice in config.json")
        out[kind] = ns.get("path") or ""
    return out


def stage1(ch: Channel, spec: dict, job: dict) -> None:
    """The first child. Never returns."""
    try:
        prctl(k.PR_SET_DUMPABLE, 0)
        ch.expect("go")                                  # the parent has put us in the cgroup
        ns = namespaces(spec)
        if "user" in ns:
            _enter("user", ns["user"])
            ch.send("userns")
            ch.expect("maps")                            # written by the parent, from outside
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        for kind, path in ns.items():
            if path and kind != "user":
                _enter(kind, path)
        new = sum(CLONE[t] for t, p in ns.items() if not p and t not in ("user", "cgroup"))
        if new:
            unshare(new)
        child = os.fork()
        if child:
            ch.send("pid", pid=child)
            os._exit(0)
        init(ch, spec, job, ns)
    except BaseException as err:                     # noqa: BLE001  (the parent reports it)
        fail(ch, err)


def _enter(kind: str, path: str) -> None:
    if not path:
        unshare(CLONE[kind])
        return
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(fd, CLONE[kind])
    finally:
        os.close(fd)


def init(ch: Channel, spec: dict, job: dict, ns: dict[str, str]) -> None:
    """The container's first process. Never returns: execve, or _exit after reporting."""
    proc, linux, rootfs = spec["process"], spec.get("linux") or {}, job["rootfs"]
    try:
        os.setsid()
        if "cgroup" in ns and not ns["cgroup"]:
            unshare(k.CLONE_NEWCGROUP)                   # after the parent put us in the group: it is our root
        if "mount" in ns and not ns["mount"]:
            mounts.prepare_root(rootfs, linux.get("rootfsPropagation", ""))
            mounts.mount_all(rootfs, spec, job["bundle"], job["cgroup"], userns="user" in ns)
        if "uts" in ns and not ns["uts"]:
            if spec.get("hostname"):
                sethostname(spec["hostname"])
            if spec.get("domainname"):
                raw = spec["domainname"].encode()
                check(libc.setdomainname(cstr(raw), len(raw)), "setdomainname")
        ch.send("hooks")
        state = ch.expect("hooks-done")["state"]
        hooks.run(spec, "createContainer", state)
        ready = Prepared(proc, linux.get("seccomp"))
        console = _console_socket(job) if proc.get("terminal") else None
        mounts.enter(rootfs, pivot=not job["no_pivot"])
        seal_imports()
        _sysctl(linux.get("sysctl") or {})
        mounts.finish(spec)
        if console is not None:
            terminal(console, proc.get("consoleSize"))
        path = ready.become(ch, userns="user" in ns)
        process.close_on_exec()                          # the fifo's O_PATH fd and this channel too
        ch.send("ready")
        go = os.open(f"/proc/self/fd/{job['fifo_fd']}", os.O_WRONLY | os.O_CLOEXEC)   # blocks until `start`
        os.write(go, b"0")
        hooks.run(spec, "startContainer", state)
        ready.execve(path)
    except BaseException as err:                     # noqa: BLE001
        fail(ch, err)


class Prepared:
    """A process to become, prepared while the host's root is still ours (libseccomp loaded, the
    LSM checked); `become` and `execve` then run in the container, for init and for `exec` alike."""

    def __init__(self, proc: dict, seccomp_config: dict | None) -> None:
        self.proc = proc
        self.caps = process.capabilities(proc)
        self.labels = process.lsm_writes(proc)
        self.filter = seccomp.Filter(seccomp_config) if seccomp_config else None

    def become(self, ch: Channel, userns: bool) -> str:
        """runc's order: rlimits; seccomp now if no_new_privs is off (loading needs CAP_SYS_ADMIN);
        the bounding set; the user; the other sets; the LSM label; no_new_privs; cwd. Returns the
        program's path, found before anything tells the caller we are ready."""
        proc = self.proc
        process.limits(proc)
        if self.filter and not proc.get("noNewPrivileges"):
            self.filter.load()
        process.drop_bounding(self.caps)
        process.become(proc, setgroups=not userns or _setgroups_allowed())
        for warning in process.grant(self.caps):
            ch.send("warning", msg=warning)
        for knob, text in self.labels:
            with open(knob, "w") as f:
                f.write(text)
        if proc.get("noNewPrivileges"):
            prctl(k.PR_SET_NO_NEW_PRIVS, 1)
        os.chdir(proc.get("cwd") or "/")
        _verify_cwd()
        return process.executable(proc)

    def execve(self, path: str) -> None:
        """The filter last when no_new_privs is on (as few calls as possible run under it), then execve."""
        if self.filter and self.proc.get("noNewPrivileges"):
            self.filter.load()
        env = dict(e.split("=", 1) for e in self.proc.get("env") or [] if "=" in e)
        os.execve(path, self.proc["args"], env)


def fail(ch: Channel, err: BaseException) -> None:
    try:
        if os.environ.get("LABRUN_DEBUG"):
            traceback.print_exception(err)
        if not isinstance(err, SystemExit) or err.code != 1:
            ch.send("error", msg=str(err) if isinstance(err, (Refused, SystemExit)) else f"{type(err).__name__}: {err}")
    finally:
        os._exit(1)


def seal_imports() -> None:
    """From here on `/` is the container's: make any import fail rather than read a module from it."""
    sys.path.clear()
    sys.path_hooks.clear()
    sys.path_importer_cache.clear()
    sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__name__", "") in ("BuiltinImporter", "FrozenImporter")]


def _sysctl(settings: dict[str, str]) -> None:
    for key, value in settings.items():
        if "/" in key or ".." in key.split("."):
            raise Refused(f"sysctl {key!r} is not a name like net.ipv4.ip_forward")
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(str(value))


def _verify_cwd() -> None:
    """runc 1.1.12's verifyCwd (CVE-2024-21626): a cwd reached through a descriptor still open on a
    host directory (process.cwd "/proc/self/fd/7") lies outside the new root, and getcwd(3) then
    fails with ENOENT instead of naming it."""
    try:
        os.getcwd()
    except FileNotFoundError:
        raise Refused("process.cwd is outside the container's root (reached through an open descriptor?): "
                      "refusing it, as runc does since CVE-2024-21626") from None


def _setgroups_allowed() -> bool:
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() == "allow"
    except OSError:
        return True


def _console_socket(job: dict) -> socket.socket:
    return socket.socket(fileno=job["console_fd"])


def terminal(console: socket.socket, size: dict | None) -> None:
    """A pty from the container's own devpts: the master goes to --console-socket (one SCM_RIGHTS
    message, as the shim expects), the slave becomes our controlling terminal and stdio."""
    master, slave = os.openpty()
    try:
        if size:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size.get("height", 0), size.get("width", 0), 0, 0))
        socket.send_fds(console, [b"/dev/ptmx"], [master])
    finally:
        os.close(master)
        console.close()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
