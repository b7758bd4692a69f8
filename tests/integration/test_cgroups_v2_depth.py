"""cgroup v2 beyond limits, against the real kernel: what lesson 08's v2 sections show.

Those cells run for real only on a pure v2 machine, and nbval ignores their output (a hybrid
machine prints one line instead). So this file asserts each behaviour through labkit and the
kernel: the no-internal-process rule, delegation, memory.high against memory.max, pressure stall
information, and memory.oom.group. CI runs it in the systemd + cgroup v2 guest (test_systemd_vm.py
runs every integration test there); on a v1 or hybrid machine those tests skip, saying why. The
tests of labkit's own part (remove() takes child groups along, /proc/pressure is read) run anywhere.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit import cgroups
from labkit.cgroups import files

pytestmark = pytest.mark.integration

v2_only = pytest.mark.skipif(cgroups.mode() != "v2", reason=f"needs a pure cgroup v2 machine; this one mounts "
                             f"cgroups as {cgroups.mode()} (CI runs these in its systemd + cgroup v2 guest)")

NOBODY = 65534
# Grows until its group holds 2 MiB more than its memory.high, then says so and holds on.
PAST_HIGH = """
import sys, time
group = sys.argv[1]
current = lambda: int(open(f"{group}/memory.current").read())
high = int(open(f"{group}/memory.high").read())
hog = []
while current() < high + (2 << 20):
    hog.append(bytearray(256 << 10))
print("holding", flush=True)
time.sleep(600)
"""
ALLOCATE = "import time\nhog = []\nwhile True:\n    hog.append(bytearray(1 << 20))\n    time.sleep(0.01)\n"
# Run as the delegatee: what it may and may not write, one "what: ok|ERRNO" line each.
TENANT = """
import errno, os, sys
top, other = sys.argv[1], sys.argv[2]
def attempt(what, action):
    try:
        action()
        print(f"{what}: ok", flush=True)
    except OSError as err:
        print(f"{what}: {errno.errorcode[err.errno]}", flush=True)
def put(path, value):
    with open(path, "w") as f:
        f.write(str(value))
sys.stdin.readline()
me = os.getpid()
attempt("mkdir", lambda: os.mkdir(f"{top}/lab-08-work"))
attempt("move within", lambda: put(f"{top}/lab-08-work/cgroup.procs", me))
attempt("enable memory below", lambda: put(f"{top}/cgroup.subtree_control", "+memory"))
attempt("child's memory.max", lambda: put(f"{top}/lab-08-work/memory.max", 64 << 20))
attempt("own memory.max", lambda: put(f"{top}/memory.max", 1 << 30))
attempt("move out", lambda: put(f"{other}/cgroup.procs", me))
"""


@pytest.fixture
def group(root, request):
    """Fresh lab cgroups for one test, removed (with whatever is inside and below) afterwards."""
    made = []

    def make(controllers=("memory",), **limits):
        cg = cgroups.create(f"lab-08-test-{request.node.name[5:28].replace('_', '-')}-{len(made)}",
                            controllers=list(controllers), **limits)
        made.append(cg)
        return cg

    yield make
    for cg in made:
        cg.remove()


def fate(proc: subprocess.Popen, wait: float = 2.0) -> str:
    try:
        return "killed" if proc.wait(timeout=wait) == -9 else f"exited {proc.returncode}"
    except subprocess.TimeoutExpired:
        return "alive"


# -- anywhere -------------------------------------------------------------------------------------

def test_remove_takes_child_groups_and_their_processes_along(group):
    cg = group(controllers=("pids",))
    top = cg.path("pids")
    (top / "lab-08-child" / "lab-08-grandchild").mkdir(parents=True)
    proc = subprocess.Popen(["sleep", "60"], env={**os.environ, "LABKIT_LESSON": "08"})
    files.write(top / "lab-08-child" / "lab-08-grandchild" / "cgroup.procs", proc.pid)
    assert cg.procs() == []                                  # its own members only
    cg.remove()
    assert fate(proc) == "killed"
    assert not top.exists()


def test_the_machine_wide_pressure_files_have_some_and_full_lines():
    if not cgroups.pressure.SYSTEM.exists():
        pytest.skip("PSI is off in this kernel (CONFIG_PSI, or booted with psi=0)")
    for resource in cgroups.pressure.RESOURCES:
        stalls = cgroups.pressure.system(resource)
        assert set(stalls) == {"some", "full"}, resource
        assert all(s.total >= 0 and 0 <= s.avg10 <= 100 for s in stalls.values())


# -- v2 only --------------------------------------------------------------------------------------

@v2_only
def test_a_domain_controller_is_refused_while_the_group_holds_a_process(group):
    cg = group()
    top = cg.path("memory")
    sleeper = cg.popen(["sleep", "60"])
    assert files.attempt(top / "cgroup.subtree_control", "+memory") == "EBUSY"
    (top / "lab-08-leaf").mkdir()
    files.write(top / "lab-08-leaf" / "cgroup.procs", sleeper.pid)
    assert files.attempt(top / "cgroup.subtree_control", "+memory") == "ok"
    assert (top / "lab-08-leaf" / "memory.max").exists()
    assert files.attempt(top / "cgroup.procs", sleeper.pid) == "EBUSY"        # and not back up either
    cg.remove()
    assert fate(sleeper) == "killed" and not top.exists()


@v2_only
def test_threaded_controllers_are_let_into_a_group_that_holds_a_process(group):
    cg = group(controllers=("memory", "pids", "cpu"))
    top = cg.path("memory")
    cg.popen(["sleep", "60"])
    for controller in ("pids", "cpu"):
        assert files.attempt(top / "cgroup.subtree_control", f"+{controller}") == "ok", controller
        files.write(top / "cgroup.subtree_control", f"-{controller}")


@v2_only
def test_a_delegatee_arranges_its_subtree_but_not_its_own_limits_nor_its_borders(group):
    delegated, elsewhere = group(), group()
    for d in (delegated.path("memory"), elsewhere.path("memory")):
        for f in (d, d / "cgroup.procs", d / "cgroup.subtree_control", d / "cgroup.threads"):
            os.chown(f, NOBODY, NOBODY)
    tenant = subprocess.Popen([os.path.realpath(sys.executable), "-c", TENANT, str(delegated.path("memory")),
                               str(elsewhere.path("memory"))], user=NOBODY, group=NOBODY, extra_groups=[], cwd="/",
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "LABKIT_LESSON": "08"})
    delegated.add(tenant.pid)
    out = tenant.communicate("go\n", timeout=60)[0]
    said = dict(line.split(": ", 1) for line in out.splitlines())
    assert said == {"mkdir": "ok", "move within": "ok", "enable memory below": "ok", "child's memory.max": "ok",
                    "own memory.max": "EACCES", "move out": "EACCES"}, out
    assert {"cgroup.procs", "cgroup.subtree_control", "cgroup.threads"} <= set(
        Path("/sys/kernel/cgroup/delegate").read_text().split())


def throttled(group) -> tuple[cgroups.Cgroup, subprocess.Popen, dict, dict]:
    """A group held 2 MiB past memory.high = 32 MiB, no swap: (group, program, pressure before, after)."""
    cg = group()
    d = cg.path("memory")
    if (d / "memory.swap.max").exists():
        files.write(d / "memory.swap.max", 0)
    files.write(d / "memory.high", 32 << 20)
    before = cgroups.pressure.read(d / "memory.pressure")
    proc = cg.popen([sys.executable, "-c", PAST_HIGH, str(d)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return cg, proc, before, cgroups.pressure.read(d / "memory.pressure")


@v2_only
def test_over_memory_high_a_group_is_throttled_not_killed_and_memory_max_kills(group):
    cg, proc, _, _ = throttled(group)
    d = cg.path("memory")
    time.sleep(0.5)
    events = cg.events()["memory.events"]
    assert proc.poll() is None
    assert events["high"] > 0 and events["oom_kill"] == 0 and events["max"] == 0
    assert int(files.read(d / "memory.current")) > 32 << 20
    files.write(d / "memory.max", 32 << 20)
    assert proc.wait(timeout=10) == -9
    assert cg.events()["memory.events"]["oom_kill"] == 1


@v2_only
def test_memory_pressure_grows_while_the_group_is_throttled(group):
    cg, _, before, after = throttled(group)
    for kind in ("some", "full"):
        assert after[kind].total > before[kind].total, kind
    assert {p.name for p in cg.path("memory").glob("*.pressure")} >= {"cpu.pressure", "memory.pressure", "io.pressure"}


@v2_only
@pytest.mark.parametrize("oom_group", [0, 1])
def test_memory_oom_group_kills_the_whole_group_or_only_the_largest(group, oom_group):
    cg = group(memory_max="32M")
    files.write(cg.path("memory") / "memory.oom.group", oom_group)
    bystander = cg.popen(["sleep", "60"])
    hog = cg.popen([sys.executable, "-c", ALLOCATE], stderr=subprocess.DEVNULL)
    assert hog.wait(timeout=60) == -9
    events = cg.events()["memory.events"]
    assert fate(bystander) == ("killed" if oom_group else "alive")
    assert events.get("oom_group_kill", 0) == oom_group
