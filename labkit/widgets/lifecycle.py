"""The OCI runtime lifecycle as a state machine, the container's current state highlighted.

Drawn from the runtime's own answer (`runc state ID`), so the picture is what runc says, not
what the lesson expects. The spec's states are creating, created, running and stopped; runc adds
paused (dashed). "deleted" stands for "the runtime knows no such container any more".
"""
from __future__ import annotations

import graphviz

from labkit.errors import LabError

STATES = ("creating", "created", "running", "stopped")
EXTRA = ("paused", "deleted")
EDGES = [
    ("start_", "creating", "create"),
    ("creating", "created", "set up;\ncreate returns"),
    ("created", "running", "start"),
    ("running", "stopped", "process exits\nor kill"),
    ("created", "stopped", "kill"),
    ("stopped", "deleted", "delete"),
    ("running", "paused", "pause / resume"),
]
HIGHLIGHT = {"fillcolor": "#ffd54f", "color": "#e65100", "penwidth": "2.5", "fontcolor": "#000000"}


def lifecycle_graph(status: str | None, title: str = "") -> graphviz.Digraph:
    """The state machine with `status` highlighted (None: the container is gone)."""
    current = "deleted" if status is None else status
    if current not in STATES + EXTRA:
        raise LabError(f"{status!r} is not a container status", "",
                       f"The runtime spec's states are {', '.join(STATES)} (runc adds paused)")
    g = graphviz.Digraph("lifecycle", graph_attr={"rankdir": "LR", "fontname": "Helvetica", "fontsize": "12",
                                                  "label": title, "labelloc": "t", "nodesep": "0.4"},
                         node_attr={"fontname": "Helvetica", "fontsize": "11", "shape": "box",
                                    "style": "filled,rounded", "fillcolor": "#eef4fb", "color": "#5b7aa6"},
                         edge_attr={"fontname": "Helvetica", "fontsize": "9", "color": "#555555"})
    g.node("start_", "", shape="point", width="0.15")
    for state in STATES + EXTRA:
        attrs = {"style": "filled,rounded,dashed"} if state in EXTRA else {}
        if state == current:
            attrs = {**attrs, **HIGHLIGHT}
        g.node(state, state, **attrs)
    for a, b, label in EDGES:
        dashed = {"style": "dashed", "dir": "both"} if "paused" in (a, b) else {}
        g.edge(a, b, label=label, **dashed)
    with g.subgraph() as s:           # keep paused under running, not off in a corner
        s.attr(rank="same")
        s.node("running"), s.node("paused")
    return g


def lifecycle(container_id: str, runtime=None, label: str | None = None) -> graphviz.Digraph:
    """The lifecycle diagram for `container_id`, its state read live from `runtime` (default: the lab's runc)."""
    from labkit.oci.runtime import Runtime

    rt = runtime or Runtime("runc")
    state = rt.state(container_id)
    status = None if state is None else state["status"]
    shown = label or (container_id if len(container_id) <= 24 else container_id[:12] + "…")
    said = "no such container" if status is None else f"status {status}"
    return lifecycle_graph(status, f"{rt.binary} state {shown}: {said}")
