"""What a process sees of its container, from inside: one busybox `sh` script, `PROBE`, that prints
hostname, PID, root, mounts, network, cgroup, capabilities, no_new_privs and uid map as key=value
lines, and the code that reads its output back and says what is the host's and what is new.

Lesson 10 runs the same probe after each step of a container built by hand, and inside runc's
container, so the two can be compared line by line.
"""
from __future__ import annotations

import os
import re

from labkit.errors import BadInput

# Every line is one fact; a read that fails (no /proc yet) leaves its value empty. No command writes
# anything, and nothing runs in the background, so the counts do not depend on timing. The memory limit
# is the process's own group's: at its path in the hierarchy (v1's memory.limit_in_bytes, v2's
# memory.max), or at the mount's root where the runtime mounted only the container's group there.
PROBE = r"""
echo "hostname=$(hostname)"
echo "pid of sh=$$"
echo "/=$(echo $(ls /))"
echo "/ mounted=$(awk '$2 == "/" { o = $4 } END { print substr(o, 1, 2) }' /proc/self/mounts)"
echo "mounts=$(echo $(cut -d' ' -f2 /proc/self/mounts))"
set -- /proc/[0-9]*; [ -e "$1" ] && echo "processes=$#" || echo "processes="
echo "net links=$(echo $(ip -o link | cut -d: -f2))"
g=$( (grep -m1 ':memory:' /proc/self/cgroup || grep '^0::' /proc/self/cgroup) | cut -d: -f3)
echo "cgroup=$g"
m=/sys/fs/cgroup
echo "memory limit=$(cat $m/memory$g/memory.limit_in_bytes $m$g/memory.max $m/memory/memory.limit_in_bytes 2>/dev/null | head -n1)"
echo "CapBnd=$(grep CapBnd /proc/self/status | cut -f2)"
echo "CapEff=$(grep CapEff /proc/self/status | cut -f2)"
echo "NoNewPrivs=$(grep NoNewPrivs /proc/self/status | cut -f2)"
echo "uid map=$(echo $(cat /proc/self/uid_map))"
[ -e /proc/keys ] && echo "/proc/keys=$(cat /proc/keys | wc -c) bytes" || echo "/proc/keys="
""".strip()

KEYS = ("hostname", "pid of sh", "/", "/ mounted", "mounts", "processes", "net links", "cgroup", "memory limit",
        "CapBnd", "CapEff", "NoNewPrivs", "uid map", "/proc/keys")
FROM_PROC = {"/ mounted", "mounts", "processes", "cgroup", "CapBnd", "CapEff", "NoNewPrivs", "uid map", "/proc/keys"}
HOST = "the host's"
# Masked and read-only paths runc mounts over only where the kernel has them (/proc/kcore needs
# CONFIG_PROC_KCORE; a host that is itself a container may hide /proc/sysrq-trigger).
VARYING_MOUNTS = {"/proc/kcore", "/proc/sysrq-trigger"}
LITERAL = {"/ mounted"}            # facts shown as they are, even when the host's are the same
_LINE = re.compile(r"^([^=]+)=(.*)$")


def parse(output: str) -> dict[str, str]:
    """The probe's key=value lines as a dict (other lines, such as a failed step's message, are kept
    under 'error')."""
    if not isinstance(output, str):
        raise BadInput(f"parse() takes the probe's output text, not {type(output).__name__}", "", "")
    seen: dict[str, str] = {}
    for line in output.splitlines():
        m = _LINE.match(line)
        if m and m.group(1) in KEYS:
            seen[m.group(1)] = m.group(2).strip()
        elif line.strip():
            seen["error"] = (seen.get("error", "") + " " + line.strip()).strip()
    return seen


def summarise(seen: dict[str, str], host: dict[str, str], root: str | os.PathLike | None = None) -> dict[str, str]:
    """Each fact in words: 'the host's' where it is what a plain host process sees, else the value, short.

    Host facts that change on their own (pids, the count of processes, keys, interfaces or mounts
    that other programs add) still read as 'the host's', so the words only change when a step does.
    `root` is where the container's root is mounted on the host: mounts made under it before the
    pivot are counted."""
    if not isinstance(seen, dict) or not isinstance(host, dict):
        raise BadInput("summarise() takes two dicts from parse()", "", "summarise(parse(out), parse(host_out))")
    out: dict[str, str] = {}
    on_host_root = _normal("/", seen.get("/", ""), host) == _normal("/", host.get("/", ""), host)
    for key in KEYS:
        if key not in seen:
            continue
        value = seen[key]
        if value == "":
            out[key] = "(not readable)" if key == "memory limit" else "(no /proc)" if key in FROM_PROC else "(none)"
        elif key == "mounts" and on_host_root:
            extra = [p for p in value.split() if root is not None and _below(p, os.fspath(root))]
            out[key] = HOST + (f" + {len(extra)} under the new root" if extra else "")
        elif key not in LITERAL and _normal(key, value, host) == _normal(key, host.get(key, ""), host):
            out[key] = HOST
        elif key in ("CapBnd", "CapEff"):
            out[key] = caps(value)
        else:
            out[key] = _normal(key, value, host)
    if "error" in seen:
        out["error"] = seen["error"]
    return out


def _normal(key: str, value: str, host: dict[str, str]) -> str:
    """A value with what varies from moment to moment on a host taken out."""
    if key == "pid of sh":
        return value if value == "1" else "a host pid"
    if key == "/proc/keys":
        return "empty" if value.startswith("0 ") else "readable"
    if key == "memory limit" and value.isdigit() and int(value) >= 1 << 62:
        return "max"                # v1's "no limit" is the largest page multiple; v2 writes "max"
    if key == "mounts":             # these exist only on some kernels and hosts: the list omits them
        return " ".join(p for p in value.split() if p not in VARYING_MOUNTS)
    if key == "processes" and value.isdigit() and host.get(key, "").isdigit():
        return "many" if int(value) > int(host[key]) // 2 else value
    if key == "net links":          # a new network namespace shares no interface with the host, but lo's name
        mine, theirs = set(value.split()) - {"lo"}, set(host.get(key, "").split()) - {"lo"}
        return "host-like" if mine & theirs else value
    if key == "/":
        mine, theirs = set(value.split()), set(host.get(key, "").split())
        return "host-like" if theirs and len(mine & theirs) >= 0.8 * len(theirs) else value
    return value


def _below(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def caps(mask: str) -> str:
    """A CapBnd/CapEff hex mask as names ('0000000020000420' -> 'AUDIT_WRITE KILL NET_BIND_SERVICE')."""
    from labkit.kernel.caps import CAPS

    try:
        bits = int(mask, 16)
    except (TypeError, ValueError):
        raise BadInput(f"{mask!r} is not a capability mask", "", "Give the hex number from CapBnd in /proc/PID/status") from None
    names = [CAPS[i].removeprefix("CAP_") if i < len(CAPS) else f"cap_{i}" for i in range(64) if bits >> i & 1]
    if len(names) > 8:
        return f"{len(names)} capabilities"
    return " ".join(names) if names else "none"
