"""labkit.cgroups against the real kernel: whatever this machine mounts (v1, hybrid or v2).

The same file runs on the host (hybrid here) and, through test_cgroups_v2_vm.py, inside a
guest whose only hierarchy is cgroup2, with LABKIT_EXPECT_CGROUP=v2 set.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import labkit
from labkit import cgroups, config
from labkit.errors import LabError

pytestmark = pytest.mark.integration

ALLOCATE = "import sys\nhog = []\nwhile True:\n    hog.append(bytearray(1 << 20))\n"
# A bomb that never gives up: every process forks forever, and a refused fork is simply retried.
BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"


@pytest.fixture
def group(root, request):
    """A fresh lab cgroup for one test, removed (with whatever is inside) afterwards."""
    made = []

    def make(**limits):
        cg = cgroups.create(f"lab-08-test-{request.node.name[5:30].replace('_', '-')}-{len(made)}", **limits)
        made.append(cg)
        return cg

    yield make
    for cg in made:
        cg.remove()


def knob(cg: cgroups.Cgroup, controller: str, v1_file: str, v2_file: str) -> str:
    part = cg.parts[controller]
    return (part.path / (v2_file if part.version == "v2" else v1_file)).read_text().strip()


def test_this_machine_mounts_what_the_test_expects():
    expected = os.environ.get("LABKIT_EXPECT_CGROUP")
    if expected:
        assert cgroups.mode() == expected
    where = cgroups.layout().where
    assert {"memory", "pids", "cpu", "freezer"} <= set(where)
    if cgroups.mode() == "v2":
        assert {v for v, _ in where.values()} == {"v2"}


def test_limits_are_in_the_files_before_any_process_joins(group):
    cg = group(memory_max="48M", pids_max=20, cpus=0.25)
    assert cg.procs() == []
    assert cg.limits() == {"memory_max": 48 << 20, "pids_max": 20, "cpu_quota": 25000, "cpu_period": 100000}
    assert knob(cg, "memory", "memory.limit_in_bytes", "memory.max") == str(48 << 20)
    assert knob(cg, "pids", "pids.max", "pids.max") == "20"
    if cg.parts["cpu"].version == "v2":
        assert knob(cg, "cpu", "", "cpu.max") == "25000 100000"
    else:
        assert knob(cg, "cpu", "cpu.cfs_quota_us", "") == "25000"


def test_popen_starts_the_program_inside_with_the_lesson_in_its_environment(group):
    cg = group(pids_max=10)
    proc = cg.popen(["sleep", "30"])
    try:
        deadline = time.monotonic() + 5     # the shell joins each hierarchy, then execs sleep
        while not Path(f"/proc/{proc.pid}/cmdline").read_bytes().startswith(b"sleep") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cg.procs() == [proc.pid]          # the shell exec'd the program: same pid, no extra process
        env = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
        assert f"{config.OWNER_ENV}=08".encode() in env
        mine = cgroups.of(proc.pid)
        assert {p.path for p in mine.parts.values()} <= set(cg.dirs)
    finally:
        cg.kill()
    assert proc.wait(timeout=5) == -9


def test_set_changes_a_limit_and_get_finds_the_group(group):
    cg = group(memory_max="64M")
    cg.set(memory_max="32M", pids_max=5)
    again = cgroups.get(cg.name)
    assert again.limits()["memory_max"] == 32 << 20 and again.limits()["pids_max"] == 5
    cg.set(pids_max="max")
    assert cg.limits()["pids_max"] is None


def test_memory_limit_ends_in_an_oom_kill_the_group_counts(group):
    cg = group(memory_max="32M")
    proc = cg.popen([sys.executable, "-c", ALLOCATE], stderr=subprocess.DEVNULL)
    assert proc.wait(timeout=60) == -9                      # SIGKILL from the OOM killer
    stats = cg.stats()
    assert stats["oom_kills"] == 1
    assert stats["memory_peak"] is None or stats["memory_peak"] <= 32 << 20
    events = cg.events()
    if cg.parts["memory"].version == "v2":
        assert events["memory.events"]["oom_kill"] == 1 and events["memory.events"]["max"] > 0
    else:
        assert events["memory.oom_control"]["oom_kill"] == 1


def test_pids_limit_contains_a_fork_bomb_and_kill_ends_it(group):
    cg = group(pids_max=24, cpus=0.5, memory_max="128M")
    bomb = cg.popen([sys.executable, "-c", BOMB], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while cg.stats()["pids_max_hits"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = cg.stats()
    assert stats["pids_max_hits"] > 0                        # forks were refused
    assert 1 < stats["pids_current"] <= 24
    assert subprocess.run(["true"], timeout=10).returncode == 0   # the host still forks
    assert cg.kill() >= 1
    assert cg.procs() == []
    bomb.wait(timeout=5)


def test_cpu_quota_throttles_a_busy_loop(group):
    cg = group(cpus=0.1)
    spin = cg.popen([sys.executable, "-c", "while True: pass"])
    try:
        deadline = time.monotonic() + 20
        while cg.stats()["cpu_throttled"] < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        stats = cg.stats()
        assert stats["cpu_throttled"] >= 3 and stats["cpu_periods"] >= stats["cpu_throttled"]
        assert stats["cpu_usage_usec"] > 0
    finally:
        cg.kill()
    spin.wait(timeout=5)


def test_freeze_stops_progress_and_thaw_resumes_it(group, tmp_path):
    cg = group()
    counter = tmp_path / "count"
    tick = ("import sys, time\nn = 0\nwhile True:\n    n += 1\n"
            "    open(sys.argv[1], 'w').write(str(n))\n    time.sleep(0.01)\n")
    proc = cg.popen([sys.executable, "-c", tick, str(counter)])

    def count() -> int:
        return int(counter.read_text() or 0) if counter.exists() else 0

    deadline = time.monotonic() + 30
    while count() < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    cg.freeze()
    assert cg.frozen and cg.stats()["frozen"] is True
    held = count()
    time.sleep(0.5)
    assert count() == held                                     # not one step while frozen
    cg.thaw()
    assert not cg.frozen
    deadline = time.monotonic() + 30
    while count() <= held and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count() > held
    cg.kill()
    proc.wait(timeout=5)


def test_kill_and_remove_work_on_a_frozen_group(group):
    cg = group()
    proc = cg.popen(["sleep", "30"])
    while not cg.procs():
        time.sleep(0.01)
    cg.freeze()
    cg.remove()
    assert proc.wait(timeout=5) == -9
    assert not any(d.exists() for d in cg.dirs)


@pytest.mark.parametrize("name, limits", [
    ("demo", {}),                                   # not a lab name: clean could not find it
    ("lab-08-a/b", {}),                             # one directory level only
    ("lab-08-bad-input", {"memory_max": -1}),
    ("lab-08-bad-input", {"pids_max": "lots"}),
    ("lab-08-bad-input", {"nonsense": 1}),
    ("lab-08-bad-input", {"controllers": ["bogus"]}),
])
def test_bad_input_is_a_lab_error_and_makes_nothing(root, name, limits):
    with pytest.raises(LabError):
        cgroups.create(name, **limits)
    assert not [p for p in labkit.inventory.cgroups() if Path(p).name in ("lab-08-bad-input", "demo")]


def test_a_value_the_kernel_refuses_removes_what_was_made(root):
    with pytest.raises(LabError) as err:
        cgroups.create("lab-08-test-refused", pids_max=1 << 40)     # above PID_MAX_LIMIT
    assert "pids.max" in str(err.value) and "EINVAL" in str(err.value)
    assert not [p for p in labkit.inventory.cgroups() if p.endswith("/lab-08-test-refused")]


def test_a_second_create_of_the_same_name_is_refused(group):
    cg = group()
    with pytest.raises(LabError, match="exists already"):
        cgroups.create(cg.name)
    assert all(d.exists() for d in cg.dirs)


def leave_behind(name: str, frozen: bool) -> tuple[cgroups.Cgroup, subprocess.Popen]:
    cg = cgroups.create(name, pids_max=10)
    proc = cg.popen(["sleep", "30"])
    while not cg.procs():
        time.sleep(0.01)
    if frozen:
        cg.freeze()
    return cg, proc


def test_clean_kills_and_removes_a_lessons_groups(root):
    cg, proc = leave_behind("lab-97-left-behind", frozen=False)
    removed = labkit.clean("97")
    assert proc.wait(timeout=10) == -9
    assert {str(d) for d in cg.dirs} <= set(removed["cgroups"])
    assert not any(d.exists() for d in cg.dirs)


def test_clean_thaws_a_frozen_group_before_it_kills(root):
    cg, proc = leave_behind("lab-97-left-frozen", frozen=True)
    try:
        labkit.clean("97")
        assert proc.wait(timeout=10) == -9
        assert not any(d.exists() for d in cg.dirs)
    finally:
        cg.remove()                # what clean left, so the next test starts clean
