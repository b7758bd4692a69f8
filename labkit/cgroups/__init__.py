"""cgroups, one interface over v1, hybrid and v2.

    cg = labkit.cgroups.create("lab-08-demo", memory_max="32M", pids_max=64, cpus=0.5)
    proc = cg.popen(["python3", "-c", "..."])     # starts inside, limits already set
    cg.stats(); cg.events(); cg.freeze(); cg.thaw(); cg.kill(); cg.remove()
    cgroups.pressure.read(cg.path("memory") / "memory.pressure")     # PSI (v2 groups, /proc/pressure)

The layout follows the kernel's: v1/ and v2/ side by side, one module per controller
(v1/memory.py writes memory.limit_in_bytes, v2/memory.py writes memory.max), and
cgroup.py is the one interface a lesson uses. Names must start with ``lab-`` so
`labkit.clean` finds what a lesson left. See cgroups(7) and the kernel's cgroup-v2.rst.
"""
from __future__ import annotations

from labkit.cgroups import pressure
from labkit.cgroups.cgroup import CONTROLLERS, Cgroup, create, get, of, remove_dir
from labkit.cgroups.hierarchy import controllers, mode, mounts, needs_v2, unified
from labkit.cgroups.limits import MAX, Limits
from labkit.cgroups.plan import layout, plan

__all__ = ["CONTROLLERS", "Cgroup", "Limits", "MAX", "controllers", "create", "get", "layout", "mode", "mounts",
           "needs_v2", "of", "plan", "pressure", "remove_dir", "unified"]
