"""`labkit.clean("03")` and what lesson 03 makes: a containerd namespace of its own.

In a file of its own: clean("03") removes every lab-03-* object, including the fixtures of
test_containerd.py, so it must not run while those are alive.
"""
from __future__ import annotations

import pytest

from labkit import containerd as ctr
from tests.integration.test_containerd import start_box

pytestmark = pytest.mark.integration


def test_clean_removes_lesson_03s_tasks_and_containers(engine):
    import labkit

    ns = "lab-03-gap"
    ctr.remove_namespace(ns)
    task = start_box(ns, "lab-03-gap-box")
    try:
        removed = labkit.clean("03")
        assert f"{ns}/" in removed["containerd containers"]     # the whole lesson namespace, box included
        assert not ctr.alive(task.pid)
        assert ctr.containers(ns) == [] and ctr.tasks(ns) == []
    finally:
        ctr.remove_namespace(ns)


def test_clean_removes_a_whole_lab_namespace(engine):
    import labkit

    ns = "lab-03-gap"
    ctr.remove_namespace(ns)
    start_box(ns, "lab-03-gap-box")
    try:
        labkit.clean("03")
        assert ns not in {n.name for n in ctr.namespaces()}
        assert ctr.namespace_cgroups(ns) == []
    finally:
        ctr.remove_namespace(ns)


def test_clean_leaves_no_runc_root_of_a_lab_namespace(engine):
    import labkit

    ns = "lab-03-gap"
    ctr.remove_namespace(ns)
    start_box(ns, "lab-03-gap-box")
    try:
        labkit.clean("03")
        assert not (ctr.RUNC_ROOT / ns).exists()
    finally:
        ctr.remove_namespace(ns)            # also the runc root clean() left
