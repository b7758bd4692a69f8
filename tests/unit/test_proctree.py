"""labkit.widgets.proctree on a fake /proc: parsing, picking the tree, drawing it.

The real /proc, with a real container under the lab engine, is in
tests/integration/test_proctree.py.
"""
from __future__ import annotations

import os
import re

import pytest

from labkit.errors import LabError
from labkit.widgets import proctree as pt

CID = "bdba2a2acdaa5640100e98e367ff7195a104b1b2cc807bd6aa3278e9f2c13241"

# pid -> (comm, state, ppid, pgid, sid, argv, NSpid) of a Docker host after the shim daemonized.
MACHINE = {
    1: ("systemd", "S", 0, 1, 1, ["/sbin/init"], [1]),
    2: ("kthreadd", "S", 0, 0, 0, [], [2]),
    50: ("containerd", "S", 1, 50, 50, ["containerd", "--config", "/etc/labkit/containerd.toml"], [50]),
    60: ("dockerd", "S", 1, 60, 60, ["dockerd", "--config-file", "/etc/labkit/docker/daemon.json"], [60]),
    70: ("docker-proxy", "S", 60, 60, 60, ["/usr/sbin/docker-proxy", "-proto", "tcp", "-host-port", "18081"], [70]),
    80: ("containerd-shim", "S", 1, 80, 50,
         ["/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", CID, "-address", "/run/x.sock"], [80]),
    90: ("httpd", "S", 80, 90, 90, ["httpd", "-f", "-v", "-p", "80"], [90, 1]),
    91: ("sh", "S", 90, 90, 90, ["sh"], [91, 7]),
    100: ("bash", "S", 1, 100, 100, ["bash"], [100]),
}


def write_fake_proc(root, table=MACHINE, exe=True):
    """A directory laid out like /proc: stat, cmdline, status (and exe) for each pid."""
    for pid, (comm, state, ppid, pgid, sid, argv, nspid) in table.items():
        d = root / str(pid)
        d.mkdir()
        (d / "stat").write_text(f"{pid} ({comm}) {state} {ppid} {pgid} {sid} 0 -1 4194560 0 0 0\n")
        (d / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in argv))
        (d / "status").write_text(f"Name:\t{comm}\nState:\t{state}\nNSpid:\t" + "\t".join(map(str, nspid)) + "\n")
        if exe and argv:
            os.symlink(argv[0] if argv[0].startswith("/") else f"/usr/bin/{argv[0]}", d / "exe")
    (root / "self").mkdir()          # non-numeric entries are not processes
    return root


@pytest.fixture
def procs(tmp_path):
    return pt.snapshot(write_fake_proc(tmp_path))


def test_parse_stat_copes_with_spaces_and_parentheses_in_comm():
    assert pt.parse_stat("42 (tmux: server) S 1 42 42 0") == ("tmux: server", "S", 1, 42, 42)
    assert pt.parse_stat("43 (a) b)) R 42 7 9 0") == ("a) b)", "R", 42, 7, 9)


def test_parse_stat_rejects_garbage_with_a_lab_error():
    with pytest.raises(LabError, match="Cannot parse"):
        pt.parse_stat("no parentheses here")


def test_parse_nspid_lists_the_pid_in_each_namespace():
    assert pt.parse_nspid("Name:\thttpd\nNSpid:\t90\t1\n") == (90, 1)
    assert pt.parse_nspid("Name:\tx\n") == ()


def test_snapshot_reads_every_process_and_skips_the_rest(procs):
    assert sorted(procs) == sorted(MACHINE)
    httpd = procs[90]
    assert (httpd.ppid, httpd.sid, httpd.argv, httpd.nspid, httpd.inner_pid) == (80, 90, ("httpd", "-f", "-v", "-p", "80"), (90, 1), 1)
    assert procs[2].exe == "" and procs[2].cmdline() == "[kthreadd]"


def test_a_process_that_ends_while_being_read_is_left_out(tmp_path):
    root = write_fake_proc(tmp_path)
    (root / "91" / "stat").unlink()       # as if pid 91 exited between listdir and open
    assert 91 not in pt.snapshot(root)


def test_the_shims_full_name_replaces_its_cut_comm(procs):
    shim = procs[80]
    assert shim.comm == "containerd-shim" and shim.name == "containerd-shim-runc-v2"
    assert procs[90].name == "httpd"


def test_cmdline_shortens_container_ids_and_long_lines(procs):
    text = procs[80].cmdline(width=200)
    assert CID not in text and CID[:12] + "…" in text
    assert len(procs[80].cmdline(width=30)) == 30


def test_find_by_name_or_predicate(procs):
    assert [p.pid for p in pt.find(procs, "containerd-shim-runc-v2")] == [80]
    assert [p.pid for p in pt.find(procs, "containerd")] == [50]
    assert [p.pid for p in pt.find(procs, lambda p: p.sid == 50)] == [50, 80]
    assert pt.find(procs, "runc") == []


def test_ancestors_walk_up_to_the_root(procs):
    assert [p.pid for p in pt.ancestors(procs, 91)] == [90, 80, 1]
    assert pt.ancestors(procs, 1) == []


def test_ancestors_stop_on_a_loop():
    loop = {1: pt.Proc(1, 2, "a"), 2: pt.Proc(2, 1, "b")}
    assert [p.pid for p in pt.ancestors(loop, 1)] == [2]


def test_descendants_parents_first(procs):
    assert [p.pid for p in pt.descendants(procs, 80)] == [90, 91]
    assert [p.pid for p in pt.children(procs, 1)] == [50, 60, 80, 100]


def test_build_keeps_the_selection_and_its_ancestors_only(procs):
    tree = pt.build(procs, [90, 70])
    assert set(tree.procs) == {1, 60, 70, 80, 90}
    assert tree.focus == {90, 70}
    assert tree.edges == [(1, 60), (1, 80), (60, 70), (80, 90)]
    assert tree.roots == [1]


def test_build_with_descendants_and_without_ancestors(procs):
    tree = pt.build(procs, 80, with_ancestors=False, with_descendants=True)
    assert set(tree.procs) == {80, 90, 91} and tree.roots == [80]
    assert tree.text(pids=False) == "containerd-shim-runc-v2\n    httpd\n        sh"


def test_build_selects_by_name(procs):
    assert pt.build(procs, "dockerd", with_ancestors=False).focus == {60}


@pytest.mark.parametrize("bad, message", [
    (4242, "No process 4242"),
    ([90, 4242], "No process 4242"),
    ("runc", "No live process matches 'runc'"),
    (lambda p: False, "No live process matches"),
    (True, "cannot be True or False"),
    (3.5, "Cannot select processes"),
    (["90"], "pids are ints"),
])
def test_bad_selections_say_what_and_how_to_fix(procs, bad, message):
    with pytest.raises(LabError, match=message) as err:
        pt.build(procs, bad)
    assert err.value.fix


def node(source: str, name: str) -> str:
    """The attribute list of one node statement in DOT source (labels span lines)."""
    return re.search(rf"^\t{name} \[(.*?)\]$", source, re.M | re.S)[1]


def test_draw_highlights_and_draws_parent_edges(procs):
    g = pt.draw(pt.build(procs, [90, 70]), highlight=[90])
    src = g.source
    assert "p80 -> p90" in src and "p60 -> p70" in src and "p1 -> p80" in src
    assert pt._HIGHLIGHT in node(src, "p90")
    assert "pid 1 inside" in node(src, "p90")         # the pid namespace shows in the box
    assert pt._HIGHLIGHT not in node(src, "p80")


def test_draw_marks_an_exited_program_as_absent_only_when_it_is(procs):
    tree = pt.build(procs, 90)
    calls = [(80, "runc", "runc create"), ("runc", 90, "forked, exited")]
    gone = pt.draw(tree, calls=calls, exited=["runc"], procs=procs).source
    assert "exited: no process in /proc" in gone
    assert "p80 -> gone_runc" in gone and "gone_runc -> p90" in gone
    running = dict(procs)
    running[200] = pt.Proc(200, 80, "runc", argv=("runc", "create"), exe="/usr/sbin/runc")
    assert "1 running now: pid 200" in pt.draw(tree, exited=["runc"], procs=running).source


def test_calls_between_live_processes_leave_the_layout_alone(procs):
    src = pt.draw(pt.build(procs, [50, 60]), calls=[(60, 50, "gRPC")]).source
    call = [line for line in src.splitlines() if "p60 -> p50" in line][0]
    assert "dashed" in call and "constraint=false" in call


def test_draw_rejects_calls_and_highlights_outside_the_tree(procs):
    tree = pt.build(procs, 90)
    with pytest.raises(LabError, match="not in the diagram"):
        pt.draw(tree, calls=[(60, 90, "x")])
    with pytest.raises(LabError, match="not in the diagram"):
        pt.draw(tree, calls=[(80, "runc", "x")])          # runc not declared in exited
    with pytest.raises(LabError, match="Cannot highlight pid 60"):
        pt.draw(tree, highlight=[60])


def test_process_tree_reads_the_given_proc_and_renders_svg(tmp_path):
    root = write_fake_proc(tmp_path)
    g = pt.process_tree(90, highlight=[70], proc=root, title="fake host")
    assert "p60 -> p70" in g.source and "p80 -> p90" in g.source    # highlighted pids are drawn too
    svg = g.pipe(format="svg").decode()
    assert svg.lstrip().startswith("<?xml") and "httpd" in svg and "fake host" in svg


def test_a_box_shows_at_most_two_lines_of_command_line(procs):
    proxy = pt.Proc(70, 60, "docker-proxy", argv=("/usr/sbin/docker-proxy", "-proto", "tcp", "-host-ip", "127.0.0.1",
                                                   "-host-port", "18081", "-container-ip", "10.213.0.2",
                                                   "-container-port", "80", "-extra", "x" * 80))
    lines = pt.label(proxy).split("\n")
    assert lines[:2] == ["docker-proxy", "pid 70"]
    assert len(lines) == 4 and "127.0.0.1" in "".join(lines) and lines[-1].endswith("…")
    assert pt.label(procs[2]).split("\n") == ["kthreadd", "pid 2", "[kthreadd]"]
