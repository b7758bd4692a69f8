"""The lab engine on a stock VM: systemd as PID 1 and only cgroup2, as Debian 12/13 and Ubuntu
22.04+ boot by default, so as most learners' machines run.

This machine is hybrid and has no systemd. So CI boots two such VMs: Debian's kernel under qemu
(software emulation), this machine's own root shared read-only over 9p under a tmpfs overlay,
systemd as PID 1 with only cgroup2 (tests/vm, flavour SYSTEMD). Inside, the engine starts as
`./lab` starts it (`labkit up`, `labkit images build`), with its state on a tmpfs of its own
(dockerd's overlay2 cannot sit on the overlay root). In one the integration tests run against it; in
the other every lesson, under nbval strict with the residue check (tests.platforms.lessons).
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from tests.platforms import lessons
from tests.vm import Guest, initramfs, lab_job_prelude, qemu_missing

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent
# The guest runs every integration test but the guests themselves, and the workshop image, which is
# made from Debian's archive over the network (the guest has none; CI builds and runs it on the host).
GUEST_SKIPS = ["tests/integration/test_cgroups_v2_vm.py", "tests/integration/test_systemd_vm.py",
               "tests/integration/test_workshop.py"]
MUST_PASS = ["test_docker_runs_a_lab_image", "test_the_same_image_runs_through_the_cri",
             "test_a_port_published_the_usual_way_listens_on_loopback_only",
             "test_the_engine_owns_its_cgroup_parents", "test_down_leaves_nothing_then_up_again",
             "test_the_flags_are_the_limits_of_the_containers_group",
             "test_this_machine_mounts_what_the_test_expects", "test_systemd_cgroup_makes_a_scope_as_runc_does"]
MARK = "LABKIT-VM:"
SUMMARY = re.compile(r"^(?:=+ )?(\d+ (?:passed|failed).*) in [\d.]+s", re.M)     # -q: no "=" around it


def prelude() -> list[str]:
    """What both guests do first: the engine started as `./lab` starts it."""
    return [
        *lab_job_prelude(REPO, VENV, env="LABKIT_EXPECT_CGROUP=v2"),
        f'echo "{MARK} pid1 $(cat /proc/1/comm), /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup)"',
        f'labkit up >/dev/null && labkit images build >/dev/null && echo "{MARK} engine up"',
    ]


def integration_job() -> str:
    """The first guest's script: the integration tests."""
    skips = " ".join(f"--ignore={s}" for s in GUEST_SKIPS)
    return "\n".join([
        *prelude(),
        f"python -m pytest -p no:cacheprovider -q --color=no -rA --tb=short --durations=10 tests/integration {skips} 2>&1",
        f'echo "{MARK} pytest exit $?"',
    ])


def lessons_job() -> str:
    """The second guest's script: every lesson under nbval, with the residue check."""
    return "\n".join([*prelude(), "python -m tests.platforms.lessons 2>&1"])


# The two guests tests/conftest.py boots at the start of the run, each on one CPU of its own while
# the host's tests take what is left: the lessons alone are most of a guest's work (2/3), and one
# guest doing both was the run's longest pole.
_booted: dict = {}


def start() -> None:
    """Boot both guests now (tests/conftest.py calls this once this module's tests are collected)."""
    if not _booted and os.geteuid() == 0 and qemu_missing() is None:
        guest = Guest.prepare(flavour=initramfs.SYSTEMD)
        _booted["tests"] = guest.start(integration_job(), memory="3G")
        _booted["lessons"] = guest.start(lessons_job(), memory="3G")


def booted(which: str):
    why = qemu_missing()
    if why:
        pytest.skip(why)
    start()
    result = _booted[which].wait(timeout=2400)
    console = result.console
    tail = console[-8000:]
    assert f"{MARK} pid1 systemd, /sys/fs/cgroup is cgroup2fs" in console, f"not a systemd + v2 guest:\n{tail}"
    assert f"{MARK} engine up" in console, f"the lab engine did not start in the guest:\n{tail}"
    return result, console, tail


def test_the_integration_tests_pass_on_a_systemd_cgroup_v2_vm(root):
    result, console, tail = booted("tests")
    summary = SUMMARY.findall(console)
    assert summary and "failed" not in summary[0] and "error" not in summary[0], lessons.failures(console) or tail
    passed = set(re.findall(r"^PASSED \S+::(\w+)", console, re.M))
    assert set(MUST_PASS) <= passed, f"not run or not passed in the guest: {set(MUST_PASS) - passed}"
    assert f"{MARK} pytest exit 0" in console, tail
    print(f"systemd + v2 guest, integration tests: {summary[0]} ({result.seconds:.0f} s)", file=sys.stderr)


def test_every_lesson_passes_on_a_systemd_cgroup_v2_vm(root):
    result, console, tail = booted("lessons")
    nbval, left = lessons.read(console)
    assert nbval == 0, f"the lessons under nbval in the guest:\n{lessons.failures(console) or tail}"
    assert left == {}, f"the lessons left this behind in the guest: {left}"
    summary = SUMMARY.findall(console)
    print(f"systemd + v2 guest, lessons: {summary[-1] if summary else '?'} ({result.seconds:.0f} s)", file=sys.stderr)

