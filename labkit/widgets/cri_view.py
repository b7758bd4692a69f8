"""Lesson 04's diagrams: the kubelet before and after dockershim, and a live pod's anatomy.

`dockershim()` is drawn from a fixed description. `anatomy(cri, pod_id)` reads a running
pod from the runtime (PodSandboxStatus, ListContainers, ContainerStatus) and from /proc
(each process's namespaces by inode, its parent), and draws what it found.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import graphviz

from labkit import config
from labkit.kernel import procfs

NAMESPACES = ("net", "ipc", "uts", "pid", "mnt", "cgroup", "user")
_GRAPH = {"fontname": "Helvetica", "nodesep": "0.3", "ranksep": "0.45"}
_NODE = {"fontname": "Helvetica", "fontsize": "11", "style": "filled,rounded", "shape": "box", "fillcolor": "#eef4fb"}
_EDGE = {"fontname": "Helvetica", "fontsize": "9", "color": "#555555"}

# -- before and after dockershim ----------------------------------------------------------------

# The kubelet has spoken only CRI since Kubernetes 1.6 made it the default: dockershim was a CRI
# server compiled into the kubelet, beside remote runtimes on a socket. 1.24 removed dockershim only.
BEFORE = [  # (node, label, style)
    ("kubelet", "kubelet", ""),
    ("dockershim", "dockershim\n(a CRI server compiled\ninto the kubelet)", "dashed"),
    ("dockerd", "dockerd", ""),
    ("containerd", "containerd", ""),
    ("remote", "containerd's CRI plugin\nor CRI-O\n(a remote runtime)", ""),
    ("shim", "containerd-shim", ""),
    ("runc", "runc", ""),
]
BEFORE_EDGES = [("kubelet", "dockershim", "CRI, in-process"), ("kubelet", "remote", "CRI gRPC\nunix socket"),
                ("dockershim", "dockerd", "Docker Engine API\n/var/run/docker.sock"),
                ("dockerd", "containerd", "gRPC"), ("containerd", "shim", ""), ("shim", "runc", "exec"),
                ("remote", "runc", "via a shim\nor conmon")]

AFTER = [
    ("kubelet", "kubelet", ""),
    ("cri", "containerd\nwith its CRI plugin\n(this lesson: you are the kubelet)", "bold"),
    ("crio", "CRI-O", ""),
    ("cridockerd", "cri-dockerd\n(out of tree, Mirantis)", "dashed"),
    ("dockerd", "dockerd", "dashed"),
    ("shim", "containerd-shim-runc-v2\n(one per pod)", ""),
    ("conmon", "conmon\n(one per container)", ""),
    ("runc", "runc / crun", ""),
]
AFTER_EDGES = [("kubelet", "cri", "CRI gRPC\nunix socket"), ("kubelet", "crio", "CRI gRPC"),
               ("kubelet", "cridockerd", "CRI gRPC"), ("cridockerd", "dockerd", "Engine API"),
               ("dockerd", "cri", "gRPC"), ("cri", "shim", "ttrpc"), ("crio", "conmon", "fork"),
               ("shim", "runc", "exec"), ("conmon", "runc", "exec")]


def dockershim() -> graphviz.Digraph:
    """The kubelet's paths to a container from Kubernetes 1.6 to 1.23 (dockershim or a remote CRI runtime)
    and since 1.24 (remote CRI runtimes only)."""
    g = graphviz.Digraph("dockershim", graph_attr={**_GRAPH, "rankdir": "TB", "compound": "true"},
                         node_attr=_NODE, edge_attr=_EDGE)
    for key, title, nodes, edges, color in (
        ("before", "Kubernetes 1.6 to 1.23: dockershim in the kubelet, or a remote runtime", BEFORE, BEFORE_EDGES, "#fbeeee"),
        ("after", "since Kubernetes 1.24: dockershim removed, remote runtimes only", AFTER, AFTER_EDGES, "#eefbef"),
    ):
        with g.subgraph(name=f"cluster_{key}") as c:
            c.attr(label=title, style="rounded,filled", fillcolor=color, color="#999999", fontname="Helvetica")
            for node, label, style in nodes:
                c.node(f"{key}_{node}", label, style=f"filled,rounded{',' + style if style else ''}")
            for a, b, label in edges:
                c.edge(f"{key}_{a}", f"{key}_{b}", label=label,
                       style="dashed" if "dashed" in dict((n, s) for n, _, s in nodes).get(a, "") else "solid")
    return g


# -- a live pod -----------------------------------------------------------------------------------

@dataclass
class Proc:
    """One process of the pod: the pause container's or a container's first process."""

    role: str              # "pause" or the container's name
    pid: int
    command: str
    ns: dict[str, int]     # namespace -> inode of /proc/<pid>/ns/<namespace>
    parent: int


@dataclass
class PodAnatomy:
    """What a running pod is made of, read from the runtime and from /proc."""

    name: str
    pod_id: str
    ip: str
    netns: str
    veth: str
    shim: Proc
    procs: list[Proc] = field(default_factory=list)
    host: dict[str, int] = field(default_factory=dict)

    def verdict(self, ns: str) -> str:
        """'host' (the node's own), 'pod' (one, shared by every process of the pod), 'own' (one each)."""
        inodes = [p.ns[ns] for p in self.procs]
        if all(i == self.host[ns] for i in inodes):
            return "host"
        if len(set(inodes)) == 1:
            return "pod"
        if len(set(inodes)) == len(inodes):
            return "own"
        return "mixed"

    def table(self) -> str:
        """The namespaces of each process by inode, and whether the pod shares them."""
        roles = [p.role for p in self.procs]
        width = max(10, *(len(r) for r in roles))
        head = f"{'namespace':<10} {'node':<{width}} " + " ".join(f"{r:<{width}}" for r in roles) + "  shared?"
        rows = [head]
        for ns in NAMESPACES:
            cells = " ".join(f"{p.ns[ns]:<{width}}" for p in self.procs)
            rows.append(f"{ns:<10} {self.host[ns]:<{width}} {cells}  {self._say(ns)}")
        return "\n".join(rows)

    def _say(self, ns: str) -> str:
        # containerd gives each container a cgroup namespace on a cgroup v2 node only: the row states
        # that rule, checked on this node, so it reads the same on every node that follows it.
        if ns != "cgroup":
            return _SAY[self.verdict(ns)]
        from labkit import cgroups

        expected = "own" if cgroups.mode() == "v2" else "host"
        verdict = self.verdict(ns)
        return CGROUP_RULE if verdict == expected else f"{_SAY[verdict]} (not the rule: {CGROUP_RULE})"

    def graph(self) -> graphviz.Digraph:
        """The pod drawn: shim, pause and containers, the namespaces they share, the pod's network."""
        g = graphviz.Digraph("pod", graph_attr={**_GRAPH, "rankdir": "TB"}, node_attr=_NODE, edge_attr=_EDGE)
        g.node("shim", f"containerd-shim-runc-v2\npid {self.shim.pid}", fillcolor="#f4f4f4")
        shared = [n for n in NAMESPACES if self.verdict(n) == "pod"]
        own = [n for n in NAMESPACES if self.verdict(n) in ("own", "mixed")]
        node_ns = [n for n in NAMESPACES if self.verdict(n) == "host"]
        with g.subgraph(name="cluster_pod") as pod:
            pod.attr(label=f"pod {self.name}  ·  {self.ip}", style="rounded", color="#3366aa", fontname="Helvetica")
            for p in self.procs:
                fill = "#fff4d6" if p.role == "pause" else "#eef4fb"
                pod.node(f"p{p.pid}", f"{p.role}\n{p.command[:28]}\npid {p.pid}", fillcolor=fill)
                if own:
                    pod.node(f"own{p.pid}", "its own\n" + "\n".join(f"{n}:[{p.ns[n]}]" for n in own),
                             shape="note", style="filled", fillcolor="#f2f2f2", fontsize="9")
                    pod.edge(f"p{p.pid}", f"own{p.pid}", arrowhead="none", style="dotted")
            pod.node("shared", "shared by the whole pod\n" + "\n".join(f"{n}:[{self.procs[0].ns[n]}]" for n in shared),
                     shape="ellipse", style="filled", fillcolor="#dff0d8")
            pod.node("eth0", f"eth0 {self.ip}\nin {os.path.basename(self.netns)}", shape="cds", style="filled",
                     fillcolor="#dff0d8", fontsize="9")
            pod.edge("shared", "eth0", arrowhead="none", style="dotted")
        g.node("node_ns", "the node's own\n" + ", ".join(node_ns), shape="ellipse", style="filled,dashed",
               fillcolor="#f7f7f7", fontsize="9")
        g.node("bridge", f"{config.CNI_BRIDGE}\n{config.CNI_GATEWAY}", shape="cds", style="filled", fillcolor="#eeeeee")
        for p in self.procs:
            g.edge("shim", f"p{p.pid}")
            g.edge(f"p{p.pid}", "shared", arrowhead="none", color="#77aa77")
        g.edge("eth0", "bridge", label=f"veth pair\n(host side {self.veth})", dir="both")
        return g

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {"image/svg+xml": self.graph().pipe(format="svg", encoding="utf-8"), "text/plain": self.table()}


_SAY = {"host": "the node's own", "pod": "one for the whole pod", "own": "one per process", "mixed": "mixed"}
CGROUP_RULE = "one per process on cgroup v2, else the node's"


def _proc(role: str, pid: int) -> Proc:
    return Proc(role, pid, " ".join(procfs.cmdline(pid)), namespaces(pid), procfs.parent_pid(pid))


def namespaces(pid: int | str) -> dict[str, int]:
    """The inode of each namespace of process `pid` (two processes share a namespace if it is equal)."""
    return {ns: os.stat(f"/proc/{pid}/ns/{ns}").st_ino for ns in NAMESPACES}


def anatomy(cri, pod_id: str) -> PodAnatomy:
    """Read a running pod: pause and containers from the runtime, their namespaces from /proc."""
    from labkit.cri import pb

    status = cri.pod_status(pod_id).status
    info = cri.pod_info(pod_id)
    procs = [_proc("pause", int(info["pid"]))]
    for c in sorted(cri.containers(pod_id), key=lambda c: c.created_at):
        if c.state == pb.CONTAINER_RUNNING:
            procs.append(_proc(c.metadata.name, cri.container_pid(c.id)))
    ifaces = info.get("cniResult", {}).get("Interfaces", {}) or {}
    netns = (ifaces.get("eth0") or {}).get("Sandbox", "")
    veth = next((n for n, v in ifaces.items() if not v.get("Sandbox") and n != config.CNI_BRIDGE), "")
    return PodAnatomy(name=status.metadata.name, pod_id=pod_id, ip=status.network.ip, netns=netns, veth=veth,
                      shim=_proc("shim", procs[0].parent), procs=procs, host=namespaces("self"))
