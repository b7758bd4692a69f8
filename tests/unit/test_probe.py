"""labkit.oci.probe's parsing and comparison, on made-up probe output."""
from __future__ import annotations

from labkit.oci import probe

OUT = ("hostname=lab-12-box\nid=uid=0(root) gid=0(root)\nCapEff:\t0000000020000420\nNoNewPrivs:\t1\n"
       "mounts=/:overlay:ro /proc:proc:rw\nlinks= lo\n")


def test_facts_keep_key_value_lines_and_status_lines():
    seen = probe.facts(OUT)
    assert seen == {"hostname": "lab-12-box", "id": "uid=0(root) gid=0(root)", "CapEff": "0000000020000420",
                    "NoNewPrivs": "1", "mounts": "/:overlay:ro /proc:proc:rw", "links": "lo"}


def test_mounts_in_another_order_are_no_difference():
    a = probe.facts(OUT)
    b = probe.facts(OUT.replace("/:overlay:ro /proc:proc:rw", "/proc:proc:rw /:overlay:ro"))
    assert probe.differences(a, b) == {}


def test_a_difference_names_the_key_and_both_values():
    a = probe.facts(OUT)
    b = probe.facts(OUT.replace("NoNewPrivs:\t1", "NoNewPrivs:\t0").replace(" /proc:proc:rw", " /proc:proc:ro"))
    assert probe.differences(a, b) == {"NoNewPrivs": ("1", "0"), "mounts": ("/proc:proc:rw", "/proc:proc:ro")}


def test_a_key_only_one_side_has_is_a_difference():
    a = probe.facts(OUT)
    assert probe.differences(a, {**a, "dev": "null"}) == {"dev": (None, "null")}
