"""The same limits written out for v1 and for v2, side by side: what each kind of machine would write."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

from labkit.cgroups import hierarchy, v1, v2
from labkit.cgroups.limits import Limits


@dataclass(frozen=True)
class Plan:
    """Rows of (controller, v1 file = value, v2 file = value)."""

    rows: list[tuple[str, list[tuple[str, str]], list[tuple[str, str]]]]

    def v1(self) -> dict[str, str]:
        """{v1 file: value}."""
        return {f: v for _, pairs, _ in self.rows for f, v in pairs}

    def v2(self) -> dict[str, str]:
        """{v2 file: value}."""
        return {f: v for _, _, pairs in self.rows for f, v in pairs}

    def __str__(self) -> str:
        lines = [f"{'controller':<11}{'v1 file = value':<46}v2 file = value"]
        for controller, left, right in self.rows:
            for i in range(max(len(left), len(right))):
                a = f"{left[i][0]} = {left[i][1]}" if i < len(left) else ""
                b = f"{right[i][0]} = {right[i][1]}" if i < len(right) else ""
                lines.append(f"{controller if i == 0 else '':<11}{a:<46}{b}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        def cell(pairs):
            return "<br>".join(f"<code>{escape(f)}</code> = <code>{escape(v)}</code>" for f, v in pairs)

        body = "".join(f"<tr><td>{c}</td><td>{cell(a)}</td><td>{cell(b)}</td></tr>" for c, a, b in self.rows)
        return f"<table><tr><th>controller</th><th>v1</th><th>v2</th></tr>{body}</table>"


def plan(**limits: object) -> Plan:
    """The files and values that express `limits` on v1 and on v2 (nothing is written)."""
    wanted = Limits.parse(**limits)
    rows = []
    for controller in ("memory", "pids", "cpu"):
        if controller in wanted.controllers():
            rows.append((controller, v1.CONTROLLERS[controller].knobs(wanted), v2.CONTROLLERS[controller].knobs(wanted)))
    return Plan(rows)


@dataclass(frozen=True)
class Layout:
    """This machine's mode and where each controller the lab drives lives."""

    mode: str
    where: dict[str, tuple[str, str]]     # controller -> (version, mount point)
    unified: str | None
    unified_controllers: list[str]

    def __str__(self) -> str:
        lines = [f"mode: {self.mode}"]
        for c, (version, point) in self.where.items():
            lines.append(f"  {c:<8} {version}  {point}")
        if self.unified:
            lines.append(f"  cgroup2 tree at {self.unified}: {' '.join(self.unified_controllers) or 'no controllers'}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def layout() -> Layout:
    """Read this machine's cgroup mounts: its mode and each lab controller's home."""
    from labkit.cgroups.cgroup import CONTROLLERS, _available

    available = _available("")
    where = {c: (available[c].version, str(available[c].path).rstrip("/")) for c in (*CONTROLLERS, "cpuacct")
             if c in available}
    unified = hierarchy.unified()
    offered = []
    if unified:
        try:
            offered = open(f"{unified}/cgroup.controllers").read().split()
        except OSError:
            pass
    return Layout(hierarchy.mode(), where, unified, offered)
