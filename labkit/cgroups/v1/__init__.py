"""cgroup v1: one hierarchy per controller, each mounted at /sys/fs/cgroup/<controller>.

A v1 group is one directory per hierarchy with the same name; a process joins it by
its pid being written into cgroup.procs of each.
"""
from labkit.cgroups.v1 import cpu, cpuacct, freezer, memory, pids

CONTROLLERS = {m.NAME: m for m in (memory, pids, cpu, cpuacct, freezer)}
