"""Reproducible lab images: the same bytes, ids and digests on every machine.

`docker build` stamps an image with the build's time (file times in each layer tar, ``created``
in the config and its history) and with the build container's id (``container``,
``container_config``). Two machines building the same Dockerfile get different image ids, and
different gzip sizes in the registry. `normalize()` rewrites a `docker save` archive as a build
at a fixed time would have made it (the idea of SOURCE_DATE_EPOCH, reproducible-builds.org):
layer tars with fixed times and no owner names, a config without build-machine fields. Loaded
back with `docker load`, the image id is then the sha256 of bytes that depend only on the
build context.
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile

EPOCH = 1767225600                       # 2026-01-01T00:00:00Z: every time in a lab image
EPOCH_RFC3339 = "2026-01-01T00:00:00Z"
# Fields of a legacy-builder config that describe the build machine, not the image.
BUILD_FIELDS = ("container", "container_config", "docker_version")


def normalize(saved: bytes) -> bytes:
    """A `docker save` archive of one image, rewritten to be reproducible (same format)."""
    files = _members(saved)
    manifest = json.loads(files["manifest.json"])
    if len(manifest) != 1:
        raise ValueError(f"expected an archive of one image, found {len(manifest)}")
    entry = manifest[0]
    layers = [layer_tar(files[name]) for name in entry["Layers"]]
    config = image_config(json.loads(files[entry["Config"]]), layers)
    config_hex = _sha256(config)
    layer_names = [f"{_sha256(data)}/layer.tar" for data in layers]
    new_manifest = [{"Config": f"{config_hex}.json", "RepoTags": entry.get("RepoTags") or [],
                     "Layers": layer_names}]
    out = {f"{config_hex}.json": config, "manifest.json": _json(new_manifest)}
    out.update(zip(layer_names, layers))
    return _archive(out)


def layer_tar(data: bytes) -> bytes:
    """One layer tar with every time set to EPOCH and owners by number only; order kept."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as src, \
            tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as dst:
        for member in src.getmembers():
            member.mtime = EPOCH
            member.uname = member.gname = ""
            member.pax_headers = {}          # atime/ctime live here in PAX archives
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    return out.getvalue()


def image_config(config: dict, layers: list[bytes]) -> bytes:
    """The config with fixed times, no build-machine fields, and diff_ids of `layers`."""
    config = {k: v for k, v in config.items() if k not in BUILD_FIELDS}
    config["created"] = EPOCH_RFC3339
    config["history"] = [{**h, "created": EPOCH_RFC3339} for h in config.get("history", [])]
    # `Image` names the intermediate image of the last build step: a build-cache id.
    config["config"] = {**config.get("config", {}), "Image": ""}
    config["rootfs"] = {"type": "layers", "diff_ids": ["sha256:" + _sha256(data) for data in layers]}
    return _json(config)


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def _archive(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(files[name]), EPOCH
            tar.addfile(info, io.BytesIO(files[name]))
    return out.getvalue()


def _json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
