"""labkit.repro: a built image rewritten so that its bytes depend only on what it holds."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile

from labkit import repro


def layer(mtime: int, owner: str = "root") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        d = tarfile.TarInfo("bin")
        d.type, d.mtime, d.uname = tarfile.DIRTYPE, mtime, owner
        tar.addfile(d)
        f = tarfile.TarInfo("bin/hello")
        f.size, f.mtime, f.mode, f.uname = 3, mtime + 1, 0o755, owner
        tar.addfile(f, io.BytesIO(b"hi\n"))
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname, link.mtime = tarfile.SYMTYPE, "/bin/hello", mtime
        tar.addfile(link)
    return out.getvalue()


def saved(mtime: int, container: str) -> bytes:
    """A `docker save` archive as the legacy builder leaves it, at build time `mtime`."""
    data = layer(mtime)
    config = {"architecture": "amd64", "os": "linux", "created": f"2026-11-{mtime % 28 + 1:02d}T10:00:00Z",
              "container": container, "container_config": {"Hostname": container[:12]},
              "docker_version": "20.10.24", "config": {"Cmd": ["sh"], "Image": "sha256:" + container},
              "history": [{"created": "2026-11-02T10:00:00Z", "created_by": "COPY hello"}],
              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(data).hexdigest()]}}
    files = {"c.json": json.dumps(config).encode(), "l/layer.tar": data,
             "manifest.json": json.dumps([{"Config": "c.json", "RepoTags": ["labkit/t:latest"],
                                           "Layers": ["l/layer.tar"]}]).encode()}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(body), mtime
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def test_two_builds_at_different_times_become_the_same_bytes():
    a, b = saved(1_700_000_000, "a" * 64), saved(1_800_000_000, "b" * 64)
    assert a != b
    assert repro.normalize(a) == repro.normalize(b)


def test_normalizing_twice_changes_nothing():
    once = repro.normalize(saved(1_700_000_000, "a" * 64))
    assert repro.normalize(once) == once


def test_the_config_names_its_own_layers_and_no_build_machine():
    files = members(repro.normalize(saved(1_700_000_000, "a" * 64)))
    manifest = json.loads(files["manifest.json"])[0]
    config_bytes = files[manifest["Config"]]
    config = json.loads(config_bytes)
    assert manifest["Config"] == hashlib.sha256(config_bytes).hexdigest() + ".json"   # the image id
    assert manifest["RepoTags"] == ["labkit/t:latest"]
    assert not set(repro.BUILD_FIELDS) & set(config)
    assert config["created"] == repro.EPOCH_RFC3339 and config["config"]["Image"] == ""
    assert [h["created"] for h in config["history"]] == [repro.EPOCH_RFC3339]
    layer_bytes = files[manifest["Layers"][0]]
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer_bytes).hexdigest()]


def test_a_layer_keeps_its_contents_order_and_modes():
    out = repro.layer_tar(layer(1_700_000_000, owner="builder"))
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        got = [(m.name, m.mtime, m.uname, m.mode, m.type, m.linkname) for m in tar.getmembers()]
        body = tar.extractfile("bin/hello").read()
    assert body == b"hi\n"
    assert [g[0] for g in got] == ["bin", "bin/hello", "bin/sh"]
    assert {g[1] for g in got} == {repro.EPOCH} and {g[2] for g in got} == {""}
    assert got[1][3] == 0o755 and got[2][4] == tarfile.SYMTYPE and got[2][5] == "/bin/hello"
