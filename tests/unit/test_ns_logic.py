"""labkit.ns's pure parts: namespace links, id maps, flags, and arguments refused before anything
is forked. (mountinfo lines: tests/unit/test_procfs.py.)"""
from __future__ import annotations

import os

import pytest

from labkit import ns
from labkit.errors import BadInput
from labkit.kernel import CLONE_FS, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS


def test_a_namespace_link_gives_its_kind_and_inode():
    assert ns.parse_link("net:[4026531840]") == ("net", 4026531840)
    assert ns.parse_link("pid_for_children:[4026531836]\n") == ("pid_for_children", 4026531836)
    for bad in ("net:4026531840", "net:[]", "", None, "/proc/1/ns/net"):
        with pytest.raises(BadInput, match="not a namespace link"):
            ns.parse_link(bad)


def test_kinds_and_flags_map_both_ways():
    assert ns.kinds_of(CLONE_NEWUTS | CLONE_NEWNET) == ["net", "uts"]
    assert ns.flags_of(["uts", "net", "uts"]) == CLONE_NEWUTS | CLONE_NEWNET
    assert set(ns.KINDS) == {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}
    assert ns.JOIN_ORDER[0] == "user" and set(ns.JOIN_ORDER) == set(ns.KINDS)


@pytest.mark.parametrize("flags", [CLONE_FS, CLONE_NEWUTS | 1, -1, "uts", True, 1.5])
def test_flags_that_are_not_clone_new_flags_are_refused(flags):
    with pytest.raises(BadInput):
        ns.kinds_of(flags)


@pytest.mark.parametrize("kinds", ["net", ["net", "network"], ["pid_for_children"]])
def test_unknown_kinds_are_refused(kinds):
    with pytest.raises(BadInput):
        ns.flags_of(kinds)


def test_id_map_lines_are_checked_like_the_kernel_does():
    assert ns.id_map_line(0, 100000, 65536) == "0 100000 65536"
    assert ns.parse_id_map("0 100000 1\n1 100001 65535\n") == [ns.IdRange(0, 100000, 1), ns.IdRange(1, 100001, 65535)]
    assert ns.IdRange(0, 100000, 65536).to_outside(65535) == 165535
    assert ns.IdRange(0, 100000, 1).to_outside(1) is None


@pytest.mark.parametrize("text, why", [
    ("", "empty"),
    ("0:100000:1", "not an id map line"),
    ("0 100000", "not an id map line"),
    ("0 -1 1", "not an id map line"),
    ("0 100000 0", "at least one id"),
    ("0 4294967290 10", "past the largest id"),
    ("0 100000 10\n5 200000 10", "overlapping inside ids"),
    ("0 100000 10\n10 100005 10", "overlapping outside ids"),
    ("\n".join(f"{i} {100000 + i} 1" for i in range(341)), "at most 340 lines"),
])
def test_bad_id_maps_are_refused(text, why):
    with pytest.raises(BadInput, match=why):
        ns.parse_id_map(text)


@pytest.mark.parametrize("args", [(-1, 0, 1), (0, 0, 0), (0, True, 1), ("0", 0, 1)])
def test_bad_id_map_ranges_are_refused(args):
    with pytest.raises(BadInput):
        ns.id_map_line(*args)


def test_lesson_env_carries_the_lesson(monkeypatch):
    monkeypatch.delenv("LABKIT_LESSON", raising=False)
    assert ns.lesson_env()["LABKIT_LESSON"] == "07"
    assert ns.lesson_env("10")["LABKIT_LESSON"] == "10"
    monkeypatch.setenv("LABKIT_LESSON", "9")
    assert ns.lesson_env()["LABKIT_LESSON"] == "09"
    with pytest.raises(BadInput):
        ns.lesson_env("seven")


# Every call below is refused before any fork, mount or namespace (tests/integration/test_ns.py runs
# them again, as root, and checks that nothing changed).
BAD_CALLS = [
    lambda: ns.in_child("not a function"),
    lambda: ns.in_child(print, timeout=0),
    lambda: ns.run(print, CLONE_NEWUTS | CLONE_FS),
    lambda: ns.run(print, CLONE_NEWUTS, uid_map="0 100000 1"),
    lambda: ns.run(print, CLONE_NEWUSER, gid_map="0 100000 1"),
    lambda: ns.run(print, CLONE_NEWUSER, uid_map="0 100000"),
    lambda: ns.run(print, CLONE_NEWUSER, uid_map="0 100000 1", setgroups="maybe"),
    lambda: ns.run(print, CLONE_NEWPID, mount_proc=True),
    lambda: ns.run(print, CLONE_NEWNS, mount_proc=True),
    lambda: ns.run_command("hostname", CLONE_NEWUTS),
    lambda: ns.run_command([], CLONE_NEWUTS),
    lambda: ns.run_command(["hostname", 1], CLONE_NEWUTS),
    lambda: ns.run_command(["hostname"], CLONE_NEWUTS, lesson="x"),
    lambda: ns.join(0, print),
    lambda: ns.join("1", print),
    lambda: ns.join(os.getpid(), print, "net"),
    lambda: ns.join(os.getpid(), print, ["network"]),
    lambda: ns.join({}, print),
    lambda: ns.join({"network": "/proc/self/ns/net"}, print),
    lambda: ns.join({"net": "/proc/self/ns/net"}, print, ["net"]),
    lambda: ns.join_command(os.getpid(), "hostname"),
    lambda: ns.hold(flags=CLONE_NEWPID),
    lambda: ns.hold("not a function"),
    lambda: ns.hold(flags=CLONE_NEWUTS, uid_map="0 100000 1"),
    lambda: ns.write_id_maps(os.getpid(), "0 100000 1", setgroups="yes"),
    lambda: ns.write_id_maps(os.getpid(), "0:100000:1"),
    lambda: ns.write_id_maps(-5, "0 100000 1"),
    lambda: ns.inodes(0),
    lambda: ns.inode(os.getpid(), "network"),
    lambda: ns.mounts(True),
    lambda: ns.id_maps("1"),
]


@pytest.mark.parametrize("call", BAD_CALLS)
def test_bad_arguments_are_refused_before_anything_happens(call):
    with pytest.raises(BadInput):
        call()


def test_mounts_under_a_path_are_those_at_it_and_below():
    assert [m.point for m in ns.mounts(os.getpid(), under="/")] == [m.point for m in ns.mounts()]
    proc = [m.point for m in ns.mounts(under="/proc/")]
    assert "/proc" in proc and all(p == "/proc" or p.startswith("/proc/") for p in proc)
    assert ns.mounts(under="/pro") == []                 # a prefix of a name is not a directory above it
