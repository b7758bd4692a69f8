"""Live gauges of a cgroup: memory, pids and CPU against their limits, and one counter over time.

While a cell runs, `watch()` shows ipywidgets (progress bars and a chart redrawn each
sample). When it ends, the live view is replaced by a plain SVG of the same picture, so
the stored notebook shows it on GitHub and nbviewer, where widgets do not render.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from html import escape
from typing import Callable

from labkit.cgroups import Cgroup

PLOTS = ("cpu", "memory", "pids")
_W, _H = 680, 320               # SVG size
_COLORS = {"cpu": "#2b6cb0", "memory": "#2f855a", "pids": "#b7791f", "limit": "#c53030", "grid": "#e2e8f0"}


@dataclass
class Trace:
    """What `watch` saw: one sample per tick (seconds since start, and the group's counters)."""

    name: str
    limits: dict[str, int | None]
    plot: str
    samples: list[dict[str, float]] = field(default_factory=list)
    marks: list[tuple[float, str]] = field(default_factory=list)     # (t, what was done then)

    def series(self, key: str) -> list[tuple[float, float]]:
        """(t, value) for one counter: 'cpu' (share of one CPU), 'memory' (bytes), 'pids', 'throttled'."""
        return [(s["t"], s[key]) for s in self.samples if key in s]

    def peak(self, key: str) -> float:
        """The highest value seen of `key` (0 when never sampled)."""
        return max((v for _, v in self.series(key)), default=0)

    @property
    def throttled(self) -> int:
        """Periods throttled while watching."""
        values = [v for _, v in self.series("throttled")]
        return int(values[-1] - values[0]) if len(values) > 1 else 0

    def svg(self) -> str:
        """The picture as a standalone SVG document."""
        return render(self)

    def _repr_svg_(self) -> str:
        return self.svg()

    def __repr__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        """One line: what was watched, for how long, the peaks."""
        secs = self.samples[-1]["t"] if self.samples else 0.0
        return (f"{self.name}: {len(self.samples)} samples over {secs:.1f} s; peak memory {_mib(self.peak('memory'))}, "
                f"peak pids {int(self.peak('pids'))}, peak cpu {self.peak('cpu'):.0%} of one CPU, "
                f"{self.throttled} periods throttled")


def watch(group: Cgroup, seconds: float = 5.0, interval: float = 0.2, plot: str = "cpu",
          until: Callable[[], bool] | None = None, actions: dict[float, tuple[str, Callable[[], object]]] | None = None,
          show: bool | None = None) -> Trace:
    """Sample `group` every `interval` s for up to `seconds` (or until `until()` is true, or it empties).

    `actions` maps a time to (label, function): the function runs then (say, a new limit),
    and the chart marks the moment with the label.
    """
    if plot not in PLOTS:
        from labkit.errors import LabError

        raise LabError(f"Cannot plot {plot!r}", "", f"Plot one of: {', '.join(PLOTS)}")
    trace = Trace(group.name, group.limits(), plot)
    view = _LiveView(trace) if (show if show is not None else _in_notebook()) else None
    start = time.monotonic()
    last: tuple[float, float] | None = None
    seen_procs = False
    pending = sorted((actions or {}).items())
    while True:
        now = time.monotonic() - start
        while pending and pending[0][0] <= now:
            _, (label, action) = pending.pop(0)
            action()
            trace.marks.append((now, label))
            trace.limits = group.limits()         # the action may have set a new limit
        stats = group.stats()
        sample = {"t": now, "memory": stats.get("memory_current", 0), "pids": stats.get("pids_current", 0),
                  "throttled": stats.get("cpu_throttled", 0)}
        usage = stats.get("cpu_usage_usec")
        if usage is not None:
            if last is not None and now > last[0]:
                sample["cpu"] = (usage - last[1]) / 1e6 / (now - last[0])
            last = (now, usage)
        trace.samples.append(sample)
        if view:
            view.update()
        procs = bool(group.procs())
        seen_procs |= procs
        if now >= seconds or (until and until()) or (seen_procs and not procs):
            break
        time.sleep(interval)
    if view:
        view.finish()
    return trace


class _LiveView:
    """ipywidgets while sampling; replaced by the static SVG at the end."""

    def __init__(self, trace: Trace) -> None:
        import ipywidgets as w
        from IPython.display import display

        self.trace = trace
        self.bars = {k: w.FloatProgress(min=0, max=1, description=k, layout=w.Layout(width="55%")) for k in PLOTS}
        self.labels = {k: w.Label() for k in PLOTS}
        self.chart = w.HTML()
        rows = [w.HBox([self.bars[k], self.labels[k]]) for k in PLOTS]
        self.box = w.VBox([w.HTML(f"<b>{escape(trace.name)}</b>"), *rows, self.chart])
        self.handle = display(self.box, display_id=True)

    def update(self) -> None:
        for key, (value, limit, text) in _gauges(self.trace).items():
            self.bars[key].value = min(value / limit, 1.0) if limit else 0.0
            self.labels[key].value = text
        self.chart.value = render(self.trace, gauges=False)

    def finish(self) -> None:
        self.handle.update(self.trace)        # its SVG, and its summary as text/plain
        self.box.close()


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _gauges(trace: Trace) -> dict[str, tuple[float, float | None, str]]:
    """key -> (value now, its limit, label) for the three gauges."""
    last = trace.samples[-1] if trace.samples else {}
    lim = trace.limits
    quota, period = lim.get("cpu_quota"), lim.get("cpu_period")
    cpu_limit = quota / period if quota and period else None
    mem, pids, cpu = last.get("memory", 0), last.get("pids", 0), last.get("cpu", 0.0)
    mem_max, pids_max = lim.get("memory_max"), lim.get("pids_max")
    return {
        "memory": (mem, mem_max, f"{_mib(mem)} of {_mib(mem_max) if mem_max else 'no limit'}; "
                                 f"peak {_mib(trace.peak('memory'))}"),
        "pids": (pids, pids_max, f"{int(pids)} of {pids_max if pids_max is not None else 'no limit'}"),
        "cpu": (cpu, cpu_limit or 1.0, f"{cpu:.0%} of a CPU (quota {f'{cpu_limit:.0%}' if cpu_limit else 'none'}), "
                                       f"{trace.throttled} throttled"),
    }


def render(trace: Trace, gauges: bool = True) -> str:
    """Draw the gauges and the chart of `trace.plot` over time as SVG (no plotting library needed)."""
    parts = []
    top, height = 24, _H - 110
    if gauges:
        parts.append(f'<text x="10" y="22" font-weight="bold">{escape(trace.name)}</text>')
        for i, (key, (value, limit, text)) in enumerate(_gauges(trace).items()):
            y = 34 + i * 24
            frac = min(value / limit, 1.0) if limit else 0.0
            parts.append(f'<text x="10" y="{y + 13}">{key}</text>'
                         f'<rect x="80" y="{y}" width="260" height="16" fill="{_COLORS["grid"]}"/>'
                         f'<rect x="80" y="{y}" width="{260 * frac:.1f}" height="16" fill="{_COLORS[key]}"/>'
                         f'<text x="350" y="{y + 13}">{escape(text)}</text>')
        top, height = 130, _H
    parts.append(_chart(trace, 60, top, _W - 80, height - top - 30))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{height}" viewBox="0 0 {_W} {height}" '
            f'font-family="Helvetica, Arial, sans-serif" font-size="12">'
            f'<rect width="{_W}" height="{height}" fill="white"/>{"".join(parts)}</svg>')


def _chart(trace: Trace, x0: float, y0: float, width: float, height: float) -> str:
    key = trace.plot
    points = trace.series(key)
    lim = trace.limits
    if key == "cpu":
        quota, period = lim.get("cpu_quota"), lim.get("cpu_period")
        limit = quota / period if quota and period else None
        unit, fmt = "share of one CPU", (lambda v: f"{v:.0%}")
    elif key == "memory":
        limit, unit, fmt = lim.get("memory_max"), "memory", _mib
    else:
        limit, unit, fmt = lim.get("pids_max"), "processes", (lambda v: f"{int(v)}")
    t_end = (trace.samples[-1]["t"] if trace.samples else 0.0) or 1.0
    top = max([v for _, v in points] + [limit or 0, 1e-9]) * 1.15
    sx = lambda t: x0 + width * t / t_end               # noqa: E731
    sy = lambda v: y0 + height - height * v / top       # noqa: E731
    out = [f'<rect x="{x0}" y="{y0}" width="{width}" height="{height}" fill="none" stroke="{_COLORS["grid"]}"/>',
           f'<text x="{x0}" y="{y0 - 4}">{escape(unit)} over time</text>',
           f'<text x="{x0 + width}" y="{y0 + height + 14}" text-anchor="end">{t_end:.1f} s</text>',
           f'<text x="{x0}" y="{y0 + height + 14}">0 s</text>',
           f'<text x="{x0 - 4}" y="{y0 + 10}" text-anchor="end">{escape(fmt(top))}</text>']
    if limit:
        y = sy(limit)
        x1 = sx(trace.marks[-1][0]) if trace.marks else x0     # a limit set mid-way holds from then on
        out.append(f'<line x1="{x1:.1f}" y1="{y:.1f}" x2="{x0 + width}" y2="{y:.1f}" stroke="{_COLORS["limit"]}" '
                   f'stroke-dasharray="5,4"/><text x="{x0 + width - 4}" y="{y - 4:.1f}" text-anchor="end" '
                   f'fill="{_COLORS["limit"]}">limit {escape(fmt(limit))}</text>')
    if key == "cpu":       # a tick at the bottom for every sample in which throttling went up
        thr = trace.series("throttled")
        for (t, v), (_, prev) in zip(thr[1:], thr):
            if v > prev:
                out.append(f'<line x1="{sx(t):.1f}" y1="{y0 + height}" x2="{sx(t):.1f}" y2="{y0 + height - 6}" '
                           f'stroke="{_COLORS["limit"]}"/>')
    for t, label in trace.marks:
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + height}" stroke="#4a5568" stroke-dasharray="2,3"/>'
                   f'<text x="{x + 4:.1f}" y="{y0 + 14}" fill="#4a5568">{escape(label)}</text>')
    if len(points) > 1:
        path = " ".join(f"{sx(t):.1f},{sy(v):.1f}" for t, v in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{_COLORS[key]}" stroke-width="2"/>')
    return "".join(out)


def _mib(value: float | None) -> str:
    return "no limit" if value is None else f"{value / (1 << 20):.1f} MiB"
