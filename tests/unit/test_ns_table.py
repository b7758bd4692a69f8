"""The namespace table diagram, from inode maps: rows, text, the graphviz table, the fallbacks."""
from __future__ import annotations

import pytest

from labkit.errors import BadInput
from labkit.widgets import ns_table as nt

HOST = {"cgroup": 4026531835, "ipc": 4026531839, "mnt": 4026531832, "net": 4026531833, "pid": 4026531836,
        "time": 4026531834, "user": 4026531837, "uts": 4026531838}
BOX = {**HOST, "ipc": 4026532394, "mnt": 4026532392, "net": 4026532396, "pid": 4026532395, "uts": 4026532393}


def test_rows_follow_proc_order_and_tell_same_from_different():
    table = nt.ns_table(HOST, BOX, names=("host", "box"))
    assert [r.kind for r in table.rows] == ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"]
    assert table.same == {"cgroup", "time", "user"}
    assert table.different == {"ipc", "mnt", "net", "pid", "uts"}


def test_a_kind_missing_on_one_side_is_not_the_same():
    rows = nt.rows_of({"net": 1, "extra": 5}, {"net": 1})
    assert [(r.kind, r.same) for r in rows] == [("net", True), ("extra", False)]
    assert "-" in nt.NsTable(rows, ("a", "b")).text().splitlines()[-1]


def test_text_is_aligned_and_says_what_differs():
    lines = nt.ns_table(HOST, BOX, names=("host", "lab-07-box"), title="t").text().splitlines()
    assert lines[0] == "t"
    assert lines[1].split() == ["namespace", "host", "lab-07-box", "shared?"]
    net_line = next(line for line in lines if line.startswith("net "))
    assert "4026531833" in net_line and "4026532396" in net_line and "DIFFERENT" in net_line
    assert "interfaces" in net_line
    assert next(line for line in lines if line.startswith("user ")).endswith("same")
    assert len({line.index("4026") for line in lines[2:]}) == 1       # the inode columns line up


def test_the_graph_is_one_html_table_with_coloured_rows():
    table = nt.ns_table(HOST, BOX, names=("host", "lab-07-box"), title="host vs box")
    src = table.graph().source
    assert src.count("<TR>") == 1 + 8 + 1          # head, eight kinds, caption
    assert src.count(nt._DIFFERENT) == 5 * 5 and src.count(nt._SAME) == 3 * 5
    svg = table.svg()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "DIFFERENT" in svg and "host vs box" in svg


def test_the_notebook_gets_svg_and_text_or_html_without_dot(monkeypatch):
    table = nt.ns_table(HOST, BOX)
    assert set(table._repr_mimebundle_()) == {"text/plain", "image/svg+xml"}

    def no_dot(self):
        raise RuntimeError("dot not found")

    monkeypatch.setattr(nt.NsTable, "svg", no_dot)
    bundle = table._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/html"].count("<tr") == 9 and "<b>different</b>" in bundle["text/html"]


@pytest.mark.parametrize("left, right, names", [
    ({"net": "x"}, BOX, ("a", "b")),
    ({"net": True}, BOX, ("a", "b")),
    (HOST, BOX, ("only one",)),
    (HOST, BOX, "ab"),
])
def test_bad_input_is_refused(left, right, names):
    with pytest.raises(BadInput):
        nt.ns_table(left, right, names=names)
