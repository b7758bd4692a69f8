"""cgroup mode detection on recorded mount tables of the three kinds of machine."""
from labkit import cgroups

V2 = "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
V1 = (
    "25 24 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
    "26 25 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "27 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "28 25 0:25 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
)
HYBRID = V1 + "29 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"


def test_modes():
    assert cgroups.mode(V2) == "v2"
    assert cgroups.mode(V1) == "v1"
    assert cgroups.mode(HYBRID) == "hybrid"


def test_v1_controllers_map_to_their_mount_and_named_hierarchies_are_not_controllers():
    where = cgroups.controllers(V1)
    assert where == {"memory": "/sys/fs/cgroup/memory", "cpu": "/sys/fs/cgroup/cpu,cpuacct",
                     "cpuacct": "/sys/fs/cgroup/cpu,cpuacct"}


def test_this_machine_has_a_mode_and_its_memory_controller():
    assert cgroups.mode() in ("v1", "hybrid", "v2")
    assert "memory" in cgroups.controllers()
