"""The course map: the container ecosystem, each box linking to the lesson that opens it."""
from __future__ import annotations

import graphviz

from labkit.course import LESSONS

_BY_NUMBER = {ls.number: ls for ls in LESSONS}

# node id -> (label, lesson number, shape)
NODES = {
    "cli": ("docker CLI / SDK", "01", "box"),
    "dockerd": ("dockerd", "01", "box"),
    "kubelet": ("kubelet", "04", "box"),
    "containerd": ("containerd", "03", "box"),
    "cri_plugin": ("CRI plugin\n(in containerd)", "04", "box"),
    "crio": ("CRI-O", "04", "box"),
    "shim": ("containerd-shim-runc-v2", "03", "box"),
    "conmon": ("conmon", "04", "box"),
    "runc": ("runc", "06", "box"),
    "crun": ("crun", "06", "box"),
    "labrun": ("labrun\n(your own runtime)", "12", "box"),
    "kernel": ("Linux: namespaces [07] · cgroups [08] · filesystems [09]\nall of it by hand [10]", "07", "box3d"),
    "image_spec": ("OCI image spec", "05", "note"),
    "runtime_spec": ("OCI runtime spec", "06", "note"),
    "registry": ("registry\n(distribution spec)", "02", "cylinder"),
}

EDGES = [
    ("cli", "dockerd", "Engine API\n(unix socket)"),
    ("dockerd", "containerd", "gRPC"),
    ("kubelet", "cri_plugin", "CRI gRPC"),
    ("kubelet", "crio", "CRI gRPC"),
    ("cri_plugin", "containerd", ""),
    ("containerd", "shim", "ttrpc"),
    ("shim", "runc", "exec"),
    ("crio", "conmon", ""),
    ("conmon", "crun", "exec"),
    ("conmon", "runc", ""),
    ("runc", "kernel", "syscalls"),
    ("crun", "kernel", ""),
    ("labrun", "kernel", ""),
    ("containerd", "registry", "pull"),
    ("dockerd", "registry", "pull / push"),
]


def ecosystem() -> graphviz.Digraph:
    """The whole stack the course walks down and back up, as a graphviz diagram."""
    g = graphviz.Digraph("ecosystem", graph_attr={"rankdir": "TB", "fontname": "Helvetica", "nodesep": "0.35"},
                         node_attr={"fontname": "Helvetica", "fontsize": "11", "style": "filled,rounded",
                                    "fillcolor": "#eef4fb"},
                         edge_attr={"fontname": "Helvetica", "fontsize": "9", "color": "#555555"})
    for node, (label, number, shape) in NODES.items():
        ls = _BY_NUMBER[number]
        style = "filled" if shape != "box" else "filled,rounded"
        if node == "labrun":
            style += ",dashed"
        text = label if "[" in label else f"{label}\n[{number}]"
        # A lesson not written yet gets no link: the map never points at a missing notebook.
        link = {"URL": ls.filename} if ls.path.exists() else {}
        g.node(node, text, shape=shape, style=style, tooltip=f"Lesson {number}: {ls.title}"
               + ("" if link else " (being written)"), **link)
    with g.subgraph(name="cluster_docker") as c:
        c.attr(label="Docker", style="dashed", color="#999999")
        c.node("cli"), c.node("dockerd")
    with g.subgraph(name="cluster_k8s") as c:
        c.attr(label="Kubernetes node", style="dashed", color="#999999")
        c.node("kubelet")
    for a, b, label in EDGES:
        g.edge(a, b, label=label)
    g.edge("shim", "labrun", style="dashed", label="--runtime")
    for spec, targets in (("image_spec", ["containerd", "crio"]), ("runtime_spec", ["runc", "crun", "labrun"])):
        for t in targets:
            g.edge(spec, t, style="dotted", arrowhead="none", color="#8888cc")
    return g
