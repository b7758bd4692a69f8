"""The limits vocabulary and its translation to v1 and v2 files: pure logic, no kernel needed."""
import pytest

from labkit import cgroups
from labkit.cgroups.limits import Limits
from labkit.errors import LabError


def test_sizes_and_cpus_are_parsed_like_dockers_flags():
    lim = Limits.parse(memory_max="32M", pids_max=64, cpus=0.5)
    assert lim.memory_max == 32 << 20 and lim.pids_max == 64
    assert (lim.cpu_quota, lim.cpu_period) == (50_000, 100_000)
    assert lim.memory_swap_max == 0            # no swap unless asked: the limit means an OOM kill
    assert lim.controllers() == {"memory", "pids", "cpu"}
    assert Limits.parse(memory_max="1GiB").memory_max == 1 << 30
    assert Limits.parse(pids_max="max").pids_max == "max"


@pytest.mark.parametrize("bad", [
    {"memory_max": -1}, {"memory_max": 0}, {"memory_max": "lots"}, {"memory_max": 1.5},
    {"pids_max": -3}, {"pids_max": "12"}, {"pids_max": True},
    {"cpus": 0}, {"cpus": -1}, {"cpus": "half"}, {"cpus": 0.001},
    {"cpu_quota": 10}, {"cpu_period": 10}, {"cpu_period": "max"},
    {"cpus": 0.5, "cpu_quota": 50000}, {"memory": "32M"}, {"cpu_shares": 2},
])
def test_bad_limits_are_lab_errors_that_say_what_to_give(bad):
    with pytest.raises(LabError) as err:
        Limits.parse(**bad)
    assert err.value.fix


def test_the_plan_writes_the_same_limits_into_each_versions_files():
    p = cgroups.plan(memory_max="32M", pids_max=64, cpus=0.5)
    assert p.v2() == {"memory.max": "33554432", "memory.swap.max": "0", "pids.max": "64", "cpu.max": "50000 100000"}
    assert p.v1() == {"memory.limit_in_bytes": "33554432", "memory.memsw.limit_in_bytes": "33554432",
                      "pids.max": "64", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "50000"}
    assert "memory.max = 33554432" in str(p)


def test_lifting_a_limit_is_max_on_v2_and_minus_one_on_v1():
    p = cgroups.plan(memory_max="max", cpu_quota="max")
    assert p.v2() == {"memory.max": "max", "cpu.max": "max"}
    assert p.v1() == {"memory.limit_in_bytes": "-1", "cpu.cfs_quota_us": "-1"}


@pytest.mark.parametrize("name", ["demo", "08-demo", "lab-", "lab-08-a/b", "lab-08-../x", "", None, "lab-08 x"])
def test_a_group_name_must_be_one_lab_directory(name):
    with pytest.raises(LabError, match="not a lab cgroup name"):
        cgroups.create(name)
