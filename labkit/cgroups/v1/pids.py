"""v1 pids controller: the same files as v2 (pids.max, pids.current, pids.events)."""
from labkit.cgroups.v2.pids import NAME, apply, events, knobs, read_limits, stats

__all__ = ["NAME", "knobs", "apply", "read_limits", "stats", "events"]
