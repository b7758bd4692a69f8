"""`labkit clean` removes every kind of thing a lesson can make, and only those."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from labkit import cgroups, config, cleanup, inventory, net, owned
from labkit.cri import CRI
from tests.conftest import residue

pytestmark = pytest.mark.integration


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def test_clean_removes_what_lessons_make(up):
    before = inventory.snapshot()
    had_default = "default/" in before["containerd"]
    # What a learner's half-finished lessons could leave behind, one of each kind:
    sh("docker", "-H", config.DOCKER_HOST, "run", "-d", "--name", "lab-clean-ctr", "labkit/busybox", "sleep", "600")
    with CRI() as cri:
        cri.run_pod(cri.pod_config("clean-pod"))
    sh("ctr", "--address", str(config.CONTAINERD_SOCK), "-n", "default", "images", "pull", "--plain-http",
       f"{config.REGISTRY}/labkit/busybox:latest")
    sh("ctr", "--address", str(config.CONTAINERD_SOCK), "-n", "default", "run", "-d",
       f"{config.REGISTRY}/labkit/busybox:latest", "lab-clean-task", "sleep", "600")
    net.create_netns("lab-clean")                 # made through labkit, so marked as the course's
    net.veth("lab-clean-a", "lab-clean-b")
    mnt = config.SCRATCH / "lab-clean-mnt"
    mnt.mkdir(parents=True)
    sh("mount", "-t", "tmpfs", "lab-clean", str(mnt))
    proc = subprocess.Popen(["sleep", "600"], env={**os.environ, config.OWNER_ENV: "clean"}, start_new_session=True)
    cgroups.create("lab-clean", ["pids"])
    group = Path(cgroups.controllers()["pids"]) / "lab-clean" / "inner"
    group.mkdir()                                 # below a marked group: a child a runtime would make
    jailed = subprocess.Popen(["sleep", "601"], start_new_session=True)
    (group / "cgroup.procs").write_text(str(jailed.pid))

    made = residue(before, settle=0)
    assert {"containers", "pods", "containerd", "netns", "interfaces", "mounts", "cgroups", "processes"} <= set(made)

    removed = cleanup.clean()
    proc.wait(timeout=5), jailed.wait(timeout=5)

    assert "lab-clean-ctr" in removed["containers"]
    assert "lab-clean-pod" in removed["pods"]
    assert "default/lab-clean-task" in removed["containerd containers"]
    assert "lab-clean" in removed["network namespaces"]
    assert {"lab-clean-a", "lab-clean-b"} & set(removed["interfaces"])
    assert str(mnt) in removed["mounts"]
    assert str(proc.pid) in removed["processes"]
    assert str(group) in removed["cgroups"]
    sh("ctr", "--address", str(config.CONTAINERD_SOCK), "-n", "default", "images", "rm",
       f"{config.REGISTRY}/labkit/busybox:latest")
    if not had_default:     # this test made containerd's `default` namespace (clean keeps it: not a lab name)
        from labkit.containerd import remove_namespace

        remove_namespace("default")     # its content and snapshots too, which the collector frees late
    assert residue(before) == {}
    assert str(cleanup.clean()).startswith("nothing to clean")


def test_clean_leaves_the_engine_alone(up):
    cleanup.clean()
    assert up.status().up
    assert Path(f"/sys/class/net/{config.BRIDGE}").exists()


def test_clean_leaves_what_the_course_did_not_make(up):
    """Named like a lesson's, but made by someone else (no mark): clean leaves it all."""
    group = Path(cgroups.controllers()["pids"]) / "lab-94-foreign"
    sh("ip", "netns", "add", "lab-94-foreign")
    sh("ip", "link", "add", "lab-94-a", "type", "veth", "peer", "name", "lab-94-b")
    group.mkdir()
    try:
        removed = cleanup.clean()
        assert not removed["network namespaces"] and not removed["interfaces"] and not removed["cgroups"], removed
        assert "lab-94-foreign" in inventory.netns() and "lab-94-a" in inventory.interfaces() and group.is_dir()
    finally:
        sh("ip", "netns", "delete", "lab-94-foreign")
        sh("ip", "link", "delete", "lab-94-a")
        group.rmdir()


def test_a_mark_of_nothing_is_dropped_and_not_reported(up):
    """A kill between mark and make leaves only the mark: clean forgets it and says nothing of it."""
    for kind in owned.KINDS:
        owned.mark(kind, "lab-95-never-made")
    removed = cleanup.clean("95")
    assert str(removed).startswith("nothing to clean"), removed
    assert all(owned.marked(kind, "lab-95-") == set() for kind in owned.KINDS)


def test_clean_of_one_lesson_leaves_the_others(up):
    net.veth("lab-91-a", "lab-91-b")
    net.veth("lab-92-a", "lab-92-b")
    try:
        removed = cleanup.clean("91")
        assert set(removed["interfaces"]) <= {"lab-91-a", "lab-91-b"} and removed["interfaces"]
        assert not Path("/sys/class/net/lab-91-b").exists()
        assert Path("/sys/class/net/lab-92-a").exists()
    finally:
        cleanup.clean()
    assert not Path("/sys/class/net/lab-92-a").exists()


def test_clean_removes_a_lessons_images_and_registry_repositories(up, tmp_path):
    before = inventory.snapshot()
    (tmp_path / "Dockerfile").write_text(f"FROM labkit/busybox\nLABEL {config.LABEL}=93\nRUN echo built > /built\n")
    sh("docker", "-H", config.DOCKER_HOST, "build", "-q", "-t", "lab-93-img:1", str(tmp_path))
    sh("docker", "-H", config.DOCKER_HOST, "tag", "lab-93-img:1", f"{config.REGISTRY}/lab-93-img:1")
    sh("docker", "-H", config.DOCKER_HOST, "push", f"{config.REGISTRY}/lab-93-img:1")
    assert "lab-93-img" in inventory.registry()

    removed = cleanup.clean("93")

    assert removed["registry repositories"] == ["lab-93-img"]
    assert removed["images"]
    assert residue(before) == {}


def test_clean_after_a_lesson_died_with_containerd_stopped(up):
    # Lesson 03 stops the lab containerd to show that the shim keeps its container alive; a
    # kernel killed right then leaves dockerd without containerd and a lab container running.
    from labkit.engine import containerd

    before = inventory.snapshot()
    sh("docker", "-H", config.DOCKER_HOST, "run", "-d", "--name", "lab-03-killed", "labkit/busybox", "sleep", "600")
    containerd.daemon().stop()
    assert not up.status().up

    removed = cleanup.clean()

    assert removed["daemons started again"] == ["containerd"]
    assert removed["containers"] == ["lab-03-killed"]
    assert up.status().up
    assert residue(before) == {}
    assert str(cleanup.clean()).startswith("nothing to clean")
    sh("docker", "-H", config.DOCKER_HOST, "run", "--rm", "--name", "lab-03-killed", "labkit/busybox", "true")
