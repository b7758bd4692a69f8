"""labkit.containerd against the real lab containerd: namespaces, snapshots, mounts, the shim, a restart."""
from __future__ import annotations

import hashlib
import json
import os

import pytest

from labkit import config
from labkit import containerd as ctr
from labkit.errors import LabError

pytestmark = pytest.mark.integration

NS, CTR, DOCKER = "lab-03-ns", "lab-03-ctr", "lab-03-docker"
REF = f"{config.REGISTRY}/labkit/busybox:latest"


def start_box(namespace: str, cid: str) -> ctr.Task:
    """Pull busybox from the lab registry into `namespace` and run `sleep` there, as the lesson does."""
    ctr.pull(namespace, REF)
    ctr.ctr("containers", "create", REF, cid, "sleep", "600", namespace=namespace)
    ctr.ctr("tasks", "start", "-d", "--null-io", cid, namespace=namespace)
    return ctr.task(namespace, cid)


@pytest.fixture(scope="module")
def box(engine):
    ctr.remove_namespace(NS)        # what an interrupted run may have left
    try:
        yield start_box(NS, CTR)
    finally:
        ctr.remove_namespace(NS)


@pytest.fixture(scope="module")
def docker_box(engine):
    import docker

    client = docker.DockerClient(base_url=config.DOCKER_HOST)
    client.images.get("labkit/busybox")             # never pulled: it must be built locally
    for old in client.containers.list(all=True, filters={"name": DOCKER}):
        old.remove(force=True)
    c = client.containers.run("labkit/busybox", ["sleep", "600"], name=DOCKER, detach=True)
    c.reload()
    try:
        yield c
    finally:
        c.remove(force=True)


def test_dockerd_and_the_cri_have_their_namespaces(engine):
    names = {n.name for n in ctr.namespaces()}
    assert {"moby", "k8s.io"} <= names
    refs = {i.ref for i in ctr.images("k8s.io")}
    assert {f"docker.io/labkit/{n}:latest" for n in ("busybox", "pause", "web")} <= refs


def test_a_pulled_image_is_a_chain_of_committed_snapshots_keyed_by_chain_id(box):
    chain = ctr.lineage(NS, CTR)
    assert [s.kind for s in chain] == ["Active", "Committed", "Committed", "Committed"]
    image = next(i for i in ctr.images(NS) if i.ref == REF)
    blobs = {b.digest: b.labels for b in ctr.content(NS)}
    config_digest = blobs[image.digest]["containerd.io/gc.ref.content.config"]
    assert blobs[config_digest]["containerd.io/gc.ref.snapshot.overlayfs"] == chain[1].key
    diff_ids = json.loads(ctr.ctr("content", "get", config_digest, namespace=NS))["rootfs"]["diff_ids"]
    chain_ids = [diff_ids[0]]
    for d in diff_ids[1:]:
        chain_ids.append("sha256:" + hashlib.sha256(f"{chain_ids[-1]} {d}".encode()).hexdigest())
    assert chain_ids == [s.key for s in reversed(chain[1:])]


def test_a_container_is_metadata_and_its_task_is_the_process(box):
    (c,) = [c for c in ctr.containers(NS) if c.id == CTR]
    assert c.image == REF and c.runtime == "io.containerd.runc.v2"
    assert box.status == "RUNNING"
    assert ctr.cmdline(box.pid) == ["sleep", "600"]
    assert ctr.container_info(NS, CTR)["SnapshotKey"] == CTR


def test_the_kernels_overlay_is_the_snapshot_mount(box):
    seen = ctr.rootfs_mount(NS, CTR)
    asked = ctr.snapshot_mounts(NS, CTR)
    assert seen.type == "overlay"
    assert (seen.upperdir, seen.workdir, seen.lowerdirs) == (asked.upperdir, asked.workdir, asked.lowerdirs)
    ctr.ctr("tasks", "exec", "--exec-id", "lab-03-test-write", CTR, "sh", "-c", "echo hi > /lab-03.txt", namespace=NS)
    assert open(os.path.join(seen.upperdir, "lab-03.txt")).read() == "hi\n"
    assert not any(os.path.exists(os.path.join(d, "lab-03.txt")) for d in seen.lowerdirs)


def test_the_shim_owns_the_task_and_containerd_is_connected_to_it(box):
    from labkit.engine import containerd as engine

    shim = ctr.shim(NS, CTR)
    assert ctr.parent_pid(box.pid) == shim.pid
    assert shim.argv[0].endswith(ctr.SHIM) and (shim.namespace, shim.id) == (NS, CTR)
    assert shim.ppid != engine.daemon().pid()          # daemonized: not containerd's child
    assert os.path.exists(shim.socket)
    assert ctr.socket_peers(shim.socket) == [engine.daemon().pid()]


def test_a_missing_task_is_a_lab_error(box):
    with pytest.raises(LabError, match=CTR):
        ctr.task(NS, "lab-03-nope")
    with pytest.raises(LabError, match="Nothing is mounted"):
        ctr.rootfs_mount(NS, "lab-03-nope")


def test_dockers_container_is_in_moby_without_image_or_snapshot(docker_box):
    task = ctr.task("moby", docker_box.id)
    assert task.pid == docker_box.attrs["State"]["Pid"]
    info = ctr.container_info("moby", docker_box.id)
    assert info["Image"] == "" and info["SnapshotKey"] == ""
    (mount,) = ctr.mounts_at(info["Spec"]["root"]["path"])[-1:]
    assert mount.upperdir == docker_box.attrs["GraphDriver"]["Data"]["UpperDir"]
    assert ctr.shim("moby", docker_box.id).pid == ctr.parent_pid(task.pid)


def test_checkers_accept_the_live_answer_and_reject_the_rest(box, docker_box):
    from labkit.check import check, wrong_answers
    from labkit.exercises import containerd as ex

    truths = {
        "03.1": docker_box.attrs["GraphDriver"]["Data"]["UpperDir"],
        "03.2": next(key for key, d in zip([s.key for s in ctr.lineage(NS, CTR)][1:], ctr.rootfs_mount(NS, CTR).lowerdirs)
                     if os.path.lexists(os.path.join(d, "bin", "busybox"))),
        "03.3": ctr.shim("moby", docker_box.id).pid,
    }
    assert (ex.NAMESPACE, ex.CONTAINER, ex.DOCKER_CONTAINER) == (NS, CTR, DOCKER)
    wrong = wrong_answers()
    for exercise, truth in truths.items():
        assert check(exercise, truth).ok, exercise
        assert len(wrong[exercise]) >= 4
        for answer in wrong[exercise]:
            result = check(exercise, answer)
            assert not result.ok and "not running" not in result.message, (exercise, answer, result)


def test_the_view_is_drawn_from_the_live_system(box, docker_box):
    from labkit.widgets.containerd_view import describe, draw, gather

    system = gather(["moby", NS], only={docker_box.id, CTR})
    text = describe(system)
    assert f"container {CTR} from {REF}" in text
    assert "rootfs: snapshot lab-03-ctr (Active) on 3 Committed layer(s)" in text
    assert f"container {docker_box.id} (no image in containerd)" in text
    assert text.count("task: RUNNING, owned by containerd-shim-runc-v2") == 2
    src = draw(system).source
    assert f"shim_{ctr.shim(NS, CTR).pid}" in src


def test_containerd_restarts_under_a_running_task(box):
    from labkit.engine import containerd as engine

    daemon = engine.daemon()
    before = (daemon.pid(), box.pid, ctr.started(box.pid), ctr.shim(NS, CTR))
    daemon.stop()
    try:
        assert ctr.alive(box.pid) and ctr.alive(before[3].pid)
    finally:
        if daemon.pid() is None:        # a concurrent `labkit.up()` may have started one meanwhile
            daemon.start()
    after = ctr.task(NS, CTR)
    assert after.status == "RUNNING" and after.pid == before[1]
    assert ctr.started(after.pid) == before[2]
    assert ctr.shim(NS, CTR) == before[3]
    assert daemon.pid() != before[0]
    assert ctr.socket_peers(before[3].socket) == [daemon.pid()]


def test_remove_namespace_leaves_nothing_behind(engine):
    ns = "lab-03-rm"
    ctr.remove_namespace(ns)
    task = start_box(ns, "lab-03-rm-box")
    shim = ctr.shim(ns, "lab-03-rm-box")
    rootfs = str(ctr.bundle(ns, "lab-03-rm-box") / "rootfs")
    assert ctr.namespace_cgroups(ns)
    gone = ctr.remove_namespace(ns)
    assert f"namespace {ns}" in gone and "task lab-03-rm-box" in gone
    assert ns not in {n.name for n in ctr.namespaces()}
    assert ctr.namespace_cgroups(ns) == []
    assert not (ctr.RUNC_ROOT / ns).exists()
    assert not ctr.alive(task.pid) and not ctr.alive(shim.pid)
    assert ctr.mounts_at(rootfs) == []
    assert ctr.remove_namespace(ns) == []           # idempotent
