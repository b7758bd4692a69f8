"""The live process tree: who is whose parent right now, read from /proc and drawn with graphviz.

Three layers, so that later lessons can reuse any of them:

- ``snapshot()`` is the only code that reads /proc: one ``Proc`` per live process.
- ``build()`` picks the processes worth drawing from a snapshot (what you selected, its
  ancestors, optionally its descendants) and ``draw()`` turns that into a graphviz diagram.
  Both are pure: the unit tests feed them a fake snapshot.
- ``process_tree()`` does all three on the live machine, for a notebook cell.

Solid arrows are real parenthood (the ppid field of /proc/PID/stat). Dashed arrows are the
"who asked whom" story a lesson tells on top (``calls``), and ``exited`` draws programs that
took part but have no process any more, such as runc once a container runs.
"""
from __future__ import annotations

import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Union

import graphviz

from labkit.errors import LabError
from labkit.kernel import procfs

PROC = Path("/proc")

Selector = Union[int, str, Callable[["Proc"], bool], Iterable[int]]
Endpoint = Union[int, str]          # a pid, or the name of an `exited` program

_HEX_ID = re.compile(r"\b([0-9a-f]{12})[0-9a-f]{52}\b")   # container ids: keep Docker's short form
_FILL, _HIGHLIGHT, _GHOST = "#eef4fb", "#ffd966", "#ffffff"
_CALL_COLOR = "#c0504d"


@dataclass(frozen=True)
class Proc:
    """One process as /proc shows it: its pid, its parent, and how it was started."""

    pid: int
    ppid: int
    comm: str                       # the kernel's 15-character name (/proc/PID/comm)
    state: str = "S"
    pgid: int = 0
    sid: int = 0
    argv: tuple[str, ...] = ()
    exe: str = ""                   # where /proc/PID/exe points ('' for kernel threads, or unreadable)
    nspid: tuple[int, ...] = ()     # this pid in each nested pid namespace, outermost first

    @property
    def program(self) -> str:
        """The program's name: the basename of the executable, else argv[0], else comm."""
        for path in (self.exe, self.argv[0] if self.argv else ""):
            if path:
                return os.path.basename(path.split(" (deleted)")[0])
        return self.comm

    @property
    def name(self) -> str:
        """comm, or the full program name where the kernel cut comm to 15 characters."""
        program = self.program
        return program if len(self.comm) == 15 and program.startswith(self.comm) else self.comm

    @property
    def inner_pid(self) -> int | None:
        """The pid this process has in its own (innermost) pid namespace, if that is not the host's."""
        return self.nspid[-1] if len(self.nspid) > 1 else None

    def cmdline(self, width: int = 48) -> str:
        """argv joined by spaces, container ids shortened, cut to `width` characters."""
        text = _HEX_ID.sub(r"\1…", " ".join(self.argv)) or f"[{self.comm}]"
        return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------- reading /proc (thin, impure)

def parse_stat(text: str) -> tuple[str, str, int, int, int]:
    """(comm, state, ppid, pgid, sid) from the text of /proc/PID/stat; comm may hold spaces and ')'."""
    fields = procfs.parse_stat(text)
    try:
        return fields[1], fields[2], int(fields[3]), int(fields[4]), int(fields[5])
    except (IndexError, ValueError):
        raise LabError("Cannot parse a /proc/PID/stat line", repr(text[:80]),
                       "It should read 'PID (comm) STATE PPID PGRP SESSION ...', see proc(5)") from None


def parse_nspid(status: str) -> tuple[int, ...]:
    """The NSpid line of /proc/PID/status: this pid in each pid namespace, outermost first."""
    return tuple(int(n) for n in procfs.parse_status(status).get("NSpid", "").split())


def read_process(pid: int, proc: Path | str = PROC) -> Proc | None:
    """One process from /proc, or None if it is gone (processes end while you read)."""
    base = Path(proc) / str(pid)
    try:
        comm, state, ppid, pgid, sid = parse_stat((base / "stat").read_text())
        argv = tuple(procfs.parse_cmdline((base / "cmdline").read_bytes()))
        status = (base / "status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    try:
        exe = os.readlink(base / "exe")
    except OSError:                 # kernel threads have none; another user's needs privilege
        exe = ""
    return Proc(pid, ppid, comm, state, pgid, sid, argv, exe, parse_nspid(status))


def snapshot(proc: Path | str = PROC) -> dict[int, Proc]:
    """Every live process, by pid, as /proc shows it now."""
    found = {}
    for entry in os.listdir(proc):
        if entry.isdigit():
            p = read_process(int(entry), proc)
            if p is not None:
                found[p.pid] = p
    return found


# ---------------------------------------------------------------- questions about a snapshot (pure)

def find(procs: Mapping[int, Proc], match: str | Callable[[Proc], bool]) -> list[Proc]:
    """Processes whose program or comm is `match` (a name), or for which `match(proc)` is true."""
    if isinstance(match, str):
        name = match
        match = lambda p: name in (p.program, p.comm)       # noqa: E731
    return sorted((p for p in procs.values() if match(p)), key=lambda p: p.pid)


def ancestors(procs: Mapping[int, Proc], pid: int) -> list[Proc]:
    """`pid`'s parent, grandparent, ... up to the first process whose parent is not in `procs`."""
    chain: list[Proc] = []
    seen = {pid}
    parent = procs[pid].ppid if pid in procs else 0
    while parent in procs and parent not in seen:     # `seen`: a corrupt snapshot must not loop
        seen.add(parent)
        chain.append(procs[parent])
        parent = procs[parent].ppid
    return chain


def children(procs: Mapping[int, Proc], pid: int) -> list[Proc]:
    """The processes whose parent is `pid`."""
    return sorted((p for p in procs.values() if p.ppid == pid and p.pid != pid), key=lambda p: p.pid)


def descendants(procs: Mapping[int, Proc], pid: int) -> list[Proc]:
    """Children, grandchildren, ... of `pid`, parents before children."""
    found, todo, seen = [], [pid], {pid}
    while todo:
        for child in children(procs, todo.pop(0)):
            if child.pid not in seen:
                seen.add(child.pid)
                found.append(child)
                todo.append(child.pid)
    return found


# ---------------------------------------------------------------- building and drawing (pure)

@dataclass(frozen=True)
class Tree:
    """The processes to draw: the selected ones (`focus`) and their kin, with parent edges."""

    procs: dict[int, Proc]
    focus: frozenset[int]

    @property
    def edges(self) -> list[tuple[int, int]]:
        """(parent pid, child pid) for every drawn process whose parent is drawn too."""
        return sorted((p.ppid, p.pid) for p in self.procs.values() if p.ppid in self.procs and p.ppid != p.pid)

    @property
    def roots(self) -> list[int]:
        """Drawn processes whose parent is not drawn."""
        return sorted(p.pid for p in self.procs.values() if p.ppid not in self.procs or p.ppid == p.pid)

    def text(self, pids: bool = True) -> str:
        """The tree as indented text, like pstree: one process a line."""
        lines: list[str] = []

        def walk(pid: int, depth: int) -> None:
            p = self.procs[pid]
            lines.append("    " * depth + (f"{p.name} (pid {p.pid})" if pids else p.name))
            for child in children(self.procs, pid):
                walk(child.pid, depth + 1)

        for root in self.roots:
            walk(root, 0)
        return "\n".join(lines)


def select(procs: Mapping[int, Proc], what: Selector) -> set[int]:
    """The pids `what` names: a pid, several pids, a program name, or a predicate on Proc."""
    if isinstance(what, bool):
        raise LabError("A process selector cannot be True or False", "",
                       "Give a pid, a list of pids, a program name, or a function of a Proc")
    if isinstance(what, int):
        pids = {what}
    elif isinstance(what, str) or callable(what):
        pids = {p.pid for p in find(procs, what)}
        if not pids:
            name = what if isinstance(what, str) else getattr(what, "__name__", "your predicate")
            raise LabError(f"No live process matches {name!r}", "nothing in /proc fits it now",
                           "Check the name with `ps -e -o pid,comm,args`, or start the process first")
        return pids
    else:
        try:
            pids = set(what)
        except TypeError:
            raise LabError(f"Cannot select processes with {what!r}", f"it is a {type(what).__name__}",
                           "Give a pid, a list of pids, a program name, or a function of a Proc") from None
        if not all(isinstance(p, int) and not isinstance(p, bool) for p in pids):
            raise LabError(f"Cannot select processes with {sorted(map(repr, pids))}", "pids are ints",
                           "Give whole numbers, e.g. the pid from `docker inspect -f '{{.State.Pid}}' NAME`")
    missing = sorted(p for p in pids if p not in procs)
    if missing:
        raise LabError(f"No process {', '.join(map(str, missing))} to draw",
                       "/proc has no such entry now: the process exited, or never existed",
                       "Take the pid of a live process, e.g. `docker inspect -f '{{.State.Pid}}' NAME`")
    return pids


def build(procs: Mapping[int, Proc], what: Selector, *, with_ancestors: bool = True,
          with_descendants: bool = False) -> Tree:
    """The processes `what` selects, plus their ancestors and/or descendants, from a snapshot."""
    focus = select(procs, what)
    keep = set(focus)
    for pid in focus:
        if with_ancestors:
            keep.update(p.pid for p in ancestors(procs, pid))
        if with_descendants:
            keep.update(p.pid for p in descendants(procs, pid))
    return Tree({pid: procs[pid] for pid in sorted(keep)}, frozenset(focus))


def node_id(pid: int) -> str:
    """The graphviz node name of a process, for lessons that add their own edges."""
    return f"p{pid}"


def label(p: Proc) -> str:
    """A process's box: its name, its pid (and its pid inside a container), its command line."""
    where = f"pid {p.pid}" + (f"  ·  pid {p.inner_pid} inside" if p.inner_pid is not None else "")
    state = {"Z": "  ·  zombie", "T": "  ·  stopped", "D": "  ·  in disk wait"}.get(p.state, "")
    lines = textwrap.wrap(p.cmdline(width=10_000), 46, break_on_hyphens=False) or [""]
    if len(lines) > 2:          # two lines of command line at most: the box stays readable
        lines = [lines[0], lines[1][:45] + "…"]
    return "\n".join([p.name, where + state, *lines])


def draw(tree: Tree, *, highlight: Iterable[int] = (), calls: Iterable[tuple[Endpoint, Endpoint, str]] = (),
         exited: Iterable[str] = (), procs: Mapping[int, Proc] | None = None,
         title: str = "") -> graphviz.Digraph:
    """A tree as a graphviz diagram: parent → child solid, `calls` dashed, `exited` programs as ghosts.

    `procs` is the whole snapshot the tree came from: with it, a ghost says whether that program
    really has no process now (the proof) rather than only being drawn as gone.
    """
    highlight = set(highlight)
    ghosts = list(dict.fromkeys(exited))
    for pid in sorted(highlight - set(tree.procs)):
        raise LabError(f"Cannot highlight pid {pid}", "it is not in the drawn tree",
                       "Select it too (the highlighted pids are added when you use process_tree)")
    g = graphviz.Digraph(
        "proctree",
        graph_attr={"rankdir": "TB", "fontname": "Helvetica", "fontsize": "10", "nodesep": "0.3",
                    "ranksep": "0.45", "labelloc": "b", "label": _legend(title, bool(calls), bool(ghosts))},
        node_attr={"shape": "box", "style": "filled,rounded", "fillcolor": _FILL, "fontname": "Helvetica",
                   "fontsize": "10"},
        edge_attr={"color": "#555555", "arrowsize": "0.7", "fontname": "Helvetica"},
    )
    calls = [(_endpoint(a, tree, ghosts), _endpoint(b, tree, ghosts), text) for a, b, text in calls]
    # graphviz places siblings in the order it meets them: follow the story the calls tell.
    told = [int(n[1:]) for a, b, _ in calls for n in (a, b) if n.startswith("p")]
    for pid in list(dict.fromkeys(told)) + [pid for pid in tree.procs if pid not in told]:
        p = tree.procs[pid]
        extra = {"fillcolor": _HIGHLIGHT, "penwidth": "2"} if pid in highlight else {}
        g.node(node_id(pid), label(p), tooltip=" ".join(p.argv) or p.comm, **extra)
    for parent, child in tree.edges:
        g.edge(node_id(parent), node_id(child))
    for name in ghosts:
        g.node(_ghost_id(name), _ghost_label(name, procs), style="dashed,rounded", fillcolor=_GHOST,
               fontcolor="#777777", color="#999999")
    for a, b, text in calls:
        # A ghost ranks between the processes it joins; calls between live ones leave the tree's shape alone.
        ranked = "true" if a.startswith("gone_") or b.startswith("gone_") else "false"
        g.edge(a, b, label=text, style="dashed", color=_CALL_COLOR, fontcolor=_CALL_COLOR, fontsize="9",
               constraint=ranked)
    return g


def process_tree(what: Selector, *, highlight: Iterable[int] = (), ancestors: bool = True,
                 descendants: bool = False, calls: Iterable[tuple[Endpoint, Endpoint, str]] = (),
                 exited: Iterable[str] = (), title: str = "", proc: Path | str = PROC) -> graphviz.Digraph:
    """Draw the live processes `what` selects (pids, a name or a predicate), with their kin, from /proc."""
    highlight = list(highlight)
    procs = snapshot(proc)
    focus = select(procs, what)
    if highlight:                   # a highlighted process is always drawn
        focus |= select(procs, highlight)
    tree = build(procs, sorted(focus), with_ancestors=ancestors, with_descendants=descendants)
    return draw(tree, highlight=highlight, calls=calls, exited=exited, procs=procs, title=title)


def _ghost_id(name: str) -> str:
    return "gone_" + re.sub(r"\W", "_", name)


def _ghost_label(name: str, procs: Mapping[int, Proc] | None) -> str:
    if procs is None:
        return f"{name}\n(exited)"
    running = find(procs, name)
    if not running:
        return f"{name}\nexited: no process in /proc"
    return f"{name}\n{len(running)} running now: pid {', '.join(str(p.pid) for p in running[:3])}"


def _endpoint(end: Endpoint, tree: Tree, ghosts: list[str]) -> str:
    if isinstance(end, int) and not isinstance(end, bool) and end in tree.procs:
        return node_id(end)
    if isinstance(end, str) and end in ghosts:
        return _ghost_id(end)
    raise LabError(f"A call names {end!r}, which is not in the diagram",
                   "a call joins two drawn processes (pids) or an `exited` program (by name)",
                   "Select that pid too, or add the name to `exited`")


def _legend(title: str, calls: bool, ghosts: bool) -> str:
    parts = ["solid arrow: parent → child (ppid in /proc/PID/stat)"]
    if calls:
        parts.append("dashed: who asked whom")
    if ghosts:
        parts.append("dashed box: took part, then exited")
    return (title + "\n" if title else "") + "   ·   ".join(parts)
