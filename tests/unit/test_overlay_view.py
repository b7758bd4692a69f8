"""The two diagrams of lessons 09 and 10, drawn from data."""
import pytest

from labkit.errors import BadInput
from labkit.widgets import overlay_view as v


def test_the_layer_table_has_a_row_per_layer_and_a_column_per_path():
    rows = [v.Row("merged", "/m", (v.Cell("deleted", "deleted"), v.Cell("file, 3 B, from upper", "copied up"))),
            v.Row("upper", "/u", (v.Cell("whiteout: char dev 0/0", "whiteout"), v.Cell("copied up: file, 3 B", "copied up"))),
            v.Row("lower", "/l", (v.Cell("file, 1 B (hidden)", "hidden"), v.Cell("file, 1 B (under upper)", "hidden")))]
    src = v.draw("overlay at /m", ["bin/vi", "etc/passwd"], rows).source
    assert "<B>/bin/vi</B>" in src and "<B>/etc/passwd</B>" in src
    assert src.count("<TR>") == 1 + 3 + 2         # header, three layers, the legend's outer and inner rows
    assert f'BGCOLOR="{v.COLOURS["whiteout"]}">whiteout: char dev 0/0' in src


def test_a_row_with_the_wrong_number_of_cells_is_refused():
    with pytest.raises(BadInput):
        v.draw("t", ["a", "b"], [v.Row("merged", "/m", (v.Cell("x", "lower"),))])


def test_added_lists_only_what_changed():
    assert v.added({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == {"b": "3", "c": "4"}
    with pytest.raises(BadInput):
        v.added([], {})


def test_each_step_box_lists_what_it_changed():
    results = [("a plain process", {"hostname": "the host's", "pid": "the host's", "mounts": "the host's", "x": "the host's",
                                    "/ mounted": "rw"}),
               ("namespaces", {"hostname": "the host's", "pid": "1", "mounts": "/ /proc", "x": "the host's", "/ mounted": "rw"}),
               ("masks", {"hostname": "the host's", "pid": "1", "mounts": "/ /proc /proc/keys", "x": "the host's",
                          "/ mounted": "rw"}),
               ("nothing", {"hostname": "the host's", "pid": "1", "mounts": "/ /proc /proc/keys", "x": "the host's",
                            "/ mounted": "rw"})]
    src = v.steps(results).source
    assert "all other 4 facts" in src and ">rw<" in src   # the starting point: the host's in one row
    assert "1 · namespaces" in src and ">pid<" in src
    assert "+ /proc/keys" in src                      # a list that grew shows what it gained
    assert "no change a probe can see" in src
    assert src.count("->") == 3                       # a chain of four boxes


@pytest.mark.parametrize("bad", [[], "x", [("a", "not a dict")], [("a",)]])
def test_steps_refuses_what_is_not_a_list_of_results(bad):
    with pytest.raises(BadInput):
        v.steps(bad)
