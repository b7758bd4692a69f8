"""labkit.oci.layout against the real tools: umoci unpacks it (whiteouts, opaque ones too), skopeo copies
it into the lab dockerd and converts Docker's media types to OCI's, Docker and containerd run it, and
lesson 05's v2 checker is judged by umoci."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from labkit import config, inventory
from labkit.check import check
from labkit.containerd import remove_namespace
from labkit.exercises import oci_image as ex
from labkit.oci import layout as oci
from labkit.oci import registry
from tests.conftest import residue

pytestmark = pytest.mark.integration

SCRATCH = config.SCRATCH / "lab-05-test"
TAG = "lab-05-test-image:v1"
NS = "lab-05-test"
DOCKER = ["docker", "-H", config.DOCKER_HOST]
CTR = ["ctr", "--address", str(config.CONTAINERD_SOCK), "--namespace", NS]


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def busybox_layer() -> bytes:
    applets = run(["/bin/busybox", "--list"]).stdout.split()
    entries = [oci.directory("bin"), oci.directory("etc"),
               oci.file("bin/busybox", Path("/bin/busybox").read_bytes(), mode=0o755),
               oci.file("etc/passwd", (config.IMAGES_DIR / "busybox" / "passwd").read_bytes())]
    entries += [oci.symlink(f"bin/{a}", "busybox") for a in applets if a != "busybox"]
    return oci.tar_layer(entries)


def lab05(snapshot: dict[str, set[str]]) -> dict[str, set[str]]:
    # Others work on this machine too: judge only what carries this test's names.
    return {k: {x for x in v if "lab-05-test" in x} for k, v in snapshot.items() if any("lab-05-test" in x for x in v)}


@pytest.fixture(scope="module")
def layout(engine):
    shutil.rmtree(SCRATCH, ignore_errors=True)
    before = inventory.snapshot()
    lay = oci.Layout.create(SCRATCH / "layout")
    top = oci.tar_layer([oci.directory("etc"), oci.file("etc/motd", "by hand\n"),
                         oci.directory("bin"), oci.whiteout("bin/wget")])
    lay.write_image("v1", [busybox_layer(), top],
                    {"config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]}}, compress=[True, False])
    yield lay
    run([*DOCKER, "rmi", "--force", TAG])
    remove_namespace(NS)            # its image, its cgroups on v1, hybrid or v2, the namespace
    shutil.rmtree(SCRATCH, ignore_errors=True)
    assert lab05(residue(before)) == {}


def test_umoci_applies_the_whiteout_exactly_as_flatten_does(layout):
    bundle = SCRATCH / "bundle"
    proc = run(["umoci", "unpack", "--image", f"{layout.path}:v1", str(bundle)])
    assert proc.returncode == 0, proc.stderr
    rootfs = bundle / "rootfs"
    assert (rootfs / "etc/motd").read_text() == "by hand\n"
    assert os.path.islink(rootfs / "bin/sh") and not os.path.lexists(rootfs / "bin/wget")
    on_disk = {"/" + str(p.relative_to(rootfs)) for p in rootfs.rglob("*")}
    assert on_disk == set(oci.flatten(layout.layers("v1")))
    shutil.rmtree(bundle)


@pytest.mark.parametrize("marker_first", [True, False], ids=["marker-first", "marker-last"])
def test_umoci_applies_an_opaque_whiteout_as_flatten_does(layout, marker_first):
    # Lesson 05: the marker empties what lower layers put in the directory, wherever it sits in the tar.
    lay = oci.Layout.create(SCRATCH / f"opaque-{marker_first}")
    base = oci.tar_layer([oci.directory("etc"), oci.file("etc/passwd", "p"), oci.directory("etc/sub"),
                          oci.file("etc/sub/x", "x"), oci.directory("bin"), oci.file("bin/sh", "x")])
    only = oci.file("etc/only.txt", "o")
    top = oci.tar_layer([oci.directory("etc"), oci.opaque("etc"), only] if marker_first
                        else [oci.directory("etc"), only, oci.opaque("etc")])
    lay.write_image("v1", [base, top])
    bundle = lay.path.parent / f"bundle-{marker_first}"
    proc = run(["umoci", "unpack", "--image", f"{lay.path}:v1", str(bundle)])
    assert proc.returncode == 0, proc.stderr
    rootfs = bundle / "rootfs"
    assert sorted(os.listdir(rootfs / "etc")) == ["only.txt"] and (rootfs / "bin/sh").exists()
    assert {"/" + str(p.relative_to(rootfs)) for p in rootfs.rglob("*")} == set(oci.flatten(lay.layers("v1")))
    shutil.rmtree(lay.path.parent / f"opaque-{marker_first}")
    shutil.rmtree(bundle)


def test_skopeo_converts_docker_schema2_to_oci_and_keeps_the_layer_blobs(layout):
    # Lesson 05: what `skopeo copy --format oci` changes (media types, manifest, config) and what it keeps (layers).
    pushed = registry.manifest("labkit/busybox", "latest")
    assert pushed.media_type == registry.DOCKER_MANIFEST, "dockerd's classic store pushes Docker's schema 2"
    dest = SCRATCH / "converted"
    proc = run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--format", "oci",
                f"docker://{config.REGISTRY}/labkit/busybox:latest", f"oci:{dest}:busybox"])
    assert proc.returncode == 0, proc.stderr
    lay = oci.Layout.open(dest)
    desc = lay.resolve("busybox")
    before, after = pushed.json(), lay.read_json(desc)
    assert desc["mediaType"] == after["mediaType"] == oci.MANIFEST and after["config"]["mediaType"] == oci.CONFIG
    assert {d["mediaType"] for d in after["layers"]} == {oci.LAYER_GZIP}
    assert [d["digest"] for d in after["layers"]] == [d["digest"] for d in before["layers"]]
    assert desc["digest"] != pushed.digest and after["config"]["digest"] != before["config"]["digest"]
    docker_config = json.loads(registry.blob("labkit/busybox", before["config"]["digest"]))
    assert lay.read_json(after["config"])["rootfs"] == docker_config["rootfs"]      # the same layers, by diff_id
    assert len(lay.verify()) == 2 + len(after["layers"])
    shutil.rmtree(dest)


def test_umoci_refuses_a_layout_whose_blob_was_tampered_with(layout, tmp_path):
    copy = tmp_path / "tampered"
    shutil.copytree(layout.path, copy)
    cfg_desc = oci.Layout.open(copy).manifest("v1")["config"]
    blob = oci.Layout.open(copy).blob_path(cfg_desc["digest"])
    blob.write_bytes(blob.read_bytes().replace(b'"sh"', b'"ls"'))
    proc = run(["umoci", "unpack", "--image", f"{copy}:v1", str(tmp_path / "b")])
    assert proc.returncode != 0 and "digest" in proc.stderr.lower()
    with pytest.raises(Exception, match="corrupt"):
        oci.Layout.open(copy).verify()


def test_skopeo_copies_it_into_the_lab_dockerd_and_docker_runs_it(layout):
    proc = run(["skopeo", "copy", "--quiet", "--dest-daemon-host", config.DOCKER_HOST,
                f"oci:{layout.path}:v1", f"docker-daemon:{TAG}"])
    assert proc.returncode == 0, proc.stderr
    image_id = run([*DOCKER, "image", "inspect", "--format", "{{.Id}}", TAG]).stdout.strip()
    assert image_id == layout.manifest("v1")["config"]["digest"]
    out = run([*DOCKER, "run", "--rm", "--pull", "never", TAG, "sh", "-c", "cat /etc/motd; ls /bin/wget 2>&1"])
    assert out.stdout.startswith("by hand\n") and "No such file" in out.stdout


def test_containerd_imports_the_oci_archive_and_runs_it(layout):
    archive = layout.archive(SCRATCH / "image.tar")
    proc = run([*CTR, "images", "import", "--base-name", TAG.split(":")[0], str(archive)])
    assert proc.returncode == 0, proc.stderr
    listing = run([*CTR, "images", "list"]).stdout
    assert f"{TAG} " in listing and layout.resolve("v1")["digest"] in listing
    out = run([*CTR, "run", "--rm", TAG, "lab-05-test-ctr", "cat", "/etc/motd"])
    assert out.returncode == 0 and out.stdout == "by hand\n", out.stderr


def v2_with(lay: oci.Layout, extra_tar: bytes) -> dict:
    v1 = lay.manifest("v1")
    cfg = lay.config("v1")
    desc = lay.put_blob(oci.gzip_layer(extra_tar), oci.LAYER_GZIP)
    cfg["rootfs"]["diff_ids"].append(oci.sha256_digest(extra_tar))
    manifest = {**v1, "config": lay.put_json(cfg, oci.CONFIG), "layers": v1["layers"] + [desc]}
    mdesc = lay.put_json(manifest, oci.MANIFEST)
    lay.tag("v2", mdesc)
    return mdesc


def test_the_05_2_checker_lets_umoci_judge(layout, monkeypatch):
    copy = SCRATCH / "lab-05-layout-copy"
    shutil.copytree(layout.path, copy)
    monkeypatch.setattr(ex, "LAYOUT", copy)
    lay = oci.Layout.open(copy)
    wrong = v2_with(lay, oci.tar_layer([oci.directory("etc"), oci.file("etc/other.txt", "x")]))
    result = check("05.2", wrong)
    assert not result.ok and "is missing" in result.message
    right = v2_with(lay, oci.tar_layer([oci.directory("etc"), oci.file(ex.EXTRA_FILE, "x")]))
    assert check("05.2", right).ok
    assert not list(config.SCRATCH.glob("lab-05-check-*"))      # the checker's own bundle is gone
    shutil.rmtree(copy)
