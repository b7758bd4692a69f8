"""labkit.containerd parses what `ctr` prints: tables, mounts, errors (recorded from ctr 1.6.20)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from labkit import containerd as ctr
from labkit.errors import LabError

RECORDED = Path(__file__).parent / "ctr_output"


@pytest.fixture
def recorded(monkeypatch):
    """`ctr` answered from files recorded against the lab containerd: <namespace>.<kind>.txt."""
    calls = []

    def fake(*args, namespace=None, timeout=60, stdin=None):
        calls.append((namespace, args))
        if args[:2] == ("namespaces", "ls"):
            return (RECORDED / "namespaces.txt").read_text()
        if args == ("version",):
            return (RECORDED / "version.txt").read_text()
        kind = args[0]
        return (RECORDED / f"{namespace}.{kind}.txt").read_text()

    monkeypatch.setattr(ctr, "ctr", fake)
    return calls


def test_namespaces(recorded):
    assert [n.name for n in ctr.namespaces()] == ["default", "k8s.io", "lab-03-ns", "moby"]


def test_images_keep_sizes_with_spaces_and_split_labels(recorded):
    images = ctr.images("k8s.io")
    assert [i.ref for i in images][:3] == ["docker.io/labkit/busybox:latest", "docker.io/labkit/pause:latest",
                                           "docker.io/labkit/web:latest"]
    pause = images[1]
    assert pause.size == "671.0 KiB"
    assert pause.digest == "sha256:3679c10e5dd9e5983836391f09c1c89db864b334fafda801554290894801bd39"
    assert pause.platforms == ("linux/amd64",)
    assert pause.labels["io.cri-containerd.image"] == "managed"
    assert pause.labels["org.labkit.context"].startswith("sha256:")


def test_an_image_without_labels(recorded):
    (image,) = ctr.images("lab-03-ns")
    assert image.ref == "127.0.0.1:5000/labkit/busybox:latest"
    assert image.size == "1.0 MiB" and image.labels == {}


def test_an_empty_table_is_an_empty_list(recorded):
    assert ctr.images("moby") == []
    assert ctr.snapshots("moby") == []
    assert ctr.content("moby") == []
    assert ctr.leases("lab-03-ns") == []


def test_docker_containers_have_no_image(recorded):
    (c,) = ctr.containers("moby")
    assert c.id == "3cd56d1ebf754866ebbb50276ce6d2a7d5ba09fa2eaddeff1c32c1faa43379a6"
    assert c.image == "" and c.runtime == "io.containerd.runc.v2"
    assert ctr.containers("lab-03-ns")[0].image == "127.0.0.1:5000/labkit/busybox:latest"


def test_tasks_have_int_pids(recorded):
    assert ctr.tasks("moby")[0].pid == 1335
    assert ctr.tasks("lab-03-ns") == [ctr.Task("lab-03-ctr", 1416, "RUNNING")]
    assert ctr.task("lab-03-ns", "lab-03-ctr").pid == 1416


def test_a_missing_task_names_what_exists(recorded):
    with pytest.raises(LabError) as err:
        ctr.task("lab-03-ns", "lab-03-nope")
    assert "lab-03-ctr" in str(err.value)


def test_snapshots_bottom_layer_has_no_parent(recorded):
    snaps = {s.key: s for s in ctr.snapshots("lab-03-ns")}
    assert snaps["lab-03-ctr"].kind == "Active"
    bottom = snaps["sha256:fc209e5ff280f62eff88793d9c119777b72f96721d4e2316559b71c107b34ce5"]
    assert bottom.parent == "" and bottom.kind == "Committed"


def test_lineage_walks_from_the_active_snapshot_down(recorded):
    chain = ctr.lineage("lab-03-ns", "lab-03-ctr")
    assert [s.kind for s in chain] == ["Active", "Committed", "Committed", "Committed"]
    assert chain[-1].parent == ""
    assert all(below.key == above.parent for above, below in zip(chain, chain[1:]))


def test_lineage_of_an_unknown_key(recorded):
    with pytest.raises(LabError, match="No snapshot"):
        ctr.lineage("lab-03-ns", "lab-03-other")


def test_content_is_tab_separated_and_keeps_its_gc_labels(recorded):
    blobs = {b.digest: b for b in ctr.content("lab-03-ns")}
    manifest = blobs["sha256:08b8d60f0b69b7d28e6e6abf13909fe4d3fd1e1b48358b810799cc4a92dfcebc"]
    assert manifest.size == "943B"
    assert manifest.labels["containerd.io/gc.ref.content.config"] == \
        "sha256:ba94d956ca66a99d0f3c436c78a421cce8e1361816caca8087298d6e6fe0370f"
    assert {k for k in manifest.labels if ".l." in k} == {f"containerd.io/gc.ref.content.l.{i}" for i in range(3)}


def test_image_snapshots_follow_the_gc_references(recorded):
    from labkit.widgets.containerd_view import image_snapshots

    tops = image_snapshots("k8s.io")
    assert tops["docker.io/labkit/busybox:latest"] == \
        "sha256:11aed2025a4031709e424ae163d80fcfa5f671dd1cce38e1b2552b57a13dcddc"
    assert tops["docker.io/labkit/pause:latest"] == \
        "sha256:b934976e23cabdb7cc1ac3e2a851b8a92c29e6c326691de3ac1eb6f7b4f313fe"
    snaps = {s.key for s in ctr.snapshots("k8s.io")}
    assert set(tops.values()) <= snaps


def test_version(recorded):
    assert ctr.version() == {"client": "1.6.20~ds1", "server": "1.6.20~ds1"}


def test_the_mount_command_and_the_kernel_agree():
    asked = ctr.parse_mount_command((RECORDED / "mounts.txt").read_text().strip())
    seen = ctr.parse_mountinfo_line((RECORDED / "mountinfo.txt").read_text().strip())
    assert asked.type == seen.type == "overlay"
    assert seen.target == "/run/labkit/containerd/io.containerd.runtime.v2.task/lab-03-ns/lab-03-ctr/rootfs"
    assert asked.upperdir == seen.upperdir
    assert asked.upperdir.endswith("/snapshots/106/fs") and asked.workdir.endswith("/snapshots/106/work")
    assert asked.lowerdirs == seen.lowerdirs
    assert [d.rsplit("/", 2)[1] for d in seen.lowerdirs] == ["105", "104", "103"]
    assert type(asked) is type(seen) is ctr.Mount        # procfs's: its fields are tested in test_procfs.py


def test_a_mount_line_of_another_shape_is_refused():
    with pytest.raises(LabError):
        ctr.parse_mount_command("mount overlay /mnt")


def test_mounts_at_picks_the_last_mount_on_a_point():
    text = ("30 1 0:1 / /x rw - tmpfs first rw\n"
            "31 30 0:2 / /x rw - tmpfs second rw\n"
            "32 1 0:3 / /y rw - tmpfs other rw\n")
    assert [m.source for m in ctr.mounts_at("/x", text)] == ["first", "second"]


def test_labels():
    assert ctr.labels("-") == {} and ctr.labels("") == {}
    assert ctr.labels("a=1,b=x=y") == {"a": "1", "b": "x=y"}


def test_table_refuses_an_unknown_header():
    with pytest.raises(LabError, match="does not know"):
        ctr.table("FOO BAR\n1 2\n", ["FOO", "BAZ"])


def _completed(rc: int, stdout: str = "", stderr: str = ""):
    return subprocess.CompletedProcess([], rc, stdout.encode(), stderr.encode())


def test_ctr_failure_carries_ctrs_own_words_and_a_fix(monkeypatch):
    stderr = ('time="2026-11-27T22:59:45Z" level=error msg="unable to delete lab-03" error="..."\n'
              'ctr: unable to delete lab-03: namespace "lab-03" must be empty, but it still has images, '
              'blobs, containers, snapshots on "overlayfs" snapshotter: failed precondition\n')
    seen = []
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: seen.append(argv) or _completed(1, stderr=stderr))
    with pytest.raises(LabError) as err:
        ctr.ctr("namespaces", "remove", "lab-03")
    assert seen[0][:3] == ["ctr", "--address", str(ctr.ADDRESS)]
    text = str(err.value)
    assert text.startswith("`ctr namespaces remove lab-03` failed: unable to delete lab-03")
    assert "time=" not in text and "Remove its tasks" in text


def test_ctr_puts_the_namespace_before_the_command(monkeypatch):
    seen = []
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: seen.append(argv) or _completed(0, "ok"))
    assert ctr.ctr("tasks", "ls", namespace="moby") == "ok"
    assert seen[0][3:] == ["--namespace", "moby", "tasks", "ls"]


def test_a_dead_socket_says_start_the_engine(monkeypatch):
    stderr = 'ctr: failed to dial "/run/labkit/containerd/containerd.sock": context deadline exceeded\n'
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: _completed(1, stderr=stderr))
    with pytest.raises(LabError, match="labkit up"):
        ctr.ctr("version")


def test_pull_refuses_anything_but_the_lab_registry(monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda *a, **kw: pytest.fail("ctr must not run"))
    with pytest.raises(LabError, match="never pulls from the internet"):
        ctr.pull("lab-03-ns", "docker.io/library/busybox:latest")


def test_remove_namespace_leaves_dockers_and_the_cris_alone(monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda *a, **kw: pytest.fail("ctr must not run"))
    for ns in ("moby", "k8s.io"):
        with pytest.raises(LabError, match="Refusing"):
            ctr.remove_namespace(ns)
