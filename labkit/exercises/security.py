"""Checkers for lesson 11 · Security: capabilities, seccomp, devices, escapes."""
from __future__ import annotations

import inspect
import os
import re
import shutil
import time
from contextlib import closing
from typing import Callable

from labkit import config, fs
from labkit.check import Result, checker
from labkit.errors import BadInput
from labkit.forking import collect, fork
from labkit.kernel import CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, MS_PRIVATE, MS_REC
from labkit.kernel import cap_value, mount, unshare

# -- 11.1 · the one capability an operation needs ----------------------------------------------------

IMAGE = "labkit/busybox"
TASK = "ip link set lo mtu 1280"      # a setting of the container's own network namespace
_SPACES = re.compile(r"\s+")


def capability_names(answer: object) -> list[str]:
    """The learner's answer (a name, or a list of names, with or without CAP_, any case) as Docker's
    --cap-add names ('NET_ADMIN'); raises BadInput naming what is not a capability."""
    items = [answer] if isinstance(answer, str) else answer
    if not isinstance(items, (list, tuple, set)) or not all(isinstance(c, str) for c in items):
        raise BadInput(f"Answer with a capability name such as 'CAP_CHOWN', or a list of them; you gave "
                       f"{type(answer).__name__} {answer!r:.40}.")
    names = []
    for item in items:
        key = item.strip().upper().removeprefix("CAP_")
        try:
            if key != "ALL":
                cap_value(key)          # raises BadInput for a name capabilities(7) does not have
        except BadInput:
            raise BadInput(f"{item!r} is no capability: capabilities(7) names them, e.g. 'CAP_CHOWN' (or 'CHOWN', "
                           "as Docker spells it).") from None
        names.append(key)
    return sorted(set(names))


def run_task(caps: list[str]) -> tuple[int, str]:
    """`docker run --rm --cap-drop ALL --cap-add CAP ... labkit/busybox sh -c TASK`: its exit status and output."""
    from labkit.engine import docker_client

    name = config.lab_name(f"check-{os.getpid()}-{time.monotonic_ns() % 10**6}", "11")
    with closing(docker_client(timeout=60)) as client:
        api = client.api
        host = api.create_host_config(cap_drop=["ALL"], cap_add=caps or None)
        cid = api.create_container(IMAGE, ["sh", "-c", f"{TASK} 2>&1"], name=name, host_config=host,
                                   environment={config.OWNER_ENV: "11"})["Id"]
        try:
            api.start(cid)
            status = api.wait(cid, timeout=60).get("StatusCode", -1)
            out = api.logs(cid).decode(errors="replace").strip()
        finally:
            api.remove_container(cid, force=True)
    return status, out


def judge_capabilities(answer: object, run: Callable[[list[str]], tuple[int, str]] = run_task) -> Result:
    """The verdict on 11.1, with `run(caps)` running the task under `--cap-drop ALL --cap-add caps`."""
    try:
        caps = capability_names(answer)
    except BadInput as err:
        return Result(False, err.what)
    if "ALL" in caps:
        return Result(False, "ALL gives the container every capability, which is what you are meant to avoid: "
                             "find the one the command needs, and add only that.")
    if not caps:
        return Result(False, "With no capability the command fails: that is where the exercise starts. Add the one "
                             "it needs.")
    status, out = run(caps)
    if status != 0:
        said = _SPACES.sub(" ", out)[:120] or f"exit status {status}"
        return Result(False, f"With {', '.join(caps)} alone the command still fails ({said}). Changing an "
                             "interface's settings is network administration: look for it in capabilities(7).")
    extra = [c for c in caps if len(caps) > 1 and run([k for k in caps if k != c])[0] == 0]
    if extra:
        return Result(False, f"It works, and it works without {', '.join(extra)} too: give a container only what "
                             "it needs, so drop each one it runs without.")
    return Result(True, f"Right: {caps[0]} alone is enough. It covers network administration (interfaces, routes, "
                        "firewall rules) in the container's own network namespace, and the command needs no more.")


@checker("11.1")
def the_capability_it_needs(answer: object) -> Result:
    """The capability `ip link set lo mtu 1280` needs in a container run with --cap-drop ALL."""
    return judge_capabilities(answer)


# -- 11.2 · close what the runtime leaked -------------------------------------------------------------

HOST_DIR = config.SCRATCH / "lab-11-check-host"     # stands for the host's files
MARKER = "lab-11-marker"
LEAKS = (7, 200)         # the runtime's leaked handle: where runc's was, and one far above it
_TIMEOUT = 30.0
# The container's program: which of its fds lead to the host directory (the shell's own fds are the ones
# /proc/self/fd lists), and whether its output and /proc still work.
PROBE = f"""
[ -d /proc/self/fd ] && echo "proc=ok"
for fd in /proc/self/fd/*; do [ -e "$fd/{MARKER}" ] && echo "escaped=${{fd##*/}}"; done
echo "end=ok"
""".strip()


def leaky_container(step: Callable[[], object], root: fs.Overlay, timeout: float = _TIMEOUT) -> str:
    """Fork a weakened runtime: it leaks a handle on HOST_DIR at each fd of LEAKS (inheritable, as without
    O_CLOEXEC), makes namespaces, mounts /proc, pivots into `root`, runs `step`, then execs busybox sh PROBE.
    Returns the container's output ('step failed: ...' when the step raised)."""
    r, w = os.pipe()
    pid = fork()
    if pid == 0:                     # the child writes to its own fd 1, then execs or _exits
        try:
            os.dup2(w, 1)
            os.dup2(w, 2)
            held = os.open(HOST_DIR, os.O_RDONLY | os.O_DIRECTORY)
            for fd in LEAKS:
                os.dup2(held, fd)                      # dup2's copy is inheritable: no O_CLOEXEC
            unshare(CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID)
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            if fork():                                 # the parent waits for PID 1 and exits as it does
                _, status = os.wait()
                os._exit(os.waitstatus_to_exitcode(status))
            fs.mount_proc(root.merged)
            fs.pivot_root(root.merged)
            try:
                step()
            except BaseException as err:     # the learner's step failed: that is the feedback
                os.write(1, f"step failed: {type(err).__name__}: {err}\n".encode())
                os._exit(127)
            os.execve("/bin/busybox", ["sh", "-c", PROBE], {"PATH": "/bin", config.OWNER_ENV: "11"})
        except BaseException as err:
            try:
                os.write(1, f"runtime failed: {err}\n".encode())
            except OSError:
                pass                         # the step closed fd 1: nothing more to say
        finally:
            os._exit(127)
    os.close(w)
    return collect(r, pid, timeout, "runtime failed: the container did not finish in time")


def judge_fd_probe(out: str, leaks: tuple[int, ...] = LEAKS) -> Result:
    """The verdict on what PROBE printed in the leaky container with the learner's step run last."""
    lines = out.splitlines()
    failed = next((ln.split(": ", 1)[1] for ln in lines if ln.startswith("step failed: ")), "")
    if failed:
        if "EBADF" in failed or "Bad file descriptor" in failed:
            return Result(False, f"Your function raised {failed}: one fd it tried to close was already closed. A "
                                 "listing of /proc/self/fd includes the fd that reads the directory, gone once the "
                                 "listing is done; skip the ones that fail with EBADF, or close a whole range.")
        return Result(False, f"Your function raised {failed}; it runs in the container's process just before execve.")
    runtime = next((ln for ln in lines if ln.startswith("runtime failed: ")), "")
    if runtime:
        return Result(False, f"The checker's container did not start ({runtime[16:]}). Run the lesson's cells above "
                             "first; if it persists, run labkit.clean('11').")
    if "end=ok" not in lines:
        return Result(False, "The container printed nothing: your function closed (or marked close-on-exec) fds 0, 1 "
                             "or 2 too. Those are the program's stdin, stdout and stderr: start at 3.")
    if "proc=ok" not in lines:
        return Result(False, "The probe could not read /proc/self/fd: leave the container's /proc mounted.")
    escaped = sorted(int(ln.split("=", 1)[1]) for ln in lines if ln.startswith("escaped="))
    if escaped:
        high = [fd for fd in escaped if fd > min(leaks)]
        why = (f" The checker leaks one at fd {high[0]} too: close every fd from 3 up, not the few you saw."
               if high and min(leaks) not in escaped else " Close every fd from 3 up before the execve.")
        return Result(False, f"The container still reached the host directory through /proc/self/fd/{escaped[0]}."
                             + why)
    return Result(True, "Right: every descriptor above 2 is gone before execve, wherever the runtime left it; "
                        "runc 1.1.12 does the same last thing before it execs the container's program.")


@checker("11.2")
def close_the_leak(answer: object) -> Result:
    """A function (no arguments) that the weakened runtime calls just before execve, closing what it leaked."""
    if not callable(answer):
        return Result(False, f"Answer with a function the runtime can call before execve; you gave "
                             f"{type(answer).__name__} {answer!r:.40}.")
    try:
        takes = [p for p in inspect.signature(answer).parameters.values()
                 if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    except (TypeError, ValueError):
        takes = []
    if takes:
        return Result(False, f"The runtime calls your function with no arguments; yours wants {takes[0].name}.")
    root = fs.overlay(config.lab_name(f"check-root-{os.getpid()}", "11"), fs.rootfs(IMAGE))
    try:
        HOST_DIR.mkdir(parents=True, exist_ok=True)
        (HOST_DIR / MARKER).write_text("a file on the host\n")
        return judge_fd_probe(leaky_container(answer, root))
    finally:
        root.remove()
        shutil.rmtree(HOST_DIR, ignore_errors=True)


# -- wrong answers the checkers must refuse (tests/unit/test_check.py) ----------------------------------


def _close_three() -> None:
    os.close(3)


def _close_everything() -> None:
    os.closerange(0, 1 << 16)


def _close_a_few() -> None:
    for fd in range(3, 16):
        try:
            os.close(fd)
        except OSError:
            pass


def _close_listed() -> None:
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 2:
            os.close(int(name))


def _needs_an_argument(fd: int) -> None:
    os.close(fd)


WRONG_ANSWERS = {
    "11.1": [[], "SYS_ADMIN", ["NET_RAW"], "ALL", ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"], "NET_ADMINISTRATOR", 42],
    "11.2": [lambda: None, _close_three, _close_everything, _close_a_few, _close_listed, _needs_an_argument,
             "os.closerange(3, 1024)"],
}
