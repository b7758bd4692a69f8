"""The v2 path of labkit.cgroups, proven on a real cgroup v2 hierarchy.

This machine may mount cgroups as v1 or hybrid; most learners' machines are pure v2. So
the cgroup tests also run inside a guest: Debian's kernel under qemu (software emulation),
a busybox initramfs, the host's /usr and this repository shared read-only over 9p, and
only cgroup2 mounted at /sys/fs/cgroup with memory, pids and cpu enabled. The guest runs
the same tests with the host's Python and reports over its serial console.
"""
from __future__ import annotations

import json
import re
import shlex
import site
import sys
from pathlib import Path

import pytest

from tests.vm import Guest, qemu_missing

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GUEST_TESTS = ["tests/integration/test_cgroups.py", "tests/unit/test_cgroups_mode.py",
               "tests/unit/test_cgroups_limits.py"]
MUST_PASS = ["test_this_machine_mounts_what_the_test_expects",
             "test_memory_limit_ends_in_an_oom_kill_the_group_counts",
             "test_pids_limit_contains_a_fork_bomb_and_kill_ends_it",
             "test_cpu_quota_throttles_a_busy_loop",
             "test_freeze_stops_progress_and_thaw_resumes_it",
             "test_clean_thaws_a_frozen_group_before_it_kills"]


def python_paths() -> list[Path]:
    """Where this interpreter finds its packages (the venv's site-packages), to share with the guest."""
    return [Path(p) for p in site.getsitepackages() if Path(p).is_dir()]


def shares() -> list[Path]:
    """Directories the guest needs besides /usr: the repository, and site-packages kept elsewhere."""
    out = [REPO]
    for p in python_paths():
        if not any(p == s or s in p.parents for s in out + [Path("/usr")]):
            out.append(p)
    return out


NOTEBOOK = REPO / "notebooks" / "08-cgroups.ipynb"
# Lesson 08's cells that need the lab engine (Docker) cannot run in the guest; every other one does.
ENGINE_CELLS = ("labkit.require(", "DOCKER", "box.", "pids_file", '"08.3"', "labkit.clean(")
# The cells print both versions' file names; the values show the v2 files were the ones read.
LESSON_PROOFS = ["mode: v2", "memory.events (v2) or memory.oom_control (v1): ['oom_kill 1']",
                 "the bomb reached the limit: True", "the host stayed responsive: yes",
                 "cpu.max (v2), or cpu.cfs_quota_us and cpu.cfs_period_us (v1): 20000 100000",
                 "throttled after the quota, or kept under it by a busy machine: yes", "freezer.state FROZEN (v1), or frozen 1 in cgroup.events (v2): True",
                 "progress while frozen: none", "progress after thaw: yes",
                 "the kernel filled the new group with its version's files: so here",
                 "✓ Right: the kernel sees bytes", "held to 50 MiB and 10 processes",
                 "lab-08-mine gone: True",
                 # the v2 sections, whose cells nbval ignores (a hybrid machine prints one line instead)
                 "+memory while lab-08-inner holds a process: EBUSY", "+memory once it sits in lab-08-leaf: ok",
                 "moving the process back up: EBUSY", "raise memory.max of its own group: EACCES",
                 "move itself to lab-08-elsewhere, which it owns too: EACCES", "set lab-08-work's memory.max: ok",
                 "still running: True | memory.current over memory.high: True",
                 "memory.events: high counting | oom_kill 0",
                 "memory.max at the same line: the program ended with -9",
                 "some total grew: True", "full total grew: True",
                 "memory.oom.group 0: the allocator killed, the sleep alive; oom_group_kill 0",
                 "memory.oom.group 1: the allocator killed, the sleep killed; oom_group_kill 1",
                 "is held to 40 MiB in lab-08-first", "lab-08-shared gone, child groups and all: True",
                 "LESSON-08-CELLS-DONE"]


def lesson_script(path: Path) -> None:
    """Lesson 08's code cells, minus the engine's, as one Python script that prints what they show."""
    cells = [c for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    lines = ["import labkit", "from labkit.check import check"]
    for cell in cells:
        src = "".join(cell["source"])
        if any(marker in src for marker in ENGINE_CELLS):
            continue
        body = src.strip().splitlines()
        if body and not body[-1].startswith((" ", "#")) and "=" not in body[-1] and "(" in body[-1]:
            body[-1] = f"print({body[-1]})"       # a cell's last expression is what Jupyter would show
        lines += body
    path.write_text("\n".join(lines) + "\nprint('LESSON-08-CELLS-DONE')\n")


def test_cgroup_tests_pass_on_a_pure_v2_kernel(root, tmp_path):
    why = qemu_missing()
    if why:
        pytest.skip(why)
    guest = Guest.prepare()
    pythonpath = ":".join(map(str, [REPO, *python_paths()]))
    lesson_script(tmp_path / "lesson08.py")
    script = "\n".join([
        f"cd {shlex.quote(str(REPO))}",
        f"export PYTHONPATH={shlex.quote(pythonpath)} PYTHONDONTWRITEBYTECODE=1 LABKIT_EXPECT_CGROUP=v2",
        "/usr/bin/python3 -m pytest -p no:cacheprovider --color=no -v -rA " + " ".join(GUEST_TESTS),
        'if [ $? -eq 0 ]; then echo "LABKIT-VM: PASS"; else echo "LABKIT-VM: FAIL"; fi',
        "cd notebooks",       # the lesson's cells run where Jupyter runs them
        f"/usr/bin/python3 {shlex.quote(str(tmp_path / 'lesson08.py'))} 2>&1",
    ])
    result = guest.run(script, shares=[*shares(), tmp_path], timeout=300)
    console = result.console
    tail = console[-6000:]
    assert "LABKIT-VM: cgroup2 at /sys/fs/cgroup" in console, f"the guest did not get to its job:\n{tail}"
    assert "LABKIT-VM: PASS" in result.lines(), f"the guest's tests failed:\n{tail}"
    summary = re.findall(r"=+ (.*\d+ passed.*) in [\d.]+s", console)
    assert summary and "failed" not in summary[-1] and "error" not in summary[-1], tail
    # -rA repeats every outcome in the summary, one a line: "PASSED tests/...::name"
    passed = set(re.findall(r"^PASSED \S+::(\w+)", console, re.M))
    assert set(MUST_PASS) <= passed, f"not run or not passed in the guest: {set(MUST_PASS) - passed}"
    missing = [line for line in LESSON_PROOFS if line not in console]
    assert not missing, f"lesson 08's cells on v2 did not show {missing}:\n{tail}"
    print(f"guest: {summary[-1]}; lesson 08's cells ran ({result.seconds:.0f} s)", file=sys.stderr)
