"""What the course made on the host, marked as it is made: `labkit clean` removes only marked things.

Network namespaces, host interfaces and cgroups carry no labels, and a name prefix would match
what someone else made too (a `lab-db.service` cgroup, a `lab-br0` bridge). So labkit marks each
one before it makes it, as a file under /run/labkit/owned/KIND/: a tmpfs, emptied at reboot with
everything it names. A kill between mark and make leaves a mark of nothing, which clean drops.
Containers, pods, images and registry repositories need no mark: they live in the lab's own
daemons, which hold nothing else.

    mark("netns", "lab-07-a")        # before making it
    marked("netns")                  # {'lab-07-a'}
    unmark("netns", "lab-07-a")      # once it is gone
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, unquote

from labkit import config

LEDGER = config.RUN / "owned"
KINDS = ("netns", "interface", "cgroup")


def _file(kind: str, name: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {KINDS}")
    return LEDGER / kind / quote(name.strip("/") if kind == "cgroup" else name, safe="")


def mark(kind: str, name: str) -> None:
    """Record that the course is about to make `name` (a cgroup: its path below the hierarchy roots)."""
    path = _file(kind, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def unmark(kind: str, name: str) -> None:
    """Forget `name`: it is gone."""
    _file(kind, name).unlink(missing_ok=True)


def marked(kind: str, prefix: str = "") -> set[str]:
    """Every marked name of `kind` starting with `prefix` (a cgroup's first path part must)."""
    try:
        names = {unquote(p.name) for p in (LEDGER / kind).iterdir()}
    except FileNotFoundError:
        return set()
    return {n for n in names if n.startswith(prefix)}
