"""The container's process, set up as config.json's `process` asks, in runc's order: rlimits and
oom_score_adj, the bounding set, the user and its groups, then the other four capability sets,
an LSM label, no_new_privs, the working directory; and the program found on the container's PATH."""
from __future__ import annotations

import os
import resource

from labkit.kernel import CAPS, cap_bounding_drop, cap_bounding_has, cap_set, cap_value, prctl
from labkit.kernel import consts as k
from labkit.runtime.errors import Refused

RLIMITS = {f"RLIMIT_{n}": getattr(resource, f"RLIMIT_{n}") for n in (
    "CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE", "MEMLOCK", "AS", "LOCKS", "SIGPENDING",
    "MSGQUEUE", "NICE", "RTPRIO", "RTTIME") if hasattr(resource, f"RLIMIT_{n}")}
SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def last_cap() -> int:
    """The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap)."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


def capabilities(process: dict) -> dict[str, set[str]]:
    """The five sets, checked: an unknown name is refused; one this kernel lacks is left out."""
    given = process.get("capabilities") or {}
    known = set(CAPS[: last_cap() + 1])
    out = {}
    for name in SETS:
        caps = set(given.get(name) or [])
        for cap in caps:
            cap_value(cap) if cap in CAPS else _unknown(cap)
        out[name] = caps & known
    return out


def _unknown(cap: str) -> None:
    raise Refused(f"unknown capability {cap!r} in config.json: names look like CAP_NET_BIND_SERVICE")


def limits(process: dict) -> None:
    """setrlimit(2) for each of process.rlimits, and /proc/self/oom_score_adj."""
    for r in process.get("rlimits") or []:
        if r.get("type") not in RLIMITS:
            raise Refused(f"rlimit {r.get('type')!r} is not one of {', '.join(RLIMITS)}")
        resource.setrlimit(RLIMITS[r["type"]], (r["soft"], r["hard"]))
    if "oomScoreAdj" in process:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(process["oomScoreAdj"]))


def drop_bounding(caps: dict[str, set[str]]) -> None:
    """Drop from the bounding set whatever config.json leaves out: no later execve brings it back."""
    for cap in CAPS[: last_cap() + 1]:
        if cap not in caps["bounding"] and cap_bounding_has(cap):
            cap_bounding_drop(cap)


def become(process: dict, setgroups: bool = True) -> None:
    """The user: supplementary groups, gid, uid, umask. PR_SET_KEEPCAPS keeps the permitted set
    across the uid change, so `grant` can still give the capabilities config.json lists."""
    user = process.get("user") or {}
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    if setgroups:
        os.setgroups(user.get("additionalGids") or [])
    prctl(k.PR_SET_KEEPCAPS, 1)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    prctl(k.PR_SET_KEEPCAPS, 0)
    if user.get("umask") is not None:
        os.umask(user["umask"])


def grant(caps: dict[str, set[str]]) -> list[str]:
    """The effective, permitted and inheritable sets, then the ambient set (PR_CAP_AMBIENT_RAISE).

    The kernel raises an ambient capability only if it is permitted and inheritable too. `runc spec`
    lists ambient capabilities with no inheritable set, and runc only warns when a raise fails; so
    does labrun: the warnings are returned for the log."""
    cap_set(effective=caps["effective"], permitted=caps["permitted"], inheritable=caps["inheritable"])
    warnings = []
    for cap in sorted(caps["ambient"]):
        try:
            prctl(k.PR_CAP_AMBIENT, k.PR_CAP_AMBIENT_RAISE, cap_value(cap))
        except OSError:
            warnings.append(f"ambient {cap} left out: the kernel raises it only when it is permitted and inheritable")
    return warnings


def lsm_writes(process: dict) -> list[tuple[str, str]]:
    """(file, text) to write for process.apparmorProfile and selinuxLabel; refused where the host lacks the LSM."""
    out = []
    profile, label = process.get("apparmorProfile"), process.get("selinuxLabel")
    if profile:
        if _read("/sys/module/apparmor/parameters/enabled") != "Y":
            raise Refused(f"config.json asks for AppArmor profile {profile!r}, and AppArmor is not enabled here")
        knob = "/proc/self/attr/apparmor/exec" if os.path.exists("/proc/self/attr/apparmor/exec") else "/proc/self/attr/exec"
        out.append((knob, f"exec {profile}"))
    if label:
        # Enabled means a policy is loaded, as go-selinux (runc's) decides: with none, selinuxfs may be
        # mounted and the kernel takes the write, but every process stays in the context "kernel".
        if not os.path.exists("/sys/fs/selinux/enforce") or _read("/proc/self/attr/current").rstrip("\0") == "kernel":
            raise Refused(f"config.json asks for SELinux label {label!r}, and SELinux is not enabled here")
        out.append(("/proc/self/attr/exec", label))
    return out


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def executable(process: dict) -> str:
    """process.args[0] as execve needs it: a path, or found on the PATH of process.env."""
    name = process["args"][0]
    if "/" in name:
        return name
    env = dict(e.split("=", 1) for e in process.get("env") or [] if "=" in e)
    for d in env.get("PATH", "").split(":"):
        path = os.path.join(d or ".", name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise Refused(f'exec: "{name}": executable file not found in $PATH')


def close_on_exec() -> None:
    """Mark every descriptor above 2 close-on-exec: nothing of the runtime's reaches the program (a
    leaked fd on a host directory is a way out of the root: CVE-2024-21626)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass                            # the directory listing's own fd, closed already
