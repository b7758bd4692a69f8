"""The lifecycle state machine and the image graph: what they highlight and what they draw once."""
from __future__ import annotations

import re

import pytest

from labkit.errors import LabError
from labkit.oci import layout as oci
from labkit.widgets import lifecycle as lc
from labkit.widgets.imagegraph import image_graph


def node_line(source: str, node: str) -> str:
    return next(line for line in source.splitlines() if re.match(rf"\s*{node} \[", line))


@pytest.mark.parametrize("status", ["created", "running", "stopped", "paused"])
def test_exactly_the_current_state_is_highlighted(status):
    src = lc.lifecycle_graph(status, "t").source
    lit = [s for s in lc.STATES + lc.EXTRA if lc.HIGHLIGHT["fillcolor"] in node_line(src, s)]
    assert lit == [status]


def test_a_container_the_runtime_does_not_know_is_drawn_deleted():
    src = lc.lifecycle_graph(None, "gone").source
    assert lc.HIGHLIGHT["fillcolor"] in node_line(src, "deleted")


def test_an_unknown_status_is_a_lab_error():
    with pytest.raises(LabError, match="not a container status"):
        lc.lifecycle_graph("sleeping")


def test_the_spec_transitions_are_all_there():
    src = lc.lifecycle_graph("created").source
    for a, b in [("creating", "created"), ("created", "running"), ("running", "stopped"),
                 ("created", "stopped"), ("stopped", "deleted")]:
        assert re.search(rf"\b{a} -> {b}\b", src), (a, b)


def test_lifecycle_reads_the_state_from_the_runtime():
    class Fake:
        binary = "runc"

        def state(self, cid):
            return {"status": "running"} if cid == "lab-06-x" else None

    assert "status running" in lc.lifecycle("lab-06-x", Fake()).source
    assert "no such container" in lc.lifecycle("lab-06-y", Fake()).source
    labelled = lc.lifecycle("a" * 64, Fake(), label="mine").source
    assert "runc state mine: no such container" in labelled and "a" * 12 not in labelled
    assert "aaaaaaaaaaaa…" in lc.lifecycle("a" * 64, Fake()).source        # long ids are shortened


def test_image_graph_draws_each_blob_once_and_every_reference(tmp_path):
    lay = oci.Layout.create(tmp_path / "l")
    base = oci.tar_layer([oci.file("a", "x")])
    top = oci.tar_layer([oci.whiteout("a")])
    lay.write_image("v1", [base])
    lay.write_image("v2", [base, top], compress=[True, False])
    src = image_graph(lay.path).source
    nodes = set(re.findall(r"^\s*(sha256_[0-9a-f]{64}) \[", src, re.M))
    # 2 manifests, 2 configs, 2 distinct layers (the base layer is shared)
    assert len(nodes) == 6
    assert src.count("tag v1") == 1 and src.count("tag v2") == 1
    assert len(re.findall(r"-> sha256_[0-9a-f]{64} \[label=\"layers\[0\]\"", src)) == 2
    assert "sha256:" not in "".join(re.findall(r"^\s*(\S+) ->", src, re.M))      # no 'a:b' port syntax in ids


def test_image_graph_of_a_missing_layout_is_a_lab_error(tmp_path):
    with pytest.raises(LabError, match="not an OCI image layout"):
        image_graph(tmp_path)
