"""An image's layer stack, drawn from its real layers in the lab dockerd.

Each box is one layer: the build step that made it, its size, and its diff_id (the sha256 of
the uncompressed layer tar). Steps that only changed the config (CMD, LABEL, EXPOSE, ...) make
no layer and are listed on the config, whose sha256 is the image id in Docker's classic image store
(with the containerd image store the id is the manifest's digest). Given the tag it was pushed
as, each layer also shows the digest and size of its compressed blob in the lab registry.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import graphviz

from labkit import images
from labkit.engine import docker_client
from labkit.errors import LabError

# Instructions that write only the image config, never a layer.
_CONFIG_ONLY = re.compile(r"^(CMD|ENTRYPOINT|ENV|LABEL|EXPOSE|USER|VOLUME|STOPSIGNAL|HEALTHCHECK|SHELL|ONBUILD|"
                          r"ARG|MAINTAINER|WORKDIR)\b")
_FONT = "Courier"          # fixed width: the drawing's geometry depends only on text lengths
_OWN, _BASE, _CONFIG = "#dbe9f7", "#eeeeee", "#fff6d5"
_WIDTH = "4.6"             # inches, at least: the layers line up as a stack


@dataclass(frozen=True)
class Step:
    """One build step of an image: what ran, how much it added, and its layer (None: config only)."""

    instruction: str
    size: int
    diff_id: str | None


def tidy(created_by: str) -> str:
    """A history entry's CreatedBy as the Dockerfile line that made it."""
    text = created_by.strip()
    text = re.sub(r"\s*# buildkit$", "", text)
    # The legacy builder names copied content by its checksum: keep the start of it.
    text = re.sub(r"\b(file|dir|multi):([0-9a-f]{12})[0-9a-f]{52}\b", r"\1:\2…", text)
    if text.startswith("/bin/sh -c #(nop)"):
        return text.removeprefix("/bin/sh -c #(nop)").strip()
    if text.startswith("/bin/sh -c "):
        return "RUN " + text.removeprefix("/bin/sh -c ")
    if text and not re.match(r"^[A-Z]+ ", text):     # the legacy builder writes exec-form RUN bare
        return "RUN " + text
    return text or "(step not recorded)"


def stack(history: list[dict], diff_ids: list[str]) -> list[Step]:
    """Pair the Engine API's history (newest first, as it comes) with the image's diff_ids."""
    steps = [(tidy(h.get("CreatedBy", "")), int(h.get("Size") or 0)) for h in reversed(history)]
    makes_layer = [size > 0 or not _CONFIG_ONLY.match(text) for text, size in steps]
    if sum(makes_layer) != len(diff_ids):
        # The history does not say which steps made a layer: draw the layers without their steps.
        return [Step(f"layer {i + 1} (build step not recorded)", 0, d) for i, d in enumerate(diff_ids)]
    layers = iter(diff_ids)
    return [Step(text, size, next(layers) if made else None) for (text, size), made in zip(steps, makes_layer)]


def layers(image: str, base: str | None = None, pushed_as: str | None = None) -> graphviz.Digraph:
    """Draw `image`'s layer stack from the lab dockerd; grey out the layers it shares with `base`;
    with `pushed_as` ('repo:tag' in the lab registry), add each layer's compressed blob."""
    info = images.inspect(image)
    diff_ids = info["RootFS"].get("Layers") or []
    with docker_client().api as api:
        steps = stack(api.history(image), diff_ids)
    shared = set(images.inspect(base)["RootFS"].get("Layers") or []) if base else set()
    blobs = _blobs(pushed_as, len(diff_ids)) if pushed_as else []
    return draw(image, info["Id"], steps, shared, base, blobs)


def draw(image: str, image_id: str, steps: list[Step], shared: set[str], base: str | None,
         blobs: list[tuple[str, int]]) -> graphviz.Digraph:
    """The diagram itself, from data (`blobs`: (digest, size) per layer, bottom first)."""
    g = graphviz.Digraph("layers", graph_attr={"rankdir": "TB", "nodesep": "0.2", "ranksep": "0.12",
                                               "fontname": _FONT, "fontsize": "10"},
                         node_attr={"shape": "box", "style": "filled", "fontname": _FONT, "fontsize": "10"},
                         edge_attr={"fontname": _FONT, "fontsize": "9", "color": "#777777"})
    config_only = [s.instruction for s in steps if s.diff_id is None]
    lines = [image, f"image id {_short(image_id)}", "= sha256 of this config", "(Docker's classic store)", "",
             "config only (no layer):"]
    lines += [f"  {_clip(t, 44)}" for t in config_only[-6:]] or ["  (none)"]
    if len(config_only) > 6:
        lines.insert(6, f"  ... {len(config_only) - 6} earlier")
    g.node("config", "\\l".join(lines) + "\\l", shape="note", fillcolor=_CONFIG)
    layered = [s for s in steps if s.diff_id is not None]
    names = [f"l{i}" for i in range(len(layered))]
    with g.subgraph(name="cluster_base") as c:
        c.attr(label=f"from {base}" if base and shared else "", style="dashed", color="#999999")
        for i, step in enumerate(layered):
            if step.diff_id in shared:
                c.node(names[i], _layer_label(i, step, blobs), fillcolor=_BASE, width=_WIDTH)
    for i, step in enumerate(layered):
        if step.diff_id not in shared:
            g.node(names[i], _layer_label(i, step, blobs), fillcolor=_OWN, width=_WIDTH)
    if names:
        g.edge("config", names[-1], label=" rootfs.diff_ids", style="dashed")
    for upper, lower in zip(reversed(names), list(reversed(names))[1:]):
        g.edge(upper, lower, arrowhead="none", penwidth="2")       # a layer sits on the one below
    return g


def human(size: int) -> str:
    """A byte count as Docker prints it (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "B" else f"{size:.3g} {unit}"
        size /= 1000
    return f"{size} B"


def _layer_label(i: int, step: Step, blobs: list[tuple[str, int]]) -> str:
    lines = [f"layer {i + 1}: {_clip(step.instruction, 52)}", f"{human(step.size)} · diff_id {_short(step.diff_id or '')}"]
    if i < len(blobs):
        digest, size = blobs[i]
        lines.append(f"blob {_short(digest)} ({human(size)} gzip)")
    return "\\l".join(lines) + "\\l"


def _short(digest: str) -> str:
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}…" if hexpart else digest[:12]


def _clip(text: str, width: int) -> str:
    text = text.replace("\\", "\\\\")
    return text if len(text) <= width else text[: width - 1] + "…"


def _blobs(pushed_as: str, count: int) -> list[tuple[str, int]]:
    from labkit.oci import registry

    repo, _, tag = pushed_as.rpartition(":")
    if not repo or "/" in tag:
        raise LabError(f"{pushed_as!r} is not 'repo:tag'", "", "Name the pushed image as in the lab registry, like 'lab-02-hello:1'")
    found = registry.manifest(repo, tag).json().get("layers") or []
    if len(found) != count:
        raise LabError(f"{pushed_as} in the registry has {len(found)} layers, the local image {count}", "",
                       "Push the image again: the tag in the registry points at another image")
    return [(layer["digest"], int(layer["size"])) for layer in found]
