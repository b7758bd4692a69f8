"""containerd's insides, drawn from the live system.

namespaces → images, containers, tasks → snapshots, and the shims that own the tasks.
`gather()` reads it all through `ctr` and /proc, `draw()` turns it into a graphviz diagram,
`describe()` into text that names no pid (so it can be compared from run to run).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import graphviz

from labkit import config
from labkit import containerd as ctr
from labkit.errors import LabError


@dataclass
class ContainerView:
    """One container with what hangs off it: its task, the task's shim, its rootfs."""

    container: ctr.Container
    task: ctr.Task | None = None
    shim: ctr.Shim | None = None
    snapshots: list[ctr.Snapshot] = field(default_factory=list)     # top (Active) first
    rootfs: str = ""        # a path given by the client when containerd manages no snapshot


@dataclass
class NamespaceView:
    """One containerd namespace: its images (and the snapshot each unpacks to), its containers."""

    name: str
    images: list[ctr.Image] = field(default_factory=list)
    unpacked: dict[str, str] = field(default_factory=dict)          # image ref -> top snapshot key
    containers: list[ContainerView] = field(default_factory=list)


@dataclass
class System:
    """What the lab containerd holds, as far as it was asked for."""

    containerd_pid: int | None
    socket: str
    namespaces: list[NamespaceView]


def short(name: str) -> str:
    """A 64-hex id or digest cut to 12 characters, as Docker shows ids."""
    m = re.fullmatch(r"(sha256:)?([0-9a-f]{64})", name)
    return f"{m.group(1) or ''}{m.group(2)[:12]}" if m else name


def image_snapshots(namespace: str) -> dict[str, str]:
    """Image ref -> the chain id of its top layer's snapshot, read from the GC's reference labels.

    The manifest blob names its config (`containerd.io/gc.ref.content.config`); the config blob
    names the snapshot it was unpacked to (`containerd.io/gc.ref.snapshot.<snapshotter>`).
    """
    blobs = {b.digest: b.labels for b in ctr.content(namespace)}
    found = {}
    for image in ctr.images(namespace):
        config_digest = blobs.get(image.digest, {}).get("containerd.io/gc.ref.content.config", "")
        refs = blobs.get(config_digest, {})
        top = next((v for k, v in refs.items() if k.startswith("containerd.io/gc.ref.snapshot.")), "")
        if top:
            found[image.ref] = top
    return found


def gather(namespaces: list[str] | None = None, only: set[str] | None = None) -> System:
    """Read the live containerd: the given namespaces (all by default), containers in `only` (all)."""
    from labkit.engine import containerd as engine

    names = [n.name for n in ctr.namespaces()]
    wanted = names if namespaces is None else [n for n in namespaces if n in names]
    views = []
    for ns in wanted:
        view = NamespaceView(ns, ctr.images(ns), image_snapshots(ns))
        running = {t.id: t for t in ctr.tasks(ns)}
        snaps = {s.key: s for s in ctr.snapshots(ns)}
        for c in ctr.containers(ns):
            if only is not None and c.id not in only:
                continue
            cv = ContainerView(c, running.get(c.id))
            info = ctr.container_info(ns, c.id)
            key = info.get("SnapshotKey", "")
            while key in snaps:
                cv.snapshots.append(snaps[key])
                key = snaps[key].parent
            if not cv.snapshots:
                cv.rootfs = info.get("Spec", {}).get("root", {}).get("path", "")
            if cv.task and cv.task.status in ("RUNNING", "PAUSED", "CREATED"):
                try:
                    cv.shim = ctr.shim(ns, c.id)
                except LabError:
                    pass        # it exited between the two reads
            view.containers.append(cv)
        views.append(view)
    return System(engine.daemon().pid(), str(config.CONTAINERD_SOCK), views)


_STYLE = {
    "graph": {"rankdir": "LR", "fontname": "Helvetica", "nodesep": "0.25", "ranksep": "0.5"},
    "node": {"fontname": "Helvetica", "fontsize": "10", "style": "filled,rounded", "shape": "box",
             "fillcolor": "#eef4fb"},
    "edge": {"fontname": "Helvetica", "fontsize": "8", "color": "#555555"},
}


def _id(*parts: str) -> str:
    return "_".join(re.sub(r"\W", "_", p) for p in parts)


def draw(system: System) -> graphviz.Digraph:
    """The diagram of `system`: one cluster per namespace, the shims outside them, as processes."""
    g = graphviz.Digraph("containerd", graph_attr=_STYLE["graph"], node_attr=_STYLE["node"],
                         edge_attr=_STYLE["edge"])
    pid = f"pid {system.containerd_pid}" if system.containerd_pid else "not running"
    g.node("containerd", f"containerd\n{pid}\n{system.socket}", fillcolor="#d6e6f7")
    for ns in system.namespaces:
        with g.subgraph(name=f"cluster_{_id(ns.name)}") as c:
            c.attr(label=f"namespace {ns.name}", style="dashed", color="#888888", fontname="Helvetica")
            drawn_snaps: set[str] = set()
            for image in ns.images:
                node = _id(ns.name, "img", image.ref)
                c.node(node, f"image\n{image.ref}", shape="note", style="filled", fillcolor="#fff5d6")
                top = ns.unpacked.get(image.ref)
                if top:
                    _snapshot(c, ns.name, top, "Committed", drawn_snaps)
                    c.edge(node, _id(ns.name, "snap", top), label="unpacked to")
            for cv in ns.containers:
                _container(g, c, ns, cv, drawn_snaps)
    return g


def _snapshot(c, ns: str, key: str, kind: str, drawn: set[str]) -> None:
    if key in drawn:
        return
    drawn.add(key)
    color = "#e3f4e1" if kind == "Active" else "#eeeeee"
    c.node(_id(ns, "snap", key), f"snapshot {short(key)}\n{kind}", shape="folder", style="filled",
           fillcolor=color)


def _container(g, c, ns: NamespaceView, cv: ContainerView, drawn: set[str]) -> None:
    cid = cv.container.id
    node = _id(ns.name, "ctr", cid)
    c.node(node, f"container\n{short(cid)}\n{cv.container.runtime}")
    if cv.container.image:
        img = _id(ns.name, "img", cv.container.image)
        c.edge(node, img, label="from", style="dotted", arrowhead="open")
    below = node
    for snap in cv.snapshots:
        _snapshot(c, ns.name, snap.key, snap.kind, drawn)
        c.edge(below, _id(ns.name, "snap", snap.key), label="rootfs" if below == node else "on")
        below = _id(ns.name, "snap", snap.key)
    if cv.rootfs:
        rootfs = _id(ns.name, "rootfs", cid)
        c.node(rootfs, f"rootfs (not a snapshot)\n…/{'/'.join(cv.rootfs.split('/')[-3:])}",
               shape="folder", style="filled,dashed", fillcolor="#ffffff")
        c.edge(node, rootfs, label="rootfs")
    if cv.task:
        task = _id(ns.name, "task", cid)
        c.node(task, f"task\npid {cv.task.pid} · {cv.task.status}", shape="ellipse", style="filled",
               fillcolor="#e3f4e1" if cv.task.status == "RUNNING" else "#f4e1e1")
        c.edge(node, task, label="runs as")
        if cv.shim:
            shim = _id("shim", str(cv.shim.pid))
            g.node(shim, f"{ctr.SHIM}\npid {cv.shim.pid} (parent: pid {cv.shim.ppid})", shape="component",
                   style="filled", fillcolor="#f3e8fb")
            g.edge("containerd", shim, label="ttrpc", style="dashed")
            g.edge(shim, task, label="owns, reaps")


def describe(system: System) -> str:
    """The same picture as text, without pids: what exists and what points at what."""
    lines = []
    for ns in system.namespaces:
        lines.append(f"namespace {ns.name}: {len(ns.images)} image(s), {len(ns.containers)} container(s)")
        for image in ns.images:
            top = ns.unpacked.get(image.ref)
            lines.append(f"  image {image.ref}" + (f" → snapshot {top}" if top else " (not unpacked)"))
        for cv in ns.containers:
            c = cv.container
            lines.append(f"  container {c.id}" + (f" from {c.image}" if c.image else " (no image in containerd)"))
            if cv.snapshots:
                kinds = [s.kind for s in cv.snapshots]
                lines.append(f"    rootfs: snapshot {cv.snapshots[0].key} ({kinds[0]}) "
                             f"on {len(kinds) - 1} {'/'.join(sorted(set(kinds[1:]))) or 'no'} layer(s)")
            elif cv.rootfs:
                lines.append(f"    rootfs: {cv.rootfs} (mounted by the client, no snapshot)")
            if cv.task:
                owner = f", owned by {ctr.SHIM} -id {cv.shim.id}" if cv.shim else ""
                lines.append(f"    task: {cv.task.status}{owner}")
            else:
                lines.append("    task: none (a container is only metadata until a task starts)")
    return "\n".join(lines)


def containerd_view(namespaces: list[str] | None = None, only: set[str] | None = None) -> graphviz.Digraph:
    """Draw the live lab containerd: `namespaces` (default all), containers in `only` (default all)."""
    return draw(gather(namespaces, only))
