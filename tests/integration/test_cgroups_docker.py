"""Docker's resource flags land in the container's own cgroup files, where labkit.cgroups reads them."""
from __future__ import annotations

import subprocess

import pytest

from labkit import cgroups, config
from labkit.check import check
from labkit.exercises import cgroups as ex

pytestmark = pytest.mark.integration
DOCKER = ["docker", "-H", config.DOCKER_HOST]


@pytest.fixture
def container(engine):
    subprocess.run(DOCKER + ["rm", "-f", ex.CONTAINER], capture_output=True)
    subprocess.run(DOCKER + ["run", "-d", "--name", ex.CONTAINER, "--pull", "never", "--memory", "64m",
                             "--pids-limit", "100", "--cpus", "0.5", "labkit/busybox", "sleep", "600"],
                   check=True, capture_output=True)
    pid = int(subprocess.run(DOCKER + ["inspect", "-f", "{{.State.Pid}}", ex.CONTAINER],
                             check=True, capture_output=True, text=True).stdout)
    yield pid
    subprocess.run(DOCKER + ["rm", "-f", ex.CONTAINER], capture_output=True)


def test_the_flags_are_the_limits_of_the_containers_group(container):
    box = cgroups.of(container)
    assert box.limits() == {"memory_max": 64 << 20, "pids_max": 100, "cpu_quota": 50_000, "cpu_period": 100_000}
    assert all(config.CGROUP_PARENT in p.path.parts for p in box.parts.values())


def test_exercise_08_3_accepts_the_containers_file_and_names_the_parent_mistake(container):
    real = cgroups.of(container).path("pids") / "pids.max"
    assert check("08.3", str(real)).ok
    parent = check("08.3", str(real.parent.parent / "pids.max"))
    assert not parent.ok and "one level down" in parent.message
    assert not check("08.3", str(real.parent / "memory.max")).ok
