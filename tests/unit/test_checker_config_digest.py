"""Exercise 02.2's judge on a `docker save` tar shaped as Docker's containerd image store writes it:
an OCI layout whose manifest.json names blobs/sha256/<hex>, and an engine id that is the manifest's
digest, not the config's. The right function must pass there too; the engine's id must not."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from labkit.exercises.images import _config_file_name, _whole_tar_hash, judge_config_digest


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, str, str]:
    """(tar, the engine's image id = the OCI manifest's digest, the config's digest)."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = b"not really a tar, but bytes with a digest"
    blobs = {_digest(config): config, _digest(layer): layer}
    manifest = json.dumps({"schemaVersion": 2, "config": {"digest": _digest(config)},
                           "layers": [{"digest": _digest(layer)}]}).encode()
    blobs[_digest(manifest)] = manifest
    files = {f"blobs/sha256/{d.split(':')[1]}": b for d, b in blobs.items()}
    files["manifest.json"] = json.dumps([{"Config": f"blobs/sha256/{_digest(config).split(':')[1]}",
                                          "RepoTags": ["labkit/web:latest"],
                                          "Layers": [f"blobs/sha256/{_digest(layer).split(':')[1]}"]}]).encode()
    path = tmp_path / "web.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path, _digest(manifest), _digest(config)


def right(path: str) -> str:
    with tarfile.open(path) as tar:
        name = json.load(tar.extractfile("manifest.json"))[0]["Config"]
        return _digest(tar.extractfile(name).read())


def test_the_config_digest_is_right_where_the_id_is_the_manifests(saved):
    path, image_id, config = saved
    result = judge_config_digest(right, path, image_id)
    assert result.ok, result.message
    assert "manifest's digest" in result.message and image_id[:19] in result.message


def test_the_engines_id_is_not_the_config_digest(saved):
    path, image_id, _ = saved
    result = judge_config_digest(lambda p: image_id, path, image_id)
    assert not result.ok and "engine's image id" in result.message


@pytest.mark.parametrize("wrong", [_whole_tar_hash, _config_file_name, lambda p: right(p).split(":")[1]],
                         ids=["whole tar", "file name", "hex only"])
def test_plausible_wrong_answers_fail(saved, wrong):
    path, image_id, _ = saved
    assert not judge_config_digest(wrong, path, image_id).ok
