"""The namespace table: two processes side by side, one row per kind of namespace.

Each row shows the inode of that namespace on each side (from /proc/PID/ns); equal inodes
mean the very same namespace. Rows that differ are what the container has of its own. It
shows as an SVG table drawn by graphviz (JupyterLab, GitHub and nbviewer all show it), and
as aligned text in a terminal; without graphviz's `dot`, as an HTML table.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Mapping

from labkit import ns
from labkit.errors import BadInput

# What a namespace of its own gives a process, one line per kind ("... has its own: <this>").
WHAT = {
    "cgroup": "cgroup root (/ in /proc/self/cgroup)",
    "ipc": "SysV IPC objects, POSIX message queues",
    "mnt": "mount table and /",
    "net": "interfaces, addresses, routes, ports",
    "pid": "PID numbers, from PID 1",
    "time": "CLOCK_MONOTONIC/BOOTTIME offsets",
    "user": "uid/gid maps and capabilities",
    "uts": "hostname",
}
_FONT = "Courier"          # fixed width: the drawing's size depends only on the text lengths
_SAME, _DIFFERENT, _HEAD = "#e3f1e0", "#fde0c5", "#eeeeee"


@dataclass(frozen=True)
class Row:
    """One kind of namespace: its inode on each side (None where that side has none)."""

    kind: str
    left: int | None
    right: int | None

    @property
    def same(self) -> bool:
        """Whether both sides are in the same namespace of this kind."""
        return self.left is not None and self.left == self.right


class NsTable:
    """A side-by-side namespace table; shows as SVG in a notebook and as text in a terminal."""

    def __init__(self, rows: list[Row], names: tuple[str, str], title: str | None = None) -> None:
        self.rows = rows
        self.names = names
        self.title = title

    @property
    def same(self) -> set[str]:
        """Kinds both sides share."""
        return {r.kind for r in self.rows if r.same}

    @property
    def different(self) -> set[str]:
        """Kinds where the right side has a namespace of its own."""
        return {r.kind for r in self.rows if not r.same}

    def text(self) -> str:
        """The table as aligned plain text."""
        head = ("namespace", *self.names, "shared?", "")
        body = [(r.kind, _inode(r.left), _inode(r.right), "same" if r.same else "DIFFERENT",
                 "" if r.same else f"its own {WHAT.get(r.kind, '')}") for r in self.rows]
        widths = [max(len(line[i]) for line in [head, *body]) for i in range(4)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() + (f"  {line[4]}" if line[4] else "")
                 for line in [head, *body]]
        return "\n".join(([self.title] if self.title else []) + lines)

    def graph(self):
        """The table as a graphviz graph with one HTML-like table node."""
        import graphviz

        g = graphviz.Graph("namespaces", graph_attr={"margin": "0", "fontname": _FONT},
                           node_attr={"shape": "plaintext", "fontname": _FONT, "fontsize": "11"})
        head = "".join(f'<TD BGCOLOR="{_HEAD}"><B>{escape(h)}</B></TD>'
                       for h in ("namespace", *self.names, "shared?", f"{self.names[1]} has its own:"))
        rows = [f"<TR>{head}</TR>"]
        for r in self.rows:
            color = _SAME if r.same else _DIFFERENT
            verdict = "same" if r.same else "<B>DIFFERENT</B>"
            cells = [escape(r.kind), _inode(r.left), _inode(r.right), verdict, escape("" if r.same else WHAT.get(r.kind, ""))]
            rows.append("<TR>" + "".join(f'<TD BGCOLOR="{color}" ALIGN="LEFT">{c}</TD>' for c in cells) + "</TR>")
        caption = f'<TR><TD COLSPAN="5" BORDER="0"><B>{escape(self.title)}</B></TD></TR>' if self.title else ""
        table = f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">{caption}{"".join(rows)}</TABLE>>'
        g.node("table", table)
        return g

    def svg(self) -> str:
        """The table drawn by graphviz's dot, as SVG text."""
        return self.graph().pipe(format="svg").decode()

    def html(self) -> str:
        """The table as HTML (the fallback where graphviz's dot is missing)."""
        head = "".join(f"<th>{escape(h)}</th>" for h in ("namespace", *self.names, "shared?"))
        body = "".join(
            f'<tr style="background:{_SAME if r.same else _DIFFERENT}"><td>{escape(r.kind)}</td><td>{_inode(r.left)}</td>'
            f"<td>{_inode(r.right)}</td><td>{'same' if r.same else '<b>different</b>'}</td></tr>" for r in self.rows)
        caption = f"<caption>{escape(self.title)}</caption>" if self.title else ""
        return f"<table>{caption}<tr>{head}</tr>{body}</table>"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        bundle = {"text/plain": self.text()}
        try:
            bundle["image/svg+xml"] = self.svg()
        except Exception:          # no `dot` here: HTML still shows the colours in JupyterLab
            bundle["text/html"] = self.html()
        return bundle

    def __repr__(self) -> str:
        return self.text()


def rows_of(left: Mapping[str, int], right: Mapping[str, int]) -> list[Row]:
    """One Row per kind found on either side, in /proc/PID/ns order."""
    order = [k for k in ns.KINDS if k in left or k in right]
    order += sorted((set(left) | set(right)) - set(order))
    return [Row(k, left.get(k), right.get(k)) for k in order]


def ns_table(left: int | str | Mapping[str, int], right: int | str | Mapping[str, int],
             names: tuple[str, str] = ("host", "container"), title: str | None = None) -> NsTable:
    """Compare the namespaces of two processes (pids, or inode maps from labkit.ns.inodes)."""
    if not (isinstance(names, (tuple, list)) and len(names) == 2 and all(isinstance(n, str) for n in names)):
        raise BadInput(f"names is a pair of column titles, not {names!r}", "", "e.g. names=('host', 'lab-07-box')")
    return NsTable(rows_of(_side(left), _side(right)), (names[0], names[1]), title)


def _side(side: int | str | Mapping[str, int]) -> Mapping[str, int]:
    if isinstance(side, Mapping):
        bad = [k for k, v in side.items() if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, int)]
        if bad:
            raise BadInput(f"An inode map is kind -> inode number; {bad[0]!r} is not", "", "Use labkit.ns.inodes(pid)")
        return side
    return ns.inodes(side)


def _inode(value: int | None) -> str:
    return "-" if value is None else str(value)
