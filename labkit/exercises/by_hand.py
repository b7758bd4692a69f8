"""Checkers for lesson 10 · A container by hand."""
from __future__ import annotations

import os

from labkit import config
from labkit.check import Result, checker
from labkit.forking import collect, fork
from labkit.kernel import procfs

# The checker's own copy of the lesson's runtime: fork, run the steps, exec busybox sh.
_CHECK = r"""
if [ -d /usr ]; then echo "root=host"; exit 0; fi
echo "pid=$$"
echo "root=$(awk '$2 == "/" { o = $4 } END { print substr(o, 1, 2) }' /proc/self/mounts)"
echo "tmp=$(awk '$2 == "/tmp" { print $3 }' /proc/self/mounts)"
echo "tmp write=$(echo ok > /tmp/lab-10-check && cat /tmp/lab-10-check)"
""".strip()
_TIMEOUT = 30.0

WRONG_ANSWERS = {
    "10.1": lambda: [1, os.getpid(), 0, "1", 10**9],
    "10.2": [[], "STEPS", [lambda: None], {"pivot_root": lambda: None}],
}


# -- 10.1 ------------------------------------------------------------------------------------------


@checker("10.1")
def container_pid_one(answer: object) -> Result:
    """The host pid of the lesson's background container's PID 1 (`sleep 600`)."""
    if isinstance(answer, bool) or not isinstance(answer, int):
        return Result(False, f"A pid is a whole number; you gave {type(answer).__name__} {answer!r}.")
    if answer <= 0:
        return Result(False, f"{answer} is no pid: pids start at 1.")
    status, env = procfs.status(answer), procfs.environ(answer)
    if not status:
        return Result(False, f"No process {answer} exists now. Is the background container still running? "
                             "Look for it in /proc while it does.")
    nspid = status.get("NSpid", "").split()
    if len(nspid) < 2:
        return Result(False, f"Process {answer} ({status.get('Name', '?')}) has a single pid: it lives in the "
                             "host's PID namespace. The container's PID 1 has one pid per namespace level: "
                             "look at the NSpid line of /proc/<pid>/status.")
    if nspid[-1] != "1":
        return Result(False, f"Process {answer} is pid {nspid[-1]} inside its namespace, not 1: it is a child of "
                             "the container's first process. Find the one whose NSpid ends in 1.")
    name = status.get("Name", "")
    if env.get(config.OWNER_ENV) != "10" or name != "sleep":
        return Result(False, f"Process {answer} is PID 1 of some namespace, but it runs {name!r} without "
                             f"{config.OWNER_ENV}=10: another container, not this lesson's `sleep 600`.")
    return Result(True, f"Right: host pid {answer} is PID 1 inside; its NSpid line lists both numbers: one "
                        "process, one pid per PID namespace it is seen from.")


# -- 10.2 ------------------------------------------------------------------------------------------


def run_steps(steps: list, command: str, timeout: float = _TIMEOUT) -> str:
    """Fork, run each step in the child, exec `busybox sh -c command` there; its stdout (or the failed step)."""
    r, w = os.pipe()
    null = os.open("/dev/null", os.O_WRONLY)
    # The lesson's point: fork, the steps, exec. The child writes to its own fds 1 and 2 and execs or
    # _exits, leaving the kernel threads' sockets alone; should a step hang, it is killed at `timeout`.
    pid = fork()
    if pid == 0:
        try:
            os.dup2(w, 1)
            os.dup2(null, 2)
            for step in steps:
                step()
            os.execve("/bin/busybox", ["sh", "-c", command], {"PATH": "/bin", config.OWNER_ENV: "10"})
        except BaseException as err:      # the learner's step failed: that is the feedback
            os.write(1, f"step failed: {getattr(step, '__name__', 'a step')}: {err}\n".encode())
        finally:
            os._exit(127)
    os.close(w)
    os.close(null)
    return collect(r, pid, timeout, "step failed: the container did not finish in time")


# The lesson's steps by function name, in the lesson's order. The order is checked before anything
# runs: a hostname set, or a mount made, before the namespaces step would change the host itself.
LESSON_STEPS = ("join_cgroup", "new_namespaces", "set_hostname", "container_mounts", "pivot", "lock_down",
                "drop_privileges")


def _out_of_order(steps: list) -> str:
    """Why `steps` cannot be run safely in this order ('' when they can)."""
    names = [getattr(s, "__name__", "?") for s in steps]
    given = [n for n in names if n in LESSON_STEPS]
    if given != sorted(given, key=LESSON_STEPS.index) or len(set(given)) != len(given):
        return (f"The lesson's steps are out of order ({', '.join(given)}): keep them as the lesson ran them "
                f"({', '.join(LESSON_STEPS)}) and insert yours among them.")
    if "new_namespaces" not in given:
        return "Keep the lesson's steps (list(STEPS.values())) and add yours to them: new_namespaces is missing."
    yours = [i for i, n in enumerate(names) if n not in LESSON_STEPS]
    if not yours:
        return "These are the lesson's steps only: add one of your own that mounts a tmpfs at /tmp."
    if min(yours) < names.index("new_namespaces"):
        return ("Your step runs before new_namespaces, in the host's own mount namespace: its mount would land "
                "on the host. Put it after the namespaces exist.")
    # Checked here, not only by running: on the lesson's overlay an earlier run may have left /tmp in
    # place, and a mount over an existing directory succeeds on a read-only root.
    if "lock_down" in given and max(yours) > names.index("lock_down"):
        return ("Your step runs after lock_down: / is read-only by then, and a mount point can only be made while "
                "it is still writable, so your step belongs before the one that remounts / read-only.")
    return ""


@checker("10.2")
def writable_tmp(answer: object) -> Result:
    """The lesson's steps plus one that gives the read-only container a writable tmpfs at /tmp."""
    if isinstance(answer, dict):
        return Result(False, "Give the steps as a list of functions, in order (list(STEPS.values()) plus yours), "
                             "not the dict.")
    if not isinstance(answer, list) or not all(callable(s) for s in answer):
        return Result(False, f"The answer is a list of step functions; you gave {type(answer).__name__} {answer!r:.40}.")
    wrong = _out_of_order(answer)
    if wrong:
        return Result(False, wrong)
    out = run_steps(answer, _CHECK).splitlines()
    failed = " ".join(line.removeprefix("step failed: ") for line in out if line.startswith("step failed"))
    facts = dict(line.split("=", 1) for line in out if "=" in line and not line.startswith("step failed"))
    if failed:
        why = ""
        if "EROFS" in failed or "Read-only" in failed:
            why = (" The root is read-only by then: a mount point can only be made while it is still writable, "
                   "so your step belongs before the one that remounts / read-only.")
        return Result(False, f"The container did not start: {failed}.{why}")
    if facts.get("root") == "host":
        return Result(False, "With those steps the program still sees the host's files (/usr is there): keep every "
                             "step of the lesson, and add yours to them.")
    if facts.get("root") != "ro":
        return Result(False, f"The container's root is {facts.get('root') or 'not mounted'!r}, not read-only: keep the "
                             "lock-down step; the point is a writable /tmp in a read-only container.")
    if facts.get("tmp") != "tmpfs":
        return Result(False, f"/tmp is {'a ' + facts['tmp'] + ' mount' if facts.get('tmp') else 'no mount point'} in the "
                             "container. Mount a tmpfs there (mount(2) with the type 'tmpfs').")
    if facts.get("tmp write") != "ok":
        return Result(False, "/tmp is a tmpfs, but a write to it failed: was it mounted read-only, or remounted by a "
                             "later step?")
    if facts.get("pid") != "1":
        return Result(False, f"The shell runs as pid {facts.get('pid')}, not 1: keep the namespaces step.")
    return Result(True, "Right: / is read-only, /tmp is a fresh writable tmpfs (what `docker run --read-only --tmpfs "
                        "/tmp` gives), and the mount point was made while the root could still be written.")
