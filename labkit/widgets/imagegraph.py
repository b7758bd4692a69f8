"""An OCI image layout as the graph its digests make: index.json -> manifests -> config and layers.

Each node is one blob, named by its digest; a blob two images share is drawn once, which is
content addressing made visible. Each layer also shows the diff_id its config lists for it.
"""
from __future__ import annotations

import os

import graphviz

from labkit.oci import layout as oci


def _short(digest: str) -> str:
    return digest[:19] + "…"


def _id(digest: str) -> str:
    return digest.replace(":", "_")       # graphviz reads 'a:b' as node a, port b


def _size(n: int) -> str:
    return f"{n} B" if n < 10_000 else f"{n / 1024:.0f} KiB"


def image_graph(path: str | os.PathLike, refs: list[str] | None = None) -> graphviz.Digraph:
    """The graph of the layout at `path` (every tag, or only `refs`), each blob once, by digest."""
    lay = oci.Layout.open(path)
    tags = lay.tags()
    wanted = sorted(tags) if refs is None else list(refs)
    g = graphviz.Digraph("image", graph_attr={"rankdir": "LR", "fontname": "Helvetica", "nodesep": "0.25",
                                              "ranksep": "0.6", "ordering": "out"},
                         node_attr={"fontname": "Helvetica", "fontsize": "10", "shape": "box",
                                    "style": "filled,rounded", "fillcolor": "#eef4fb"},
                         edge_attr={"fontname": "Helvetica", "fontsize": "9", "color": "#555555"})
    g.node("index", f"index.json\n{len(tags)} tag{'s' * (len(tags) != 1)}", shape="folder", fillcolor="#e8e8e8")
    drawn: set[str] = set()
    for ref in wanted:
        mdesc = lay.resolve(ref)
        manifest = lay.read_json(mdesc)
        g.edge("index", _id(mdesc["digest"]), label=f"tag {ref}")
        if mdesc["digest"] in drawn:
            continue
        drawn.add(mdesc["digest"])
        g.node(_id(mdesc["digest"]), f"manifest\n{_short(mdesc['digest'])}\n{_size(mdesc['size'])}", fillcolor="#d7e8fa")
        cdesc = manifest["config"]
        cfg = lay.read_json(cdesc)
        if cdesc["digest"] not in drawn:
            drawn.add(cdesc["digest"])
            g.node(_id(cdesc["digest"]), f"config\n{_short(cdesc['digest'])}\n{_size(cdesc['size'])}\n"
                                    f"{cfg.get('os', '?')}/{cfg.get('architecture', '?')}", fillcolor="#fff3d6")
        g.edge(_id(mdesc["digest"]), _id(cdesc["digest"]), label="config")
        diff_ids = cfg.get("rootfs", {}).get("diff_ids", [])
        for i, ldesc in enumerate(manifest["layers"]):
            kind = ldesc["mediaType"].rsplit(".", 1)[-1]        # 'tar' or 'tar+gzip'
            if ldesc["digest"] not in drawn:
                drawn.add(ldesc["digest"])
                # The blob's own digest names it; the config's diff_id names its uncompressed tar.
                said = f"\ndiff_id {_short(diff_ids[i])}" if i < len(diff_ids) else "\nno diff_id in the config!"
                g.node(_id(ldesc["digest"]), f"layer ({kind})\n{_short(ldesc['digest'])}{said}\n{_size(ldesc['size'])}",
                       fillcolor="#e3f4e1")
            g.edge(_id(mdesc["digest"]), _id(ldesc["digest"]), label=f"layers[{i}]")
    return g
