"""The gauges' static picture and sampling loop, on a recorded trace and a fake group."""
import xml.etree.ElementTree as ET

from labkit.widgets import gauges


class FakeGroup:
    """Enough of a Cgroup for watch(): a name, limits, counters, and processes that end."""

    name = "lab-08-fake"

    def __init__(self, ticks_alive: int) -> None:
        self.ticks, self.alive, self.quota = 0, ticks_alive, None

    def limits(self):
        return {"memory_max": 32 << 20, "pids_max": 10, "cpu_quota": self.quota, "cpu_period": 100_000}

    def stats(self):
        self.ticks += 1
        return {"memory_current": self.ticks << 20, "pids_current": 2, "cpu_usage_usec": self.ticks * 20_000,
                "cpu_throttled": self.ticks}

    def procs(self):
        return [1] if self.ticks < self.alive else []


def test_watch_stops_when_the_group_empties_and_runs_its_actions():
    group = FakeGroup(ticks_alive=5)
    trace = gauges.watch(group, seconds=30, interval=0.01, plot="memory", show=False,
                         actions={0.0: ("quota", lambda: setattr(group, "quota", 20_000))})
    assert len(trace.samples) == 5
    assert trace.marks and trace.marks[0][1] == "quota"
    assert trace.limits["cpu_quota"] == 20_000
    assert trace.peak("memory") == 5 << 20 and trace.throttled == 4


def test_the_picture_is_valid_svg_with_the_limit_and_the_series():
    trace = gauges.Trace("lab-08-x", {"memory_max": None, "pids_max": 50, "cpu_quota": 20_000, "cpu_period": 100_000},
                         "cpu", [{"t": i / 10, "memory": 1 << 20, "pids": 3, "throttled": i, "cpu": 0.2}
                                 for i in range(1, 20)])
    svg = trace.svg()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "limit 20%" in svg and "<polyline" in svg
    assert "3 of 50" in svg and "no limit" in svg
    assert "18 throttled" in svg
