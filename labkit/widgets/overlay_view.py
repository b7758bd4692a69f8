"""Two diagrams for lessons 09 and 10.

`overlay(...)` draws an overlay mount as its layers, read live from the directories: the merged
view on top, the upper dir, then each lower dir; one column per path that the upper dir changed,
each cell saying what that layer holds there (a copied-up file, a whiteout, an opaque dir...).

`steps(...)` draws "what each step adds" to a container built by hand: one box per step with the
observations that changed after it, from the real output of a probe run inside after each step.
"""
from __future__ import annotations

import html
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import graphviz

from labkit import fs
from labkit.errors import BadInput

_FONT = "Courier"
# What a cell means -> its fill: one colour per kind of upper entry, grey for the image's files.
COLOURS = {"copied up": "#cfe3f7", "new": "#d6f0d0", "whiteout": "#f4cccc", "opaque dir": "#ffe2b3",
           "dir": "#f3f3f3", "lower": "#ececec", "hidden": "#ffffff", "absent": "#ffffff", "deleted": "#f4cccc"}


@dataclass(frozen=True)
class Cell:
    """One layer at one path: what it shows, and the kind that picks its colour."""

    text: str
    kind: str


@dataclass(frozen=True)
class Row:
    """One layer of the stack: its name, its directory, one cell per path."""

    name: str
    where: str
    cells: tuple[Cell, ...]


# -- the overlay -------------------------------------------------------------------------------------


def overlay(ov: fs.Overlay | str | os.PathLike, paths: list[str] | None = None, limit: int = 6) -> graphviz.Digraph:
    """Draw overlay `ov` (an Overlay, or the merged dir of a mounted one) as its layers, at the paths its
    upper dir changed (at most `limit` of them) plus `paths`."""
    if not isinstance(ov, fs.Overlay):
        ov = fs.overlay_at(ov)
    if ov.upper is None:
        raise BadInput(f"The overlay at {ov.merged} has no upper dir", "", "Draw a writable overlay")
    if paths is not None and (isinstance(paths, str) or not all(isinstance(p, str) for p in paths)):
        raise BadInput(f"paths is a list of paths inside the overlay, not {paths!r}", "", "e.g. ['etc/passwd']")
    changed = [c for c in fs.changes(ov) if c.kind != "dir"]
    wanted = list(dict.fromkeys([p.strip("/") for p in paths or []] + [c.path for c in changed][:limit]))
    return draw(f"overlay at {_short(ov.merged)}", wanted, table(ov, wanted), len(changed))


def table(ov: fs.Overlay, paths: list[str]) -> list[Row]:
    """The live state of each layer at each path: merged first, then upper, then the lower dirs (top first)."""
    lowers = []
    for i, low in enumerate(ov.lower):
        cells = []
        for p in paths:
            cell = _lower_cell(low / p)
            hidden = cell.kind != "absent" and _hidden_by(ov, i, p)
            cells.append(Cell(cell.text + " (hidden)", "hidden") if hidden else cell)
        lowers.append(Row(f"lower {i + 1}" if len(ov.lower) > 1 else "lower", _short(low), tuple(cells)))
    upper = [_upper_cell(ov.upper / p, any(r.cells[j].kind != "absent" for r in lowers)) for j, p in enumerate(paths)]
    for j, p in enumerate(paths):
        if upper[j].kind == "copied up" and not (ov.upper / p).is_dir():      # the upper copy shadows the rest
            for r in range(len(lowers)):
                c = lowers[r].cells[j]
                if c.kind == "lower":
                    lowers[r] = Row(lowers[r].name, lowers[r].where,
                                    lowers[r].cells[:j] + (Cell(c.text + " (under upper)", "hidden"),) + lowers[r].cells[j + 1:])
    mounted = ov.mounted
    merged = [_merged_cell(ov.merged / p, u, [r.cells[j] for r in lowers]) if mounted else Cell("(not mounted)", "absent")
              for j, (p, u) in enumerate(zip(paths, upper))]
    return [Row("merged", _short(ov.merged), tuple(merged)), Row("upper", _short(ov.upper), tuple(upper)), *lowers]


def _hidden_by(ov: fs.Overlay, index: int, path: str) -> bool:
    """Whether lower `index` is hidden at `path` by a whiteout or opaque dir above it (upper, or a higher lower)."""
    parts = Path(path).parts
    above = [ov.upper, *ov.lower[:index]]
    for layer in above:
        for depth in range(1, len(parts) + 1):
            here = layer.joinpath(*parts[:depth])
            if fs.is_whiteout(here) or (depth < len(parts) and fs.is_opaque(here)):
                return True
            if depth == len(parts) and fs.is_opaque(here):
                return True
    return False


def _upper_cell(path: Path, in_lower: bool) -> Cell:
    if not os.path.lexists(path):
        return Cell("-", "absent")
    if fs.is_whiteout(path):
        st = os.lstat(path)
        return Cell(f"whiteout: char dev {os.major(st.st_rdev)}/{os.minor(st.st_rdev)}", "whiteout")
    if fs.is_opaque(path):
        return Cell(f"opaque {_what(path)}", "opaque dir")
    if in_lower:
        return Cell(f"copied up: {_what(path)}", "copied up")
    return Cell(f"new: {_what(path)}", "new")


def _lower_cell(path: Path) -> Cell:
    return Cell(_what(path), "lower") if os.path.lexists(path) else Cell("-", "absent")


def _merged_cell(path: Path, upper: Cell, lowers: list[Cell]) -> Cell:
    if not os.path.lexists(path):
        return Cell("deleted" if upper.kind == "whiteout" else "-", "deleted" if upper.kind == "whiteout" else "absent")
    if upper.kind in ("copied up", "new", "opaque dir"):
        return Cell(f"{_what(path)}, from upper", upper.kind)
    for i, c in enumerate(lowers):
        if c.kind == "lower":
            return Cell(f"{_what(path)}, from lower" + (f" {i + 1}" if len(lowers) > 1 else ""), "lower")
    return Cell(_what(path), "lower")


def _what(path: Path) -> str:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return f"symlink -> {os.readlink(path)}"[:28]
    if stat.S_ISDIR(st.st_mode):
        n = len(os.listdir(path))
        return f"dir, {n} entr{'y' if n == 1 else 'ies'}"
    if stat.S_ISCHR(st.st_mode):
        return f"char dev {os.major(st.st_rdev)}/{os.minor(st.st_rdev)}"
    return f"file, {st.st_size} B"


def _short(path: Path) -> str:
    return re.sub(r"\b([0-9a-f]{12})[0-9a-f]{52}\b", r"\1…", str(path))


def draw(title: str, paths: list[str], rows: list[Row], changed: int | None = None) -> graphviz.Digraph:
    """The layer table as a diagram: one row a layer (merged on top), one column a path."""
    if not rows or any(len(r.cells) != len(paths) for r in rows):
        raise BadInput("Each layer needs one cell per path", f"{len(paths)} paths", "Build the rows with table()")
    head = "".join(f'<TD BGCOLOR="#fafafa"><B>/{html.escape(p)}</B></TD>' for p in paths)
    lines = [f'<TR><TD ALIGN="LEFT" BGCOLOR="#fafafa"><B>layer</B></TD>{head}</TR>']
    for row in rows:
        name = f'<B>{html.escape(row.name)}</B><BR ALIGN="LEFT"/><FONT POINT-SIZE="8">{html.escape(row.where)}</FONT>'
        cells = "".join(f'<TD BGCOLOR="{COLOURS.get(c.kind, "#ffffff")}">{html.escape(c.text)}</TD>' for c in row.cells)
        lines.append(f'<TR><TD ALIGN="LEFT">{name}<BR ALIGN="LEFT"/></TD>{cells}</TR>')
    more = f" (upper changed {changed} paths; {len(paths)} shown)" if changed is not None and changed > len(paths) else ""
    legend = "".join(f'<TD BGCOLOR="{COLOURS[k]}">{k}</TD>' for k in ("copied up", "new", "whiteout", "opaque dir", "lower"))
    lines.append(f'<TR><TD BORDER="0" ALIGN="LEFT" COLSPAN="{len(paths) + 1}"><TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" '
                 f'CELLPADDING="2"><TR><TD BORDER="0"><FONT POINT-SIZE="8">colours:</FONT></TD>{legend}</TR></TABLE></TD></TR>')
    g = graphviz.Digraph("overlay", graph_attr={"fontname": _FONT, "fontsize": "10", "labelloc": "t",
                                                "label": title + more},
                         node_attr={"shape": "plaintext", "fontname": _FONT, "fontsize": "10"})
    g.node("layers", f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">{"".join(lines)}</TABLE>>')
    return g


# -- what each step adds ------------------------------------------------------------------------------


def added(before: dict[str, str], after: dict[str, str]) -> dict[str, str]:
    """The observations that differ after a step (keys new or changed), in `after`'s order."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        raise BadInput("added() compares two dicts of observations", "", "e.g. {'hostname': 'lab-10-box'}")
    return {k: v for k, v in after.items() if before.get(k) != v}


def steps(results: list[tuple[str, dict[str, str]]], title: str = "what each step adds") -> graphviz.Digraph:
    """One box per step, top to bottom, listing what a probe inside saw change after that step.

    `results` is [(step name, observations)], the first being the starting point (all its
    observations are listed); each observation is a short string ('pid of sh' -> '1')."""
    if not isinstance(results, list) or not results or not all(
            isinstance(r, tuple) and len(r) == 2 and isinstance(r[0], str) and isinstance(r[1], dict) for r in results):
        raise BadInput("steps() takes a list of (step name, observations dict)", "",
                       "e.g. [('plain process', {...}), ('namespaces', {...})]")
    g = graphviz.Digraph("steps", graph_attr={"rankdir": "TB", "fontname": _FONT, "fontsize": "11", "label": title,
                                              "labelloc": "t", "nodesep": "0.25", "ranksep": "0.25"},
                         node_attr={"shape": "plaintext", "fontname": _FONT, "fontsize": "10"},
                         edge_attr={"color": "#777777", "arrowsize": "0.7"})
    previous: dict[str, str] = {}
    for i, (name, seen) in enumerate(results):
        changes = seen if i == 0 else {k: _delta(previous.get(k, ""), v) for k, v in added(previous, seen).items()}
        if i == 0:            # the starting point: the facts that share one value (the host's) in one row
            common = max(set(changes.values()), key=list(changes.values()).count, default=None)
            shared = [k for k, v in changes.items() if v == common]
            if len(shared) > 3:
                rest = {k: v for k, v in changes.items() if v != common}
                changes = {**rest, f"{'all other' if rest else 'all'} {len(shared)} facts": common}
        colour = "#eeeeee" if i == 0 else "#dbe9f7"
        rows = [f'<TR><TD ALIGN="LEFT" BGCOLOR="{colour}" COLSPAN="2"><B>{i} · {html.escape(name)}</B></TD></TR>']
        for key, value in changes.items():
            rows.append(f'<TR><TD ALIGN="LEFT">{html.escape(key)}</TD><TD ALIGN="LEFT">{html.escape(_clip(value, 46))}</TD></TR>')
        if not changes:
            rows.append('<TR><TD ALIGN="LEFT" COLSPAN="2"><I>no change a probe can see</I></TD></TR>')
        g.node(f"s{i}", f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">{"".join(rows)}</TABLE>>')
        if i:
            g.edge(f"s{i - 1}", f"s{i}")
        previous = seen
    return g


def _delta(old: str, new: str) -> str:
    """'+ /c /d' when `new` is the list of paths `old` plus some (a mount table that grew), else `new`."""
    before, after = old.split(), new.split()
    if len(before) > 1 and all(p.startswith("/") for p in after) and set(before) < set(after):
        return "+ " + " ".join(a for a in after if a not in before)
    return new


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"
