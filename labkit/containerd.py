"""containerd from Python, through `ctr`: namespaces, images, containers, tasks, snapshots, shims.

containerd's API is gRPC on its unix socket. Its Python bindings on PyPI (`containerd`) were
generated for an old protobuf and fail to import with protobuf 6, so this module drives `ctr`,
containerd's own command-line client, against the lab's socket and parses what it prints into
typed objects. Everything here is a thin layer: each function names the `ctr` command it runs.
"""
from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from labkit import cgroups, config, inventory
from labkit.errors import LabError
from labkit.kernel import procfs

ADDRESS = config.CONTAINERD_SOCK
# Where containerd's v2 runtime keeps one bundle per task: <STATE>/<namespace>/<id>/.
TASK_STATE = config.RUN / "containerd" / "io.containerd.runtime.v2.task"
# The runc shim's default runc root (containerd 1.6): one directory per namespace.
RUNC_ROOT = Path("/run/containerd/runc")
CGROUP_ROOT = Path("/sys/fs/cgroup")
SHIM = "containerd-shim-runc-v2"


# ---- running ctr ---------------------------------------------------------------------------

def ctr(*args: str, namespace: str | None = None, timeout: float = 60, stdin: bytes | None = None,
        check: bool = True) -> str:
    """Run `ctr --address <lab socket> [-n namespace] ARGS...` and return what it printed.

    With check=False it never raises: '' when containerd is not running or ctr fails (for
    inventories and teardown, which look at whatever is there).
    """
    if not check:
        try:
            return ctr(*args, namespace=namespace, timeout=timeout, stdin=stdin) if ADDRESS.exists() else ""
        except LabError:
            return ""
    argv = ["ctr", "--address", str(ADDRESS)]
    if namespace is not None:
        argv += ["--namespace", namespace]
    argv += list(args)
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise LabError("`ctr` is not installed", "containerd's client comes with the containerd package",
                       "Run the README's set-up command (`./lab open`)") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"`ctr {' '.join(args)}` did not answer", f"no reply within {timeout:.0f} s",
                       "Check that the lab engine is up: `labkit status`") from None
    if proc.returncode != 0:
        raise LabError(f"`ctr {' '.join(args)}` failed", _ctr_error(proc.stderr.decode(errors="replace")),
                       _fix_for(proc.stderr.decode(errors="replace")))
    return proc.stdout.decode(errors="replace")


def _ctr_error(stderr: str) -> str:
    # ctr ends with "ctr: <reason>"; logrus lines before it repeat the same reason with a timestamp.
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("ctr: "):
            return line[5:]
    return lines[-1] if lines else "no message"


def _fix_for(stderr: str) -> str:
    if "failed to dial" in stderr or "connection refused" in stderr:
        return "The lab containerd is not answering: start the engine with `labkit up`"
    if "not found" in stderr:
        return "Check the namespace (-n) and the id: names are per namespace"
    if "must be empty" in stderr:
        return "Remove its tasks, containers, images and leases first"
    return ""


# ---- what ctr lists ------------------------------------------------------------------------

@dataclass(frozen=True)
class Namespace:
    """A containerd namespace: a name space for images, containers and snapshots (not a Linux namespace)."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Image:
    """A name pointing at a manifest digest; the bytes are blobs in the content store."""

    ref: str
    type: str
    digest: str
    size: str
    platforms: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Container:
    """Metadata only: a spec, an image, a snapshot key, a runtime. Nothing runs until a task starts."""

    id: str
    image: str          # "" when the client gave none (Docker 20.10 does not)
    runtime: str


@dataclass(frozen=True)
class Task:
    """The live side of a container: its init process, as the shim reports it."""

    id: str
    pid: int
    status: str         # CREATED, RUNNING, PAUSED, STOPPED


@dataclass(frozen=True)
class Snapshot:
    """A filesystem the snapshotter keeps: Committed (an unpacked layer) or Active (writable)."""

    key: str
    parent: str
    kind: str


@dataclass(frozen=True)
class Blob:
    """One blob of the content store, by digest: a manifest, a config or a compressed layer."""

    digest: str
    size: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lease:
    """A lease keeps content and snapshots from the garbage collector while a client works."""

    id: str
    created: str
    labels: dict[str, str] = field(default_factory=dict)


def table(text: str, columns: list[str]) -> list[dict[str, str]]:
    """Rows of a `ctr ... ls` table as dicts, cut at the header's column positions.

    ctr aligns its tables with Go's tabwriter: padded with spaces, every cell of a column starts
    where its header starts (cells may hold spaces: "2.0 MiB"). `content ls` pads with tabs
    instead; there the tabs separate the cells.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header, rows = lines[0], lines[1:]
    if "\t" in header:
        return [dict(zip(columns, [c.strip() for c in re.split(r"\t+", row)] + [""] * len(columns)))
                for row in rows]
    starts, pos = [], 0
    for col in columns:
        at = header.find(col, pos)
        if at < 0:
            raise LabError("ctr printed a table this module does not know",
                           f"no column {col!r} in {header.strip()!r}", "")
        starts.append(at)
        pos = at + len(col)
    ends = starts[1:] + [None]
    return [{col: row[a:b].strip() for col, a, b in zip(columns, starts, ends)} for row in rows]


def labels(text: str) -> dict[str, str]:
    """ctr's label column ("k=v,k2=v2", or "-" for none) as a dict."""
    if text in ("", "-"):
        return {}
    return dict(pair.split("=", 1) if "=" in pair else (pair, "") for pair in text.split(","))


def namespaces() -> list[Namespace]:
    """`ctr namespaces ls`."""
    rows = table(ctr("namespaces", "ls"), ["NAME", "LABELS"])
    return [Namespace(r["NAME"], labels(r["LABELS"])) for r in rows]


def images(namespace: str) -> list[Image]:
    """`ctr -n NS images ls`."""
    rows = table(ctr("images", "ls", namespace=namespace), ["REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS"])
    return [Image(r["REF"], r["TYPE"], r["DIGEST"], r["SIZE"], tuple(p for p in r["PLATFORMS"].split(",") if p),
                  labels(r["LABELS"])) for r in rows]


def containers(namespace: str) -> list[Container]:
    """`ctr -n NS containers ls`."""
    rows = table(ctr("containers", "ls", namespace=namespace), ["CONTAINER", "IMAGE", "RUNTIME"])
    return [Container(r["CONTAINER"], "" if r["IMAGE"] == "-" else r["IMAGE"], r["RUNTIME"]) for r in rows]


def tasks(namespace: str) -> list[Task]:
    """`ctr -n NS tasks ls`."""
    rows = table(ctr("tasks", "ls", namespace=namespace), ["TASK", "PID", "STATUS"])
    return [Task(r["TASK"], int(r["PID"]), r["STATUS"]) for r in rows]


def snapshots(namespace: str) -> list[Snapshot]:
    """`ctr -n NS snapshots ls` (the default snapshotter: overlayfs)."""
    rows = table(ctr("snapshots", "ls", namespace=namespace), ["KEY", "PARENT", "KIND"])
    return [Snapshot(r["KEY"], r["PARENT"], r["KIND"]) for r in rows]


def content(namespace: str) -> list[Blob]:
    """`ctr -n NS content ls`."""
    rows = table(ctr("content", "ls", namespace=namespace), ["DIGEST", "SIZE", "AGE", "LABELS"])
    return [Blob(r["DIGEST"], r["SIZE"], labels(r["LABELS"])) for r in rows]


def leases(namespace: str) -> list[Lease]:
    """`ctr -n NS leases ls`."""
    rows = table(ctr("leases", "ls", namespace=namespace), ["ID", "CREATED AT", "LABELS"])
    return [Lease(r["ID"], r["CREATED AT"], labels(r["LABELS"])) for r in rows]


def version() -> dict[str, str]:
    """`ctr version`: the client's and the server's version."""
    found, side = {}, None
    for line in ctr("version").splitlines():
        if line.strip() in ("Client:", "Server:"):
            side = line.strip()[:-1].lower()
        elif side and line.strip().startswith("Version:"):
            found[side] = line.split(":", 1)[1].strip()
    return found


def task(namespace: str, task_id: str) -> Task:
    """The task `task_id` of `namespace`, or a LabError naming what exists."""
    found = {t.id: t for t in tasks(namespace)}
    if task_id not in found:
        raise LabError(f"No task {task_id!r} in containerd namespace {namespace!r}",
                       f"tasks there: {', '.join(sorted(found)) or 'none'}",
                       "Start it first (`ctr -n NS tasks start -d ID`), or check the namespace")
    return found[task_id]


def container_info(namespace: str, container_id: str) -> dict:
    """`ctr -n NS containers info ID`: the container's record (spec, image, snapshot key, labels)."""
    return json.loads(ctr("containers", "info", container_id, namespace=namespace))


def snapshot_info(namespace: str, key: str) -> dict:
    """`ctr -n NS snapshots info KEY`."""
    return json.loads(ctr("snapshots", "info", key, namespace=namespace))


def lineage(namespace: str, key: str) -> list[Snapshot]:
    """The snapshot `key` and its parents, top first: the order of overlayfs's upper and lower dirs."""
    by_key = {s.key: s for s in snapshots(namespace)}
    chain = []
    while key:
        if key not in by_key:
            raise LabError(f"No snapshot {key!r} in containerd namespace {namespace!r}", "",
                           "List them with `ctr -n NS snapshots ls`")
        chain.append(by_key[key])
        key = by_key[key].parent
    return chain


# ---- mounts --------------------------------------------------------------------------------
# mountinfo has one parser, procfs's; lesson 03 calls it as ctr.parse_mountinfo_line(line) and
# reads overlay's mount.upperdir, .workdir and .lowerdirs.
Mount, parse_mountinfo_line = procfs.Mount, procfs.parse_mountinfo_line


def parse_mount_command(line: str) -> Mount:
    """One line of `ctr snapshots mounts`: `mount -t TYPE SOURCE TARGET -o OPTIONS`."""
    words = line.split()
    if len(words) != 7 or words[:2] != ["mount", "-t"] or words[5] != "-o":
        raise LabError("ctr printed a mount line this module does not know", repr(line), "")
    # A mount(2) request, not a mount yet: no ids. Its -o is the filesystem's data, which
    # mountinfo shows as super options once it is mounted.
    return Mount(mount_id=0, parent_id=0, major_minor="", root="", point=words[4], options="", optional="",
                 fstype=words[2], source=words[3], super_options=words[6])


def snapshot_mounts(namespace: str, key: str, target: str = "/mnt") -> Mount:
    """`ctr -n NS snapshots mounts TARGET KEY`: how containerd would mount snapshot `key`."""
    lines = ctr("snapshots", "mounts", target, key, namespace=namespace).strip().splitlines()
    if len(lines) != 1:
        raise LabError(f"Snapshot {key!r} has {len(lines)} mounts", "expected one", "")
    return parse_mount_command(lines[0])


def mounts_at(target: str, mountinfo: str | None = None) -> list[Mount]:
    """Every mount whose mount point is `target`, read from /proc/self/mountinfo (or from `mountinfo`)."""
    return [m for m in procfs.mounts(text=mountinfo) if m.point == target]


def bundle(namespace: str, container_id: str) -> Path:
    """The task's bundle directory in the lab containerd's state: config.json, rootfs, address."""
    return TASK_STATE / namespace / container_id


def rootfs_mount(namespace: str, container_id: str, mountinfo: str | None = None) -> Mount:
    """The overlay mounted at a running task's `rootfs`, as the kernel reports it."""
    target = str(bundle(namespace, container_id) / "rootfs")
    found = mounts_at(target, mountinfo)
    if not found:
        raise LabError(f"Nothing is mounted at {target}",
                       "the task is not running, or it is not a containerd-managed rootfs "
                       "(Docker 20.10 mounts its own overlay2 and hands containerd the path)",
                       "Start the task first, and check the namespace and id")
    return found[-1]        # the last one mounted there is the one in use


# ---- processes: the shim -------------------------------------------------------------------
# /proc/PID has one reader, procfs; lesson 03 calls these as ctr.cmdline(pid), ctr.parent_pid(pid), ...
cmdline, parent_pid, alive, started, running_for = (procfs.cmdline, procfs.parent_pid, procfs.alive,
                                                    procfs.started, procfs.running_for)


@dataclass(frozen=True)
class Shim:
    """A containerd-shim-runc-v2 process: it owns a task's init and answers containerd on its socket."""

    pid: int
    ppid: int
    namespace: str
    id: str             # the shim's id: the container's, or a pod sandbox's for CRI pods
    socket: str         # the ttrpc socket containerd dials

    @property
    def argv(self) -> list[str]:
        return cmdline(self.pid)


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1] if name in argv[:-1] else ""


def shim(namespace: str, task_id: str) -> Shim:
    """The shim that owns task `task_id`: the parent of the task's init process."""
    init = task(namespace, task_id).pid
    pid = parent_pid(init)
    argv = cmdline(pid)
    if not argv or not argv[0].endswith(SHIM):
        raise LabError(f"The parent of task {task_id!r} (pid {init}) is not a shim",
                       f"pid {pid} runs {' '.join(argv) or '(gone)'}", "")
    ns, sid = _flag(argv, "-namespace"), _flag(argv, "-id")
    address = (bundle(ns, sid) / "address")
    sock = address.read_text().strip() if address.exists() else ""
    return Shim(pid, parent_pid(pid), ns, sid, sock.removeprefix("unix://"))


def socket_peers(path: str) -> list[int]:
    """Pids of the processes connected to the unix socket listening at `path` (via sock_diag)."""
    from concurrent.futures import ThreadPoolExecutor

    # pyroute2 runs an asyncio loop of its own, which cannot start inside a notebook's running
    # loop: ask from a worker thread, which has none.
    with ThreadPoolExecutor(1) as pool:
        found = pool.submit(_unix_sockets).result()
    peers = {peer for name, peer in found if name == path}
    peers.discard(None)
    return sorted(inventory.socket_holders(peers))


def _unix_sockets() -> list[tuple[str | None, int | None]]:
    """(bound path, peer inode) of every unix socket, from the kernel's sock_diag netlink."""
    import socket as so

    from pyroute2.netlink.diag import DiagSocket

    with DiagSocket() as diag:
        diag.bind()
        return [(m.get_attr("UNIX_DIAG_NAME"), m.get_attr("UNIX_DIAG_PEER"))
                for m in diag.get_sock_stats(family=so.AF_UNIX)]


# ---- making and removing -------------------------------------------------------------------

def pull(namespace: str, ref: str, plain_http: bool = True) -> Image:
    """`ctr -n NS images pull [--plain-http] REF`: fetch an image (from the lab registry) and unpack it."""
    if not ref.startswith(config.REGISTRY + "/"):
        raise LabError(f"Refusing to pull {ref!r}", "the course never pulls from the internet",
                       f"Pull from the lab registry: {config.REGISTRY}/labkit/busybox:latest")
    ctr("images", "pull", *(["--plain-http"] if plain_http else []), ref, namespace=namespace, timeout=120)
    return next(i for i in images(namespace) if i.ref == ref)


def namespace_cgroups(namespace: str) -> list[Path]:
    """The cgroup directories containerd's runc makes for a namespace: /sys/fs/cgroup/[*/]NS."""
    found = [p for p in CGROUP_ROOT.glob(f"*/{namespace}") if p.is_dir()]
    if (CGROUP_ROOT / namespace).is_dir():
        found.append(CGROUP_ROOT / namespace)
    return sorted(found)


def remove_namespace(namespace: str) -> list[str]:
    """Empty a containerd namespace and remove it, with its cgroups and runc root; what went.

    Order matters: a task holds its container, a container holds its snapshot, images and
    leases hold content and snapshots; containerd refuses to remove a namespace that is not empty.
    """
    if namespace in ("moby", config.K8S_NAMESPACE):
        raise LabError(f"Refusing to remove namespace {namespace!r}", "the lab dockerd or the CRI owns it",
                       "Remove their objects through Docker or the CRI")
    gone: list[str] = []
    if namespace in {n.name for n in namespaces()}:
        gone += _empty_and_remove(namespace)
    gone += [f"shim {pid}" for pid in _stop_stray_shims(namespace)]
    # runc made a group per hierarchy (v1 controllers, the v2 mount of a hybrid machine, or the one
    # v2 tree), and the shim's runc root stays as an empty directory. All may also be left from an
    # earlier removal that did not know about them.
    for d in namespace_cgroups(namespace):
        if cgroups.remove_dir(d, timeout=10):     # busy until the shim has removed its task's group
            gone.append(str(d))
    try:
        (RUNC_ROOT / namespace).rmdir()
        gone.append(str(RUNC_ROOT / namespace))
    except OSError:
        pass
    return gone


def shims(namespace: str | None = None) -> list[int]:
    """Pids of the lab containerd's shims (of `namespace` only, when given), read from their command
    lines: `containerd-shim-runc-v2 -namespace NS -id ID -address SOCKET`."""
    found = []
    for pid in procfs.pids():
        argv = procfs.cmdline(pid)                 # [] once it is gone
        if not argv or not Path(argv[0]).name.startswith("containerd-shim"):
            continue
        if any(str(ADDRESS) in arg for arg in argv) and (namespace is None or _flag(argv, "-namespace") == namespace):
            found.append(pid)
    return found


def _stop_stray_shims(namespace: str, grace: float = 2.0) -> list[int]:
    """Shims of `namespace` still alive once its tasks are gone; killed after `grace` s.

    A lesson killed during `ctr run` can leave a shim that was still starting when the tasks were
    listed: it serves no task, and would live on. Its command line names the namespace.
    """
    import os
    import signal
    import time

    deadline = time.monotonic() + grace
    while (left := shims(namespace)) and time.monotonic() < deadline:
        time.sleep(0.1)            # a shim whose last task was deleted exits by itself
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def _empty_and_remove(namespace: str) -> list[str]:
    gone = []
    for t in tasks(namespace):
        ctr("tasks", "delete", "--force", t.id, namespace=namespace)
        gone.append(f"task {t.id}")
    for c in containers(namespace):
        ctr("containers", "delete", c.id, namespace=namespace)
        gone.append(f"container {c.id}")
    refs = [i.ref for i in images(namespace)]
    if refs:
        ctr("images", "rm", "--sync", *refs, namespace=namespace)
        gone += [f"image {r}" for r in refs]
    for lease in leases(namespace):
        ctr("leases", "rm", "--sync", lease.id, namespace=namespace)
        gone.append(f"lease {lease.id}")
    for _ in range(20):         # what the collector left: children before parents
        snaps = snapshots(namespace)
        if not snaps:
            break
        parents = {s.parent for s in snaps}
        for s in snaps:
            if s.key not in parents:
                ctr("snapshots", "rm", s.key, namespace=namespace)
                gone.append(f"snapshot {s.key}")
    blobs = [b.digest for b in content(namespace)]
    if blobs:
        ctr("content", "rm", *blobs, namespace=namespace)
        gone += [f"blob {d}" for d in blobs]
    # Not `--cgroup`: on pure v2 containerd 1.6 fails there ("cgroups: invalid group path": it loads
    # the unified group by the bare name, without a leading "/"), and on v1 it gives up at once on a
    # group a killed task still holds. remove_namespace removes the groups, waiting while they are busy.
    ctr("namespaces", "remove", namespace)
    gone.append(f"namespace {namespace}")
    return gone
