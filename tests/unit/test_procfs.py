"""labkit.kernel.procfs: mountinfo lines parsed field by field, and a process's /proc files read
from this process, a child, a zombie, a vanished pid and a recorded /proc."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from labkit.errors import BadInput, LabError
from labkit.kernel import procfs

# Recorded from lesson machines: an ext4 root, a Docker-style overlay with a peer group, a tmpfs at
# a path with a space, and an overlay whose upper dir has one too (the kernel writes it as \040).
MOUNTINFO = r"""27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
63 42 0:50 / /var/lib/x/merged rw,relatime shared:2 - overlay overlay rw,lowerdir=/l/A:/l/B,upperdir=/u,workdir=/w

70 27 0:60 / /run/with\040space rw,nosuid - tmpfs lab\040tmp rw,size=4k
71 27 0:61 /sub\040dir /mnt/bind rw master:3 - overlay overlay rw,lowerdir=/l/C,upperdir=/u\040p,workdir=/w\040k
"""
RECORDED = ("62 27 0:50 / /run/labkit/containerd/io.containerd.runtime.v2.task/lab-03-ns/lab-03-ctr/rootfs "
            "rw,relatime - overlay overlay rw,lowerdir=/s/105/fs:/s/104/fs:/s/103/fs,upperdir=/s/106/fs,"
            "workdir=/s/106/work,index=off")


def test_octal_escapes_are_undone():
    assert procfs.unescape(r"/a\040b\011c\012d\134e") == "/a b\tc\nd\\e"
    assert procfs.unescape(r"/no\08escape") == r"/no\08escape"       # three octal digits, or it is not one


def test_every_field_of_a_mountinfo_line():
    line = r"36 35 98:0 /mnt\0401 /mnt2 rw,noatime shared:12 master:1 - ext3 /dev/root rw,errors=continue"
    m = procfs.parse_mountinfo_line(line)
    assert m == procfs.Mount(mount_id=36, parent_id=35, major_minor="98:0", root="/mnt 1", point="/mnt2",
                             options="rw,noatime", optional="shared:12 master:1", fstype="ext3", source="/dev/root",
                             super_options="rw,errors=continue")
    assert (m.type, m.target) == ("ext3", "/mnt2")        # containerd's and mount(8)'s names for them


@pytest.mark.parametrize("line, point, fstype, propagation", [
    ("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue", "/mnt2", "ext3", "slave"),
    ("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw", "/", "ext4", "private"),
    ("43 27 0:4 net:[4026532179] /run/netns/lab-07-a rw shared:3 - nsfs nsfs rw", "/run/netns/lab-07-a", "nsfs", "shared"),
    ("50 27 0:5 / /x rw shared:4 master:2 - tmpfs tmpfs rw", "/x", "tmpfs", "shared+slave"),
    ("51 27 0:6 / /y rw unbindable - tmpfs tmpfs rw", "/y", "tmpfs", "unbindable"),
    (r"52 27 0:7 / /with\040space rw - tmpfs lab\040tmp rw", "/with space", "tmpfs", "private"),
])
def test_mountinfo_lines_give_point_type_and_propagation(line, point, fstype, propagation):
    m = procfs.parse_mountinfo_line(line)
    assert (m.point, m.fstype, m.propagation) == (point, fstype, propagation)


@pytest.mark.parametrize("line", [
    "36 35 98:0 /mnt1 /mnt2 rw",                             # no ' - ' separator
    "36 35 98:0 /mnt1 rw - ext3 /dev/root rw",               # a field short before it
    "36 35 98:0 /mnt1 /mnt2 rw - ext3",                      # no source after it
    "mount -t overlay overlay /mnt -o lowerdir=/a",          # `ctr snapshots mounts`, not mountinfo
])
def test_a_broken_mountinfo_line_is_refused(line):
    with pytest.raises(BadInput, match="not a mountinfo line"):
        procfs.parse_mountinfo_line(line)


def test_mountinfo_text_is_read_with_escapes_and_propagation():
    ms = procfs.mounts(text=MOUNTINFO)                       # the blank line is skipped
    assert [m.point for m in ms] == ["/", "/var/lib/x/merged", "/run/with space", "/mnt/bind"]
    ov = ms[1]
    assert (ov.fstype, ov.optional, ov.propagation, ov.options) == ("overlay", "shared:2", "shared", "rw,relatime")
    assert ov.super_options == "rw,lowerdir=/l/A:/l/B,upperdir=/u,workdir=/w"
    assert (ms[2].source, ms[3].root) == ("lab tmp", "/sub dir")


def test_overlay_options_name_its_layers():
    ov, tmp, spaced = procfs.mounts(text=MOUNTINFO)[1:]
    assert (ov.upperdir, ov.workdir, ov.lowerdirs) == ("/u", "/w", ["/l/A", "/l/B"])
    assert (spaced.upperdir, spaced.workdir, spaced.lowerdirs) == ("/u p", "/w k", ["/l/C"])
    assert tmp.option("size") == "4k" and tmp.option("nosuid") == "" and tmp.option("missing") == ""
    assert (tmp.lowerdirs, tmp.upperdir) == ([], "")
    m = procfs.parse_mountinfo_line(RECORDED)
    assert [d.rsplit("/", 2)[1] for d in m.lowerdirs] == ["105", "104", "103"]
    assert (m.upperdir, m.option("index")) == ("/s/106/fs", "off")


def test_a_colon_escaped_by_overlayfs_stays_in_its_layer():
    m = procfs.parse_mountinfo_line(r"1 0 0:1 / /m rw - overlay overlay rw,lowerdir=/a\:b:/c,upperdir=/u")
    assert m.lowerdirs == [r"/a\:b", "/c"]


def test_this_process_sees_its_root_mounted():
    mine = procfs.mounts()
    assert "/" in {m.point for m in mine}
    assert [m.mount_id for m in procfs.mounts(os.getpid())] == [m.mount_id for m in mine]


# -- a process --------------------------------------------------------------------------------------


def test_readers_on_this_process():
    pid = os.getpid()
    assert procfs.cmdline(pid) == procfs.cmdline("self") and procfs.cmdline(pid)
    assert procfs.parent_pid(pid) == os.getppid() == int(procfs.status(pid)["PPid"])
    assert procfs.status(pid)["Pid"] == str(pid) and procfs.status(pid)["NSpid"].split()[0] == str(pid)
    assert procfs.state(pid) == "R" and procfs.alive(pid)           # it is reading its own stat: running
    assert 0 <= procfs.running_for(pid) < procfs.uptime()
    assert procfs.comm(pid) == procfs.status(pid)["Name"]


@pytest.fixture
def child():
    proc = subprocess.Popen(["sleep", "59.75"], env={**os.environ, "LAB_PROCFS": "a b=c"})
    deadline = time.monotonic() + 10
    while procfs.cmdline(proc.pid) != ["sleep", "59.75"] and time.monotonic() < deadline:
        time.sleep(0.01)        # Popen may return while the child is still inside execve(2)
    yield proc
    proc.kill()
    proc.wait()


def test_readers_on_a_child_then_its_zombie_then_nothing(child):
    pid = child.pid
    assert procfs.cmdline(pid) == ["sleep", "59.75"] and procfs.comm(pid) == "sleep"
    assert procfs.parent_pid(pid) == os.getpid()
    assert procfs.environ(pid)["LAB_PROCFS"] == "a b=c"             # split at the first '=' only
    assert procfs.alive(pid) and procfs.started(pid) >= procfs.started(os.getpid())
    os.kill(pid, signal.SIGKILL)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)               # exited, not reaped: a zombie
    assert procfs.state(pid) == "Z" and not procfs.alive(pid)
    assert procfs.cmdline(pid) == []
    child.wait()                                                    # reaped: /proc/PID is gone
    assert_vanished(pid)


def assert_vanished(pid: int | str) -> None:
    assert procfs.cmdline(pid) == [] and procfs.comm(pid) is None and procfs.status(pid) == {}
    assert procfs.environ(pid) == {} and procfs.state(pid) is None and not procfs.alive(pid)
    for read in (procfs.parent_pid, procfs.started, procfs.running_for, procfs.mounts):
        with pytest.raises(LabError, match=f"No process {pid}"):
            read(pid)


@pytest.mark.parametrize("not_a_pid", ["", "cmdline", "../1", "-1", "1\n", True, 0])
def test_a_name_that_is_not_a_pid_is_no_process(not_a_pid):
    # /proc/cmdline is the kernel's command line, /proc/../1 is not /proc/1: never read them as a process
    assert_vanished(not_a_pid)


@pytest.fixture
def fake_proc(tmp_path, monkeypatch):
    """A recorded /proc: process 4242 with a comm holding ') ', and an uptime of 150 s."""
    monkeypatch.setattr(procfs, "PROC", tmp_path)
    base = tmp_path / "4242"
    base.mkdir()
    ticks = os.sysconf("SC_CLK_TCK")
    (base / "stat").write_text(f"4242 (a) b) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 {100 * ticks} 0 0\n")
    (base / "status").write_text("Name:\ta) b\nState:\tS (sleeping)\nPPid:\t1\nNSpid:\t4242\t1\n")
    (tmp_path / "uptime").write_text("150.00 300.00\n")
    return base


def test_stat_is_cut_at_the_last_parenthesis(fake_proc):
    assert procfs.state(4242) == "S"
    assert procfs.started(4242) == 100.0 and procfs.running_for(4242) == 50.0
    assert procfs.status(4242)["NSpid"].split() == ["4242", "1"]


@pytest.mark.parametrize("raw, argv", [
    (b"sleep\x003600\x00", ["sleep", "3600"]),
    (b"sh\x00-c\x00\x00", ["sh", "-c", ""]),                        # an empty argument is an argument
    (b"nginx: master process", ["nginx: master process"]),         # a title rewritten without its NUL
    (b"", []),                                                      # a kernel thread
    (b"caf\xe9\x00", ["caf\ufffd"]),                                # not UTF-8: replaced, not raised
])
def test_cmdline_splits_at_nul(raw, argv):
    assert procfs.parse_cmdline(raw) == argv


def test_stat_fields_are_numbered_as_proc5_does():
    fields = procfs.parse_stat("43 (a) b)) R 42 7 9 0")
    assert fields == ["43", "a) b)", "R", "42", "7", "9", "0"]          # fields[2] is field 3, the state
    assert procfs.parse_stat("no parentheses here") == [] and procfs.parse_stat("") == []


def test_status_lines_become_a_dict():
    text = "Name:\ttmux: server\nNSpid:\t90\t1\nno colon\n"
    assert procfs.parse_status(text) == {"Name": "tmux: server", "NSpid": "90\t1"}


def test_a_daemon_is_found_by_its_exact_argv_while_it_lives(child):
    from labkit.engine.daemon import Daemon

    def daemon(*argv):
        return Daemon("lab-procfs", list(argv), ready=lambda: True)

    assert daemon("sleep", "59.75").pid() == child.pid
    assert daemon("sleep").pid() is None and daemon("sleep", "59.75", "x").pid() is None
    child.kill()
    child.wait()
    assert daemon("sleep", "59.75").pid() is None
