"""Which cgroup hierarchies this machine mounts (v1, hybrid, v2) and where each controller is."""
from __future__ import annotations

from pathlib import Path

from labkit.kernel import procfs

_GENERIC_OPTS = {"rw", "ro", "nosuid", "nodev", "noexec", "relatime", "noatime", "nsdelegate",
                 "memory_recursiveprot", "memory_localevents", "favordynmods", "clone_children", "xattr"}


def mounts(mountinfo: str | None = None) -> list[tuple[str, str, set[str]]]:
    """(mount point, 'cgroup' or 'cgroup2', v1 controllers) for every cgroup mount (of this process,
    or of the mountinfo text given)."""
    found = []
    for m in procfs.mounts(text=mountinfo):
        if m.fstype in ("cgroup", "cgroup2"):
            # a v1 hierarchy names its controllers among its super options: rw,nosuid,...,memory
            opts = set(m.super_options.split(","))
            ctrls = {o for o in opts if o not in _GENERIC_OPTS and "=" not in o} if m.fstype == "cgroup" else set()
            found.append((m.point, m.fstype, ctrls))
    return found


def mode(mountinfo: str | None = None) -> str:
    """'v2' (unified only), 'hybrid' (v1 controllers plus a cgroup2 mount) or 'v1'."""
    kinds = {fstype for _, fstype, _ in mounts(mountinfo)}
    if kinds == {"cgroup2"}:
        return "v2"
    return "hybrid" if "cgroup2" in kinds else "v1"


def controllers(mountinfo: str | None = None) -> dict[str, str]:
    """Controller name -> where it lives: a v1 mount point, or the v2 root it is enabled in."""
    where: dict[str, str] = {}
    for point, fstype, ctrls in mounts(mountinfo):
        if fstype == "cgroup":
            for c in ctrls:
                where[c] = point
        elif mountinfo is None:
            try:
                for c in (Path(point) / "cgroup.controllers").read_text().split():
                    where.setdefault(c, point)
            except OSError:
                pass
    return where


def unified(mountinfo: str | None = None) -> str | None:
    """The cgroup2 mount point (the whole tree on v2, the mostly empty one on hybrid), if any."""
    return next((point for point, fstype, _ in mounts(mountinfo) if fstype == "cgroup2"), None)


def v1_mounts(mountinfo: str | None = None) -> dict[str, str]:
    """v1 controller -> its hierarchy's mount point (the first mount of each wins)."""
    where: dict[str, str] = {}
    for point, fstype, ctrls in mounts(mountinfo):
        if fstype == "cgroup":
            for c in ctrls:
                where.setdefault(c, point)
    return where


def needs_v2(mountinfo: str | None = None) -> bool:
    """True on a pure cgroup v2 machine. Elsewhere, says in one line that the section needs v2.

    For a lesson's v2-only demos (memory.high, PSI per group, delegation, ...): a v1 or hybrid
    machine has no memory controller in its cgroup2 tree, so they cannot run there.
    """
    found = mode(mountinfo)
    if found != "v2":
        print(f"this machine mounts cgroups as {found}: this section needs cgroup v2 "
              "(the output stored here is a v2 machine's)")
    return found == "v2"
