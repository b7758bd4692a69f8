"""What this machine holds now, by kind: containers, pods, mounts, cgroups, netns, links, processes.

`labkit clean` removes the lab's part of it; the tests diff two snapshots around a
notebook run to prove a lesson left nothing behind.
"""
from __future__ import annotations

import os
from contextlib import closing
from typing import TYPE_CHECKING, Callable, TypeVar

from labkit import cgroups as cg
from labkit import config
from labkit.kernel import procfs

if TYPE_CHECKING:
    from docker import DockerClient      # imported when asked for: `import labkit` stays lean

T = TypeVar("T")

KINDS = ("containers", "images", "registry", "containerd", "pods", "mounts", "cgroups", "netns", "interfaces",
         "processes")


def containers() -> set[str]:
    """Names of all containers of the lab dockerd (running or not)."""
    if not config.DOCKER_SOCK.exists():
        return set()
    # sparse: the one list call `docker ps -a` makes, no inspect of each (which fails on a
    # container removed meanwhile).
    return from_docker(lambda client: {name for c in client.containers.list(all=True, sparse=True)
                                       if (name := container_name(c.attrs))}, set())


def container_name(summary: dict) -> str | None:
    """A container's own name from its /containers/json entry ('/web' -> 'web'); a legacy
    link's alias ('/other/web') is another container's name for it, not this one's."""
    names = [n.lstrip("/") for n in summary.get("Names") or []]
    return next((n for n in names if "/" not in n), names[0] if names else None)


def images() -> set[str]:
    """'id repository:tag' of every image of the lab dockerd, intermediate ones included."""
    if not config.DOCKER_SOCK.exists():
        return set()
    # The low-level list: one call, as `docker images -a` makes (images.list inspects each image).
    return from_docker(lambda client: {row for summary in client.api.images(all=True)
                                       for row in image_rows(summary)}, set())


def image_rows(summary: dict) -> list[str]:
    """The 'id repository:tag' rows `docker images --no-trunc` prints for one /images/json entry:
    one a tag, 'repository:<none>' for a repository known by digest only, '<none>:<none>' for an
    untagged image (older API versions spell that as one '<none>' tag and digest)."""
    tags, digests = summary.get("RepoTags") or [], summary.get("RepoDigests") or []
    if (not tags and not digests) or (tags == ["<none>:<none>"] and digests == ["<none>@<none>"]):
        return [f"{summary['Id']} <none>:<none>"]
    tags = [t for t in tags if not t.startswith("<none>")]
    tagged = {t.rsplit(":", 1)[0] for t in tags}
    by_digest = dict.fromkeys(d.split("@", 1)[0] for d in digests if not d.startswith("<none>"))
    return [f"{summary['Id']} {t}" for t in tags] + [f"{summary['Id']} {r}:<none>" for r in by_digest if r not in tagged]


def registry() -> set[str]:
    """Repositories in the lab registry."""
    from labkit.oci import registry as reg

    try:
        return set(reg.catalog())
    except reg.RegistryError:
        return set()


def containerd() -> set[str]:
    """Every containerd namespace ('ns/') and container ('ns/id'); Docker's live in 'moby', pods' in 'k8s.io'."""
    found = set()
    for ns in ctr("namespaces", "list", "-q").split():
        found.add(f"{ns}/")
        found |= {f"{ns}/{cid}" for cid in ctr("-n", ns, "containers", "list", "-q").split()}
    return found


def pods() -> set[str]:
    """Names of the CRI pod sandboxes."""
    if not config.CONTAINERD_SOCK.exists():
        return set()
    from labkit.cri import CRI

    with CRI(timeout=5) as cri:
        return {p.metadata.name for p in cri.pods()}


def mounts() -> set[str]:
    """Every mount point in this mount namespace."""
    return {m.point for m in procfs.mounts()}


def cgroups() -> set[str]:
    """Every cgroup directory, in every mounted hierarchy."""
    found = set()
    for point, _fstype, _ctrls in cg.mounts():
        for root, dirs, _files in os.walk(point):
            found.update(os.path.join(root, d) for d in dirs)
    return found


def netns() -> set[str]:
    """Named network namespaces (`ip netns`)."""
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


def interfaces() -> set[str]:
    """Network interfaces of the host's network namespace."""
    return set(os.listdir("/sys/class/net"))


def processes() -> set[str]:
    """'pid command' of every live user-space process (kernel threads and zombies left out)."""
    found = set()
    for pid in procfs.pids():
        argv = procfs.cmdline(pid)               # [] for kernel threads, and for a process that is gone
        if argv and procfs.alive(pid):
            found.add(f"{pid} {argv[0]}")
    return found


def snapshot() -> dict[str, set[str]]:
    """All kinds at once."""
    return {
        "containers": containers(), "images": images(), "registry": registry(), "containerd": containerd(), "pods": pods(), "mounts": mounts(),
        "cgroups": cgroups(), "netns": netns(), "interfaces": interfaces(), "processes": processes(),
    }


def socket_holders(inodes: set[int] | set[str]) -> dict[int, set[int]]:
    """pid -> the socket inodes among `inodes` it holds open, read from /proc/PID/fd."""
    wanted = {f"socket:[{inode}]": int(inode) for inode in inodes}
    held: dict[int, set[int]] = {}
    for pid in procfs.pids():
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target in wanted:
                held.setdefault(pid, set()).add(wanted[target])
    return held


def lab_owned_pids(lesson: str | None = None) -> list[int]:
    """Processes a lesson spawned: they carry LABKIT_LESSON=NN in their environment."""
    wanted = "" if lesson is None else f"{int(lesson):02d}"
    pids = []
    for pid in procfs.pids():
        mark = procfs.environ(pid).get(config.OWNER_ENV)     # {} once the process is gone
        if mark is not None and mark.startswith(wanted) and pid != os.getpid():
            pids.append(pid)
    return pids


def ctr(*args: str) -> str:
    """Run `ctr` against the lab containerd; '' when it is not running (inventories never raise)."""
    from labkit import containerd        # it imports this module

    return containerd.ctr(*args, check=False)


def from_docker(ask: Callable[[DockerClient], T], failed: T) -> T:
    """`ask(client)` on the lab dockerd; `failed` when the engine is down or does not answer
    (refusal, lost socket, timeout): inventories never raise."""
    from labkit import engine

    try:
        with closing(engine.docker_client(timeout=60)) as client:
            return ask(client)
    except engine.docker_errors():
        return failed
