"""The containerd diagram and its text, drawn from a System built by hand."""
from labkit import containerd as ctr
from labkit.widgets.containerd_view import ContainerView, NamespaceView, System, describe, draw, short

DOCKER_ID = "3cd56d1ebf754866ebbb50276ce6d2a7d5ba09fa2eaddeff1c32c1faa43379a6"
TOP = "sha256:11aed2025a4031709e424ae163d80fcfa5f671dd1cce38e1b2552b57a13dcddc"
BOTTOM = "sha256:fc209e5ff280f62eff88793d9c119777b72f96721d4e2316559b71c107b34ce5"


def system() -> System:
    docker = ContainerView(ctr.Container(DOCKER_ID, "", "io.containerd.runc.v2"),
                           ctr.Task(DOCKER_ID, 1335, "RUNNING"),
                           ctr.Shim(1314, 1, "moby", DOCKER_ID, "/run/containerd/s/aaa"),
                           rootfs="/var/lib/labkit/docker/overlay2/abc/merged")
    ours = ContainerView(ctr.Container("lab-03-ctr", "127.0.0.1:5000/labkit/busybox:latest", "io.containerd.runc.v2"),
                         ctr.Task("lab-03-ctr", 1416, "RUNNING"),
                         ctr.Shim(1397, 1, "lab-03-ns", "lab-03-ctr", "/run/containerd/s/bbb"),
                         [ctr.Snapshot("lab-03-ctr", TOP, "Active"), ctr.Snapshot(TOP, BOTTOM, "Committed"),
                          ctr.Snapshot(BOTTOM, "", "Committed")])
    idle = ContainerView(ctr.Container("lab-03-idle", "", "io.containerd.runc.v2"))
    image = ctr.Image("127.0.0.1:5000/labkit/busybox:latest", "t", "sha256:" + "1" * 64, "1.0 MiB", ("linux/amd64",))
    return System(31493, "/run/labkit/containerd/containerd.sock", [
        NamespaceView("moby", containers=[docker]),
        NamespaceView("lab-03-ns", [image], {image.ref: TOP}, [ours, idle]),
    ])


def test_short_cuts_only_hex_ids():
    assert short(DOCKER_ID) == "3cd56d1ebf75"
    assert short(TOP) == "sha256:11aed2025a40"
    assert short("lab-03-ctr") == "lab-03-ctr"


def test_the_diagram_has_a_cluster_per_namespace_and_the_shims_outside():
    src = draw(system()).source
    assert "cluster_moby" in src and "cluster_lab_03_ns" in src
    assert "containerd-shim-runc-v2\npid 1314 (parent: pid 1)" in src
    assert "containerd -> shim_1397" in src and "shim_1397 -> lab_03_ns_task_lab_03_ctr" in src
    # the image's top snapshot is drawn once, shared by the image and the container's chain
    assert src.count("lab_03_ns_snap_sha256_11aed") >= 3
    assert src.count('[label="snapshot sha256:11aed2025a40') == 1
    assert "rootfs (not a snapshot)" in src


def test_the_diagram_renders_to_svg():
    svg = draw(system()).pipe(format="svg").decode()
    assert svg.lstrip().startswith("<?xml") and "namespace moby" in svg


def test_the_text_names_no_pid():
    text = describe(system())
    assert "1335" not in text and "1397" not in text and "31493" not in text
    assert "rootfs: snapshot lab-03-ctr (Active) on 2 Committed layer(s)" in text
    assert f"container {DOCKER_ID} (no image in containerd)" in text
    assert "task: none (a container is only metadata until a task starts)" in text
    assert f"image 127.0.0.1:5000/labkit/busybox:latest → snapshot {TOP}" in text
