"""What a container sees of itself, printed by one busybox shell script: the facts on which two
runtimes running the same bundle are compared (lesson 12; tests/integration/test_labrun.py).

Each line is `key=value`, or a /proc/self/status line (`CapEff:\t...`) kept whole under its key.
Values that differ from machine to machine but not between runtimes are left out: the cgroup
mounts below /sys/fs/cgroup (runc joins every v1 hierarchy, labrun the controllers the lab
drives) and tmpfs sizes.
"""
from __future__ import annotations

SCRIPT = r"""
echo "hostname=$(hostname)"
echo "id=$(id)"
grep -E "^(Cap|NoNewPrivs|Seccomp:)" /proc/self/status | tr '\t' ' '
echo "mounts=$(awk '$2 !~ "^/sys/fs/cgroup/" {print $2":"$3":"$4}' /proc/self/mounts | sed -E 's/,?(size|nr_inodes|inode64)=[^,:]*//g' | tr '\n' ' ')"
echo "dev=$(ls /dev | tr '\n' ' ')"
echo "fds=$(ls /proc/self/fd | tr '\n' ' ')"
echo "nofile=$(ulimit -n)"
echo "links=$(ip -o link | cut -d: -f2 | tr '\n' ' ')"
echo "memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
echo "null=$( (echo x > /dev/null) 2>&1 && echo writable)"
""".strip()


def facts(text: str) -> dict[str, str]:
    """The probe's output as {key: value}; a status line keeps its whole text."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and ":" not in key:
            out[key] = value.strip()
        elif ":" in line:
            out[line.split(":")[0]] = " ".join(line.split(":", 1)[1].split())
    return out


def differences(a: dict[str, str], b: dict[str, str]) -> dict[str, tuple[str | None, str | None]]:
    """{key: (a's value, b's value)} for every key where they differ; mounts compared as sets."""
    out = {}
    for key in sorted(a.keys() | b.keys()):
        x, y = a.get(key), b.get(key)
        if key == "mounts" and x is not None and y is not None:
            only_a, only_b = set(x.split()) - set(y.split()), set(y.split()) - set(x.split())
            x, y = (" ".join(sorted(only_a)), " ".join(sorted(only_b))) if only_a or only_b else (x, x)
        if x != y:
            out[key] = (x, y)
    return out
