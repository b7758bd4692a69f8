"""labkit.ns against the real kernel: children in new namespaces, held namespaces, joins, id maps.

Every experiment runs in a forked child, so this test process keeps its own namespaces
(each test checks that too, through the autouse fixture).
"""
from __future__ import annotations

import errno
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from labkit import config, inventory, ns
from labkit.errors import BadInput, LabError
from labkit.kernel import (CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWTIME,
                           CLONE_NEWUSER, CLONE_NEWUTS, MS_PRIVATE, MS_REC, MS_SHARED, KernelError, mount,
                           sethostname, unshare)

pytestmark = pytest.mark.integration


def lab_processes() -> set[int]:
    return set(inventory.lab_owned_pids("07"))


@pytest.fixture(autouse=True)
def stays_home(root):
    """This process never changes namespace, and no test leaves a process or a mount behind."""
    before = (ns.inodes(), inventory.mounts(), lab_processes())
    yield
    deadline = time.monotonic() + 5
    while lab_processes() - before[2] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (ns.inodes(), inventory.mounts(), lab_processes()) == before


# -- in_child -------------------------------------------------------------------------------

def test_in_child_returns_the_result_and_relays_what_the_child_printed(capsys):
    def child():
        print("hello from", "the child")
        return {"pid": os.getpid(), "items": [1, 2]}

    value = ns.in_child(child)
    assert value["items"] == [1, 2] and value["pid"] != os.getpid()
    assert capsys.readouterr().out == "hello from the child\n"


def test_in_child_raises_the_childs_exception_here():
    with pytest.raises(KernelError) as err:
        ns.in_child(unshare, 0x1)                 # not a namespace flag: the kernel says EINVAL
    assert err.value.errno == errno.EINVAL and "unshare(0x1)" in str(err.value)
    with pytest.raises(ZeroDivisionError) as err:
        ns.in_child(lambda: 1 / 0)
    assert "In the child process" in err.value.__notes__[0]


def test_a_labkit_error_keeps_its_three_parts():
    def child():
        raise BadInput("what", "why", "fix")

    with pytest.raises(BadInput) as err:
        ns.in_child(child)
    assert (err.value.what, err.value.why, err.value.fix) == ("what", "why", "fix")


def test_an_unpicklable_result_is_an_error_not_a_hang():
    with pytest.raises(LabError, match="cannot be sent back"):
        ns.in_child(lambda: (lambda: None))


def test_a_child_that_hangs_is_killed_at_the_timeout():
    with pytest.raises(LabError, match="did not finish"):
        ns.in_child(time.sleep, 30, timeout=0.5)


def test_a_child_that_vanishes_is_an_error():
    with pytest.raises(LabError, match="without an answer"):
        ns.in_child(os._exit, 3)
    with pytest.raises(LabError, match="killed by SIGKILL"):
        ns.in_child(lambda: os.kill(os.getpid(), signal.SIGKILL))


# -- run and run_command ----------------------------------------------------------------------

def test_run_gives_a_hostname_of_its_own():
    name, link = ns.run(lambda: (sethostname("lab-07-t-uts"), socket.gethostname(), ns.inode("self", "uts"))[1:],
                        CLONE_NEWUTS)
    assert name == "lab-07-t-uts" and socket.gethostname() != name
    assert link != ns.inode("self", "uts")


def test_run_with_a_pid_namespace_runs_the_function_as_pid_1_with_its_own_proc():
    got = ns.run(lambda: (os.getpid(), os.getppid(), os.readlink("/proc/self"),
                          sorted(int(p) for p in os.listdir("/proc") if p.isdigit())),
                 CLONE_NEWPID | CLONE_NEWNS, mount_proc=True)
    assert got == (1, 0, "1", [1])


@pytest.fixture
def scratch():
    """A directory uid 100000 can reach (pytest's tmp_path is private to root)."""
    import shutil

    path = config.SCRATCH / "lab-07-t-scratch"
    path.mkdir(parents=True, exist_ok=True)
    yield path
    shutil.rmtree(path)


def test_run_with_a_user_namespace_is_root_inside_and_the_mapped_uid_outside(scratch):
    os.chown(scratch, 100000, 100000)

    def child():
        (scratch / "f").write_text("x")
        return os.getuid(), os.getgid(), Path("/proc/self/uid_map").read_text().split()

    assert ns.run(child, CLONE_NEWUSER, uid_map="0 100000 1", gid_map="0 100000 1") == (0, 0, ["0", "100000", "1"])
    st = os.stat(scratch / "f")
    assert (st.st_uid, st.st_gid) == (100000, 100000)


def test_run_with_maps_the_kernel_refuses_is_an_error():
    # Writing a map needs privilege over the *parent* of the user namespace: a grandchild user
    # namespace, mapped to an id its parent does not map, is refused.
    with pytest.raises(LabError, match="maps were not written"):
        ns.run(lambda: ns.run(os.getuid, CLONE_NEWUSER, uid_map="0 5000 1"),
               CLONE_NEWUSER, uid_map="0 100000 1", gid_map="0 100000 1")


def test_run_with_a_time_namespace_shifts_the_childs_monotonic_clock():
    def shifted():
        unshare(CLONE_NEWTIME)
        Path("/proc/self/timens_offsets").write_text("monotonic 3600 0\n")
        return ns.in_child(time.monotonic) - time.monotonic()

    assert 3599 < ns.in_child(shifted) < 3601
    assert ns.run(lambda: ns.inode("self", "time"), CLONE_NEWTIME) != ns.inode("self", "time")


def test_run_command_makes_the_command_pid_1_and_carries_the_lesson():
    done = ns.run_command(["sh", "-c", "echo $$; tr '\\0' '\\n' < /proc/$$/environ | grep LABKIT_LESSON; ls /proc | grep -c '^[0-9]'"],
                          CLONE_NEWPID | CLONE_NEWNS, mount_proc=True, lesson="07")
    assert done.returncode == 0
    assert done.stdout.split()[:2] == ["1", "LABKIT_LESSON=07"]
    assert int(done.stdout.split()[2]) <= 3          # sh, and the pipeline's two processes: nothing else


def test_run_command_as_root_of_a_user_namespace():
    done = ns.run_command(["id", "-u"], CLONE_NEWUSER, uid_map="0 100000 1", gid_map="0 100000 1")
    assert done.stdout.strip() == "0"


def test_run_command_reports_exit_codes_missing_programs_and_timeouts():
    assert ns.run_command(["sh", "-c", "exit 3"], CLONE_NEWUTS).returncode == 3
    with pytest.raises(LabError, match="No program 'lab-no-such-program'"):
        ns.run_command(["lab-no-such-program"], CLONE_NEWUTS)
    with pytest.raises(LabError, match="did not finish"):
        ns.run_command(["sleep", "30"], CLONE_NEWUTS, timeout=0.5)


# -- hold, inodes, shared, join ----------------------------------------------------------------

def test_a_held_process_keeps_its_namespaces_until_released():
    with ns.hold(flags=CLONE_NEWUTS | CLONE_NEWIPC) as held:
        assert held.alive
        assert ns.shared(held.pid) == set(ns.KINDS) - {"uts", "ipc"}
        assert ns.shared(held.pid, os.getpid()) == ns.shared(os.getpid(), held.pid)
        assert Path(f"/proc/{held.pid}/cmdline").read_bytes().split(b"\0")[0] == b"sleep"
        assert held.pid in lab_processes()          # labkit.clean("07") would find it
    assert not held.alive and not Path(f"/proc/{held.pid}").exists()
    held.release()                                  # a second release is harmless


def test_a_held_setup_that_fails_leaves_no_process():
    def setup():
        raise LabError("setup failed", "on purpose", "")

    with pytest.raises(LabError, match="setup failed"):
        ns.hold(setup, flags=CLONE_NEWUTS)


def test_join_enters_a_held_processes_namespaces():
    def setup():
        sethostname("lab-07-t-held")

    with ns.hold(setup, flags=CLONE_NEWUTS) as held:
        assert ns.join(held.pid, socket.gethostname) == "lab-07-t-held"          # default: what differs
        assert ns.join(held.pid, socket.gethostname, ["uts"]) == "lab-07-t-held"
        assert ns.join(held.pid, socket.gethostname, ["net"]) == socket.gethostname()
        assert ns.join({"uts": f"/proc/{held.pid}/ns/uts"}, socket.gethostname) == "lab-07-t-held"
        assert ns.join_command(held.pid, ["hostname"], ["uts"]).stdout.strip() == "lab-07-t-held"


def test_join_a_pid_namespace_runs_the_function_in_a_child_there():
    def init():
        with ns.hold() as held:          # a second process in this PID namespace, pid 2 here
            return held.pid, ns.inode("self", "pid"), Path("/proc/self/status").read_text()

    inner, pidns, _status = ns.run(init, CLONE_NEWPID | CLONE_NEWNS, mount_proc=True)
    assert inner == 2 and pidns != ns.inode("self", "pid")


def test_write_id_maps_by_hand_then_a_second_write_is_refused():
    with ns.hold(flags=CLONE_NEWUSER) as held:
        assert ns.id_maps(held.pid) == {"uid": [], "gid": []}
        ns.write_id_maps(held.pid, "0 100000 1", "0 100000 1", setgroups="deny")
        assert ns.id_maps(held.pid)["uid"] == [ns.IdRange(0, 100000, 1)]
        assert Path(f"/proc/{held.pid}/setgroups").read_text().strip() == "deny"
        with pytest.raises(LabError, match="Operation not permitted"):
            ns.write_id_maps(held.pid, "0 200000 1")

        def inside():
            before = os.getuid()
            os.setgid(0)
            os.setuid(0)
            return before, os.getuid()

        assert ns.join(held.pid, inside, ["user"]) == (65534, 0)      # unmapped until setuid(0)


def test_mounts_shows_another_processes_mount_table_and_propagation(scratch):
    point = scratch / "point"
    point.mkdir()

    def setup():
        unshare(CLONE_NEWNS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        mount("lab-07-t", point, "tmpfs")
        mount(None, point, None, MS_SHARED)

    with ns.hold(setup) as held:
        seen = ns.mounts(held.pid, under=point)
        assert [(m.point, m.fstype, m.propagation) for m in seen] == [(str(point), "tmpfs", "shared")]
        assert ns.mounts(under=point) == []


def test_a_cgroup_namespace_makes_the_current_cgroup_its_root():
    def child():
        unshare(CLONE_NEWCGROUP)
        return Path("/proc/self/cgroup").read_text().splitlines()

    assert all(line.endswith(":/") for line in ns.in_child(child))


def test_what_is_gone_is_an_error():
    with ns.hold() as held:
        pid = held.pid
    for call in (lambda: ns.inodes(pid), lambda: ns.join(pid, os.getpid), lambda: ns.mounts(pid),
                 lambda: ns.id_maps(pid), lambda: ns.write_id_maps(pid, "0 100000 1")):
        with pytest.raises(LabError, match=f"No process {pid}"):
            call()
    with pytest.raises(LabError, match="No namespace file"):
        ns.join({"net": "/run/netns/lab-07-t-absent"}, os.getpid)
    with pytest.raises(LabError, match="permission denied|No process"):
        ns.inodes(2**22 + 1)


def test_bad_input_to_every_public_function_changes_nothing():
    from tests.unit.test_ns_logic import BAD_CALLS

    before = (inventory.mounts(), inventory.netns(), inventory.interfaces(), lab_processes())
    for call in BAD_CALLS:
        with pytest.raises(BadInput):
            call()
    assert (inventory.mounts(), inventory.netns(), inventory.interfaces(), lab_processes()) == before
