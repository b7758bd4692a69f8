"""The OCI image layout: blobs named by their sha256, a manifest per image, index.json as the entry.

Written and read back exactly as the image spec says (https://github.com/opencontainers/image-spec):

    oci-layout                 {"imageLayoutVersion": "1.0.0"}
    index.json                 an image index: descriptors of manifests, tagged by annotation
    blobs/sha256/<hex>         every manifest, config and layer, named by the sha256 of its bytes

A descriptor ``{"mediaType", "digest", "size"}`` is how one blob points at another. Every write
checks its input first and lands by rename, so a bad call leaves nothing half-written.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from labkit.errors import LabError
from labkit.oci.arch import host_platform

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = LAYER + "+gzip"
LAYER_TYPES = (LAYER, LAYER_GZIP)
REF_NAME = "org.opencontainers.image.ref.name"    # the annotation that makes a tag
LAYOUT_FILE = "oci-layout"
LAYOUT_VERSION = "1.0.0"
WHITEOUT = ".wh."                   # `.wh.NAME` in a layer deletes NAME of the layers below
OPAQUE = ".wh..wh..opq"             # in a directory: hide everything the layers below put there

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*$")
_REF = re.compile(r"^[A-Za-z0-9_][\w.-]{0,127}$")
_GZIP_MAGIC = b"\x1f\x8b"


def sha256_digest(data: bytes) -> str:
    """The digest of `data` as OCI writes it: 'sha256:' and 64 hex characters."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: object) -> str:
    """`digest` if it is a well-formed sha256 digest, else a LabError saying what is wrong."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise LabError(f"{digest!r} is not a sha256 digest", "",
                       "A digest is 'sha256:' followed by 64 lower-case hex characters")
    return digest


def descriptor(data: bytes, media_type: str, annotations: dict[str, str] | None = None) -> dict:
    """The descriptor of the blob `data`: what it is, its sha256, its size in bytes."""
    _check_media_type(media_type)
    desc = {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)}
    if annotations:
        desc["annotations"] = dict(annotations)
    return desc


def canonical_json(obj: object) -> bytes:
    """JSON bytes that are the same every time for the same object (so is their digest)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _check_ref(ref: object) -> None:
    if not isinstance(ref, str) or not _REF.match(ref):
        raise LabError(f"{ref!r} is not a tag", "", "A tag is letters, digits, '_', '.' and '-', like 'v1'")


def _check_media_type(media_type: object) -> None:
    if not isinstance(media_type, str) or not _MEDIA_TYPE.match(media_type):
        raise LabError(f"{media_type!r} is not a media type", "",
                       f"Use one like {MANIFEST!r}, {CONFIG!r} or {LAYER_GZIP!r}")


# --- layers -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One member of a layer tar: a file, directory, symlink or whiteout."""

    path: str
    kind: str = "file"              # file | dir | symlink
    data: bytes = b""
    mode: int = 0o644
    target: str = ""                # a symlink's target

    def tarinfo(self) -> tarfile.TarInfo:
        """Its tar header: owner root, mtime 0, so the same entries give the same bytes."""
        info = tarfile.TarInfo(self.path.strip("/"))
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
        info.mode = self.mode
        if self.kind == "dir":
            info.type = tarfile.DIRTYPE
        elif self.kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, self.target
        else:
            info.size = len(self.data)
        return info


def file(path: str, data: bytes | str, mode: int = 0o644) -> Entry:
    """A regular file in a layer."""
    return Entry(path, "file", data.encode() if isinstance(data, str) else data, mode)


def directory(path: str, mode: int = 0o755) -> Entry:
    """A directory in a layer."""
    return Entry(path, "dir", mode=mode)


def symlink(path: str, target: str) -> Entry:
    """A symbolic link in a layer."""
    return Entry(path, "symlink", mode=0o777, target=target)


def whiteout(path: str) -> Entry:
    """The empty file `DIR/.wh.NAME` that deletes DIR/NAME of the layers below."""
    parent, _, name = path.strip("/").rpartition("/")
    if not name or name.startswith(WHITEOUT):
        raise LabError(f"Cannot white out {path!r}", "it names no file", "Give the path of a file or directory, like 'etc/motd'")
    return Entry(f"{parent}/{WHITEOUT}{name}" if parent else WHITEOUT + name)


def opaque(path: str) -> Entry:
    """The marker `DIR/.wh..wh..opq`: DIR keeps only what this layer puts in it."""
    return Entry(f"{path.strip('/')}/{OPAQUE}")


def tar_layer(entries: Iterable[Entry]) -> bytes:
    """An uncompressed layer tar of `entries`, the same bytes every time (mtime 0, owner root)."""
    entries = list(entries)
    for e in entries:
        if not isinstance(e, Entry) or not e.path.strip("/") or ".." in Path(e.path).parts:
            raise LabError(f"Cannot put {e!r} in a layer", "a member needs a relative path inside the layer",
                           "Build members with layout.file(), directory(), symlink() or whiteout()")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            tar.addfile(e.tarinfo(), io.BytesIO(e.data) if e.kind == "file" else None)
    return buf.getvalue()


def gzip_layer(tar: bytes) -> bytes:
    """`tar` gzip-compressed with a zero time and no name in the header, so the digest is reproducible,
    on every Python too (`gzip.compress(mtime=0)` writes another header byte before 3.11)."""
    gz = zlib.compressobj(9, zlib.DEFLATED, 31)      # wbits 31: deflate in a gzip wrapper
    return gz.compress(tar) + gz.flush()


def uncompressed(blob: bytes) -> bytes:
    """A layer blob as its tar: gunzipped when it starts with the gzip magic."""
    return gzip.decompress(blob) if blob[:2] == _GZIP_MAGIC else blob


def diff_id(blob: bytes) -> str:
    """A layer's diff_id: the digest of its *uncompressed* tar (the config lists these)."""
    return sha256_digest(uncompressed(blob))


def members(blob: bytes) -> list[tarfile.TarInfo]:
    """The members of a layer blob, gzip or not, in tar order."""
    try:
        with tarfile.open(fileobj=io.BytesIO(uncompressed(blob)), mode="r:") as tar:
            return tar.getmembers()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise LabError("This blob is not a layer tar", str(err), "Pass a layer's bytes (tar or tar+gzip)") from None


def whiteout_target(name: str) -> tuple[str, str] | None:
    """For a whiteout member: ('file', path it deletes) or ('opaque', directory it empties)."""
    parent, _, base = name.strip("/").removeprefix("./").rpartition("/")
    if base == OPAQUE:
        return ("opaque", "/" + parent)
    if base.startswith(WHITEOUT):
        return ("file", "/" + (f"{parent}/" if parent else "") + base[len(WHITEOUT):])
    return None


def flatten(blobs: Iterable[bytes]) -> dict[str, tarfile.TarInfo]:
    """The root filesystem the layers make, bottom first: '/path' -> its member, whiteouts applied."""
    tree: dict[str, tarfile.TarInfo] = {}
    for blob in blobs:
        infos = members(blob)
        # Whiteouts act on the layers below only, so apply them all before this layer's own entries land.
        for info in infos:
            wo = whiteout_target(info.name)
            if wo is not None:
                gone = wo[1].rstrip("/") + "/"
                tree = {p: i for p, i in tree.items()
                        if not p.startswith(gone) and (wo[0] == "opaque" or p != wo[1])}
        for info in infos:
            if whiteout_target(info.name) is None:
                tree["/" + info.name.strip("/").removeprefix("./")] = info
    return tree


# --- the layout ---------------------------------------------------------------------------

class Layout:
    """An OCI image layout directory: put blobs in, tag manifests, read every part back verified."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Layout({str(self.path)!r})"

    @classmethod
    def create(cls, path: str | os.PathLike) -> "Layout":
        """A new empty layout at `path` (an existing layout is reused, any other directory refused)."""
        path = Path(path)
        if (path / LAYOUT_FILE).exists():
            return cls.open(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise LabError(f"Cannot make an image layout at {path}", "it exists and is not an empty directory",
                           "Pick a new directory, or remove this one first")
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        layout = cls(path)
        layout._write(path / "index.json", canonical_json({"schemaVersion": 2, "mediaType": INDEX, "manifests": []}))
        layout._write(path / LAYOUT_FILE, canonical_json({"imageLayoutVersion": LAYOUT_VERSION}))
        return layout

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Layout":
        """The layout at `path`, checked to be one."""
        path = Path(path)
        try:
            version = json.loads((path / LAYOUT_FILE).read_text())["imageLayoutVersion"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise LabError(f"{path} is not an OCI image layout", f"no readable {LAYOUT_FILE} ({err})",
                           "A layout holds oci-layout, index.json and blobs/; make one with Layout.create()") from None
        if version != LAYOUT_VERSION:
            raise LabError(f"{path} is an image layout of version {version!r}", "", f"This reader knows {LAYOUT_VERSION}")
        return cls(path)

    # blobs
    def blob_path(self, digest: str) -> Path:
        """Where the blob named `digest` lives: blobs/sha256/<hex>."""
        algorithm, hexpart = check_digest(digest).split(":")
        return self.path / "blobs" / algorithm / hexpart

    def put_blob(self, data: bytes, media_type: str) -> dict:
        """Store `data` under its digest; returns its descriptor."""
        if not isinstance(data, (bytes, bytearray)):
            raise LabError(f"A blob is bytes, not {type(data).__name__}", "", "Encode text or JSON to bytes first")
        desc = descriptor(bytes(data), media_type)
        target = self.blob_path(desc["digest"])
        if not target.exists():
            self._write(target, bytes(data))
        return desc

    def put_json(self, obj: object, media_type: str) -> dict:
        """Store `obj` as canonical JSON; returns its descriptor."""
        _check_media_type(media_type)
        return self.put_blob(canonical_json(obj), media_type)

    def has(self, digest: str) -> bool:
        """Whether the layout holds the blob named `digest`."""
        return self.blob_path(digest).is_file()

    def read_blob(self, desc: dict | str) -> bytes:
        """The bytes a descriptor (or digest) names, after checking their digest and size."""
        digest = desc["digest"] if isinstance(desc, dict) else desc
        path = self.blob_path(digest)
        try:
            data = path.read_bytes()
        except OSError:
            raise LabError(f"The layout has no blob {digest}", f"{path} does not exist",
                           "Store it first (put_blob), or fix the descriptor that names it") from None
        if sha256_digest(data) != digest:
            raise LabError(f"Blob {digest} is corrupt", f"its bytes hash to {sha256_digest(data)}",
                           "A blob's file name must be the sha256 of its bytes: write it again")
        if isinstance(desc, dict) and desc.get("size") != len(data):
            raise LabError(f"The descriptor of {digest} gives size {desc.get('size')}",
                           f"the blob holds {len(data)} bytes", "Set size to len(blob)")
        return data

    def read_json(self, desc: dict | str) -> dict:
        """A JSON blob (manifest, config, index), verified and parsed."""
        try:
            return json.loads(self.read_blob(desc))
        except ValueError as err:
            raise LabError(f"Blob {desc} is not JSON", str(err), "") from None

    # tags
    def index(self) -> dict:
        """index.json, parsed."""
        try:
            return json.loads((self.path / "index.json").read_text())
        except (OSError, ValueError) as err:
            raise LabError(f"Cannot read {self.path / 'index.json'}", str(err), "Make the layout with Layout.create()") from None

    def tags(self) -> dict[str, dict]:
        """Tag -> the manifest descriptor index.json gives it."""
        return {d["annotations"][REF_NAME]: d for d in self.index().get("manifests", [])
                if REF_NAME in d.get("annotations", {})}

    def tag(self, ref: str, manifest: dict) -> dict:
        """Point tag `ref` at the manifest `manifest` names (replacing an older one); returns the entry."""
        _check_ref(ref)
        if not isinstance(manifest, dict) or manifest.get("mediaType") not in (MANIFEST, INDEX):
            raise LabError("A tag points at a manifest (or an index)",
                           f"this descriptor's mediaType is {manifest.get('mediaType') if isinstance(manifest, dict) else manifest!r}",
                           f"Tag the descriptor that put_json(manifest, {MANIFEST!r}) returned")
        body = self.read_json(manifest)          # it must exist and match its digest before index.json names it
        if body.get("schemaVersion") != 2:
            raise LabError(f"Blob {manifest['digest']} is not a schemaVersion 2 manifest", "", "")
        entry = {k: manifest[k] for k in ("mediaType", "digest", "size")}
        entry["annotations"] = {**manifest.get("annotations", {}), REF_NAME: ref}
        index = self.index()
        index["manifests"] = [d for d in index.get("manifests", [])
                              if d.get("annotations", {}).get(REF_NAME) != ref] + [entry]
        self._write(self.path / "index.json", canonical_json(index))
        return entry

    def resolve(self, ref: str) -> dict:
        """The manifest descriptor tagged `ref`."""
        tags = self.tags()
        if ref not in tags:
            raise LabError(f"The layout at {self.path} has no tag {ref!r}",
                           f"its tags are: {', '.join(sorted(tags)) or 'none'}", "Tag a manifest with Layout.tag()")
        return tags[ref]

    def manifest(self, ref: str) -> dict:
        """The manifest tagged `ref`."""
        return self.read_json(self.resolve(ref))

    def config(self, ref: str) -> dict:
        """The image config of the manifest tagged `ref`."""
        return self.read_json(self.manifest(ref)["config"])

    def layers(self, ref: str) -> list[bytes]:
        """The layer blobs of the image tagged `ref`, bottom first, each verified."""
        return [self.read_blob(d) for d in self.manifest(ref)["layers"]]

    # whole images
    def write_image(self, ref: str, layers: list[bytes], config: dict | None = None,
                    compress: bool | list[bool] = True) -> dict:
        """Store an image (layer tars, a config, a manifest) and tag it `ref`; returns the manifest descriptor.

        `config` is the image config without `rootfs`, which is filled in from the layers; without an
        `architecture` it is this host's (oci.arch.host_platform).
        `compress` gzips every layer, or says per layer whether to.
        """
        flags = [compress] * len(layers) if isinstance(compress, bool) else list(compress)
        if not layers or len(flags) != len(layers):
            raise LabError("An image needs at least one layer, and one compress flag per layer",
                           f"got {len(layers)} layers and {len(flags)} flags", "")
        for i, tar in enumerate(layers):
            if not isinstance(tar, (bytes, bytearray)) or tar[:2] == _GZIP_MAGIC:
                raise LabError(f"Layer {i} is not an uncompressed tar", "write_image compresses layers itself",
                               "Pass the bytes tar_layer() returns")
            members(tar)
        given = config or {}
        # Unless told otherwise, the image is for this host: containerd unpacks only its own platform.
        base = {"os": "linux"} if "architecture" in given else host_platform()
        cfg = {**base, "config": {}, **given}
        if not isinstance(cfg.get("config"), dict):
            raise LabError("The image config's 'config' must be an object", f"got {cfg.get('config')!r}", "")
        _check_ref(ref)
        # Everything is checked: now write, blobs first, the tag last.
        layer_descs = []
        for tar, gz in zip(layers, flags):
            layer_descs.append(self.put_blob(gzip_layer(tar) if gz else bytes(tar), LAYER_GZIP if gz else LAYER))
        cfg["rootfs"] = {"type": "layers", "diff_ids": [sha256_digest(t) for t in layers]}
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST,
                    "config": self.put_json(cfg, CONFIG), "layers": layer_descs}
        desc = self.put_json(manifest, MANIFEST)
        self.tag(ref, desc)
        return desc

    def verify(self) -> list[str]:
        """Walk index -> manifests -> config and layers; every digest, size and diff_id recomputed.

        Returns one line per blob checked; raises LabError at the first thing that is wrong.
        """
        lines = []
        for ref, mdesc in sorted(self.tags().items()):
            manifest = self.read_json(mdesc)
            lines.append(f"{ref}: manifest {mdesc['digest'][:19]}… {mdesc['size']} bytes ok")
            cfg = self.read_json(manifest["config"])
            lines.append(f"{ref}:   config {manifest['config']['digest'][:19]}… {manifest['config']['size']} bytes ok")
            diff_ids = cfg.get("rootfs", {}).get("diff_ids", [])
            if len(diff_ids) != len(manifest["layers"]):
                raise LabError(f"Image {ref!r}: {len(manifest['layers'])} layers but {len(diff_ids)} diff_ids",
                               "the config lists one diff_id per layer", "Rebuild the config's rootfs.diff_ids")
            for i, (ldesc, want) in enumerate(zip(manifest["layers"], diff_ids)):
                blob = self.read_blob(ldesc)
                if (blob[:2] == _GZIP_MAGIC) != ldesc["mediaType"].endswith("+gzip"):
                    raise LabError(f"Image {ref!r}, layer {i}: mediaType {ldesc['mediaType']}",
                                   "does not match the blob (gzip magic 1f 8b or not)", "Fix the mediaType")
                if diff_id(blob) != want:
                    raise LabError(f"Image {ref!r}, layer {i}: diff_id mismatch",
                                   f"the config says {want}, the uncompressed layer hashes to {diff_id(blob)}",
                                   "diff_ids are digests of the *uncompressed* tars, in layer order")
                lines.append(f"{ref}:   layer {i} {ldesc['digest'][:19]}… {ldesc['size']} bytes ok, diff_id ok")
        return lines

    def archive(self, dest: str | os.PathLike) -> Path:
        """The layout as one tar (an 'OCI archive', what `ctr images import` reads)."""
        self.open(self.path)
        dest = Path(dest)
        tmp = dest.with_name(dest.name + ".part")
        with tarfile.open(tmp, "w") as tar:
            for name in (LAYOUT_FILE, "index.json", "blobs"):
                tar.add(self.path / name, arcname=name)
        tmp.replace(dest)
        return dest

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        # Write beside, then rename: a reader never sees half a blob or half an index.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
