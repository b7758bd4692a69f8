"""The registry client against the real lab registry (distribution 2.8 on 127.0.0.1:5000)."""
from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest

from labkit import config
from labkit.errors import LabError
from labkit.oci import registry
from labkit.oci.arch import host_platform

pytestmark = pytest.mark.integration

REPO = "lab-02-regtest"


@pytest.fixture(scope="module")
def docker_client(engine):
    import docker

    return docker.DockerClient(base_url=config.DOCKER_HOST, timeout=120)


@pytest.fixture
def scratch_repo(engine, docker_client):
    """A repository of this test's own, removed again (registry and local tags) whatever happens."""
    yield REPO
    registry.remove_repository(REPO)
    for image in docker_client.images.list(name=f"{config.REGISTRY}/{REPO}"):
        docker_client.images.remove(image.id, force=True)


def test_the_registry_speaks_the_distribution_api(engine):
    assert registry.ping() == "registry/2.0"
    assert {"labkit/busybox", "labkit/pause", "labkit/web"} <= set(registry.catalog())
    assert "latest" in registry.tags("labkit/web")


def test_catalog_pages_are_all_followed(engine, monkeypatch):
    whole = registry.catalog()
    monkeypatch.setattr(registry, "PAGE", 1)        # one repository a page: the Link header is followed
    assert registry.catalog() == whole


def test_the_manifest_digest_is_dockers_repo_digest(engine, docker_client):
    man = registry.manifest("labkit/web", "latest")
    assert man.media_type == registry.DOCKER_MANIFEST
    assert man.digest == registry.digest_of(man.raw) == registry.manifest_digest("labkit/web", "latest")
    repo_digests = docker_client.images.get("labkit/web").attrs["RepoDigests"]
    assert f"{config.REGISTRY}/labkit/web@{man.digest}" in repo_digests
    assert registry.manifest("labkit/web", man.digest).raw == man.raw


def test_config_blob_is_the_image_id_and_layers_gunzip_to_the_diff_ids(engine, docker_client):
    image = docker_client.images.get("labkit/web")
    man = registry.manifest("labkit/web", "latest").json()
    config_bytes = registry.blob("labkit/web", man["config"]["digest"])
    assert registry.digest_of(config_bytes) == image.id
    diff_ids = [registry.digest_of(gzip.decompress(registry.blob("labkit/web", layer["digest"])))
                for layer in man["layers"]]
    assert diff_ids == image.attrs["RootFS"]["Layers"] == json.loads(config_bytes)["rootfs"]["diff_ids"]
    assert all(layer["digest"] not in diff_ids for layer in man["layers"])   # compressed != uncompressed


def test_errors_carry_the_registrys_own_json(engine):
    with pytest.raises(registry.RegistryError) as err:
        registry.manifest("labkit/web", "no-such-tag")
    assert err.value.codes == ("MANIFEST_UNKNOWN",) and '"Tag":"no-such-tag"' in str(err.value)
    with pytest.raises(registry.RegistryError) as err:
        registry.tags("lab-02-never-pushed")
    assert err.value.codes == ("NAME_UNKNOWN",) and err.value.status == 404
    assert not registry.has_blob("labkit/web", "sha256:" + "0" * 64)


def test_without_the_right_accept_header_the_registry_converts_to_schema1(engine):
    with pytest.raises(LabError, match="schema 1"):
        registry.manifest("labkit/web", "latest", accept=[registry.OCI_MANIFEST])


def _tiny_image() -> tuple[bytes, bytes]:
    """A one-file layer and its config: the least an image needs to be pulled and run."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"pushed by labkit.oci.registry\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    layer = buf.getvalue()
    cfg = {**host_platform(), "config": {},        # docker pulls it to run here: this machine's platform
           "rootfs": {"type": "layers", "diff_ids": [registry.digest_of(layer)]}}
    return layer, json.dumps(cfg).encode()


def test_an_image_pushed_by_the_client_is_pulled_by_docker_then_removed(scratch_repo, docker_client):
    layer, cfg = _tiny_image()
    blob = gzip.compress(layer, mtime=0)
    assert registry.put_blob(scratch_repo, blob) == registry.digest_of(blob)
    assert registry.put_blob(scratch_repo, cfg) == registry.digest_of(cfg)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": registry.OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": registry.digest_of(cfg), "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": registry.digest_of(blob), "size": len(blob)}],
    }).encode()
    digest = registry.put_manifest(scratch_repo, "t1", manifest, registry.OCI_MANIFEST)
    assert registry.tags(scratch_repo) == ["t1"]
    assert registry.manifest(scratch_repo, "t1") == (manifest, digest, registry.OCI_MANIFEST)

    pulled = docker_client.images.pull(f"{config.REGISTRY}/{scratch_repo}", tag="t1")
    assert pulled.id == registry.digest_of(cfg)                 # the image id is the config's digest

    assert registry.remove_repository(scratch_repo) == [digest]
    assert scratch_repo not in registry.catalog()
    with pytest.raises(registry.RegistryError):
        registry.manifest(scratch_repo, digest)


def test_a_manifest_is_deleted_by_digest_and_its_tags_go_with_it(scratch_repo):
    layer, cfg = _tiny_image()
    registry.put_blob(scratch_repo, cfg)
    registry.put_blob(scratch_repo, layer)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": registry.OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": registry.digest_of(cfg), "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": registry.digest_of(layer), "size": len(layer)}],
    }).encode()
    for tag in ("a", "b"):
        digest = registry.put_manifest(scratch_repo, tag, manifest, registry.OCI_MANIFEST)
    assert sorted(registry.tags(scratch_repo)) == ["a", "b"]
    registry.delete_manifest(scratch_repo, digest)
    assert registry.tags(scratch_repo) == []
