"""Checkers for lesson 02 · Images: layers, digests, registries."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Callable

from labkit.check import Result, checker

IMAGE = "labkit/web"                 # a lab image that is always there: the checkers work on it
REPO, TAG = "labkit/web", "latest"   # and on its copy in the lab registry

# Exercise 02.1: the lesson's Dockerfile, one step a line (Step 1 is FROM).
STEPS = [
    "FROM labkit/busybox",
    'RUN mkdir /app && echo "built by the lab engine" > /app/built.txt',
    "COPY greeting.txt /app/greeting.txt",
    "RUN wc -c /app/greeting.txt > /app/size.txt",
    'CMD ["cat", "/app/greeting.txt"]',
    "LABEL org.labkit.lesson=02",
]
REBUILT = {"touch": [], "edit": [3, 4, 5, 6]}   # steps that run again after each change
# sha256 of a gzip-compressed empty tar: what a schema 1 manifest lists for every config-only step.
EMPTY_LAYER = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _whole_tar_hash(path: str) -> str:
    return _sha256(Path(path).read_bytes())


def _config_file_name(path: str) -> str:
    with tarfile.open(path) as tar:
        name = json.load(tar.extractfile("manifest.json"))[0]["Config"]
    return "sha256:" + Path(name).name.removesuffix(".json")


def _hex_only(path: str) -> str:
    with tarfile.open(path) as tar:
        name = json.load(tar.extractfile("manifest.json"))[0]["Config"]
        return hashlib.sha256(tar.extractfile(name).read()).hexdigest()


def _raises(path: str) -> str:
    raise KeyError("Config")


def _wrong_02_3() -> list:
    from labkit.oci import registry

    man = registry.manifest(REPO, TAG)
    layers = man.json()["layers"]
    diff_ids = json.loads(registry.blob(REPO, man.json()["config"]["digest"]))["rootfs"]["diff_ids"]
    return [
        {"blob": diff_ids[-1], "diff_id": layers[-1]["digest"]},             # swapped
        {"blob": EMPTY_LAYER, "diff_id": diff_ids[-1]},                       # schema 1's first entry
        {"blob": layers[0]["digest"], "diff_id": diff_ids[0]},                # the bottom layer
        {"blob": man.digest, "diff_id": diff_ids[-1]},                        # the manifest's digest
        layers[-1]["digest"],                                                  # not a dict
    ]


WRONG_ANSWERS = {
    "02.1": [{"touch": [3, 4, 5, 6], "edit": [3, 4, 5, 6]}, {"touch": [], "edit": [3]},
             {"touch": [], "edit": [3, 4]}, {"touch": [], "edit": [1, 2, 3, 4, 5, 6]},
             {"touch": [], "edit": [2, 3, 4, 5, 6]}, [3, 4, 5, 6]],
    "02.2": [_whole_tar_hash, _config_file_name, _hex_only, _raises, "sha256:" + "0" * 64],
    "02.3": _wrong_02_3,
}


# --- 02.1 · which build steps miss the cache --------------------------------------------------

@checker("02.1")
def cache_misses(answer: Any) -> Result:
    """For each change ('touch', 'edit'), the step numbers that run again instead of 'Using cache'."""
    if not isinstance(answer, dict) or set(answer) != set(REBUILT):
        return Result(False, "Answer with a dict of two lists: {\"touch\": [...], \"edit\": [...]}, "
                             "each the numbers of the steps that run again.")
    try:
        given = {k: sorted(int(n) for n in v) for k, v in answer.items()}
    except (TypeError, ValueError):
        return Result(False, "Each value is a list of step numbers, like [2, 5] (or [] for none).")
    if 1 in given["touch"] + given["edit"]:
        return Result(False, "Step 1 (FROM) never runs: it picks the base image by its id, and no cache is involved.")
    if given["touch"]:
        return Result(False, "For `touch`: the cache key of a COPY step is a checksum of the files' content and "
                             "mode, not their modification time. Same bytes, same key.")
    edit = given["edit"]
    if 2 in edit:
        return Result(False, "For the edit: step 2 comes before the COPY and does not read greeting.txt, so its "
                             "parent and instruction are unchanged: a cache hit.")
    if edit and edit[0] == 3 and edit != list(range(3, len(STEPS) + 1)):
        return Result(False, "For the edit: step 3 misses, right. But each step's cache key includes its parent "
                             "image: once one step makes a new image, can any step after it find its key in the cache?")
    if edit != REBUILT["edit"]:
        return Result(False, "For the edit: which is the first step whose input changed? Everything before it is "
                             "a hit; think about what happens after it.")
    return Result(True, "Right: touching changes no checksum, so all hits; the edit changes the COPY checksum, "
                        "and from step 3 on every step has a new parent: all misses, even CMD and LABEL.")


# --- 02.2 · the image id, computed from `docker save` -----------------------------------------

@checker("02.2")
def config_digest(answer: Any) -> Result:
    """A function that computes an image's config digest from a `docker save` tar."""
    if not callable(answer):
        return Result(False, "Give the function itself (`check(\"02.2\", config_digest)`, no parentheses): "
                             "the checker runs it on tars of its own.")
    with tempfile.TemporaryDirectory(prefix="labkit-check-02-") as tmp:
        saved = Path(tmp) / "web.tar"
        return judge_config_digest(answer, saved, _save(IMAGE, saved))


def judge_config_digest(answer: Callable, saved: Path, image_id: str) -> Result:
    """Judge `answer` on the tar `saved` (of IMAGE, whose engine id is `image_id`) and on a re-indented copy.

    The right answer is the digest of the config's bytes. On Docker's classic store that is the
    image id; on its containerd image store the id is the manifest's (or index's) digest instead.
    """
    wanted = _config_digest(saved)
    got, failed = _run(answer, saved)
    if failed:
        return Result(False, f"On `docker save {IMAGE}` your function raised {failed}. "
                             "Read manifest.json first: its \"Config\" names the config file in the tar.")
    if got != wanted:
        return Result(False, _why_not(got, wanted, image_id, saved))
    tampered, expected = _reindented(saved, saved.with_name("reindented.tar"))
    got, failed = _run(answer, tampered)
    if failed:
        return Result(False, f"Your function raised {failed} on a second tar. Hash the bytes; do not parse more than you need.")
    if got == wanted:
        return Result(False, "Right on the real tar, but in a second one I re-indented the config JSON and kept "
                             "its file name: your function still gave the old digest. A file name is a claim; a "
                             "digest is what you compute from the bytes.")
    if got != expected:
        return Result(False, "Right on the real tar, wrong on a second one whose config JSON I re-indented. "
                             "Hash the config file's bytes exactly as stored in the tar.")
    same = ("which is its image id on this engine" if image_id == wanted else
            f"while this engine's image id, {image_id[:19]}…, is its manifest's digest (the containerd image store)")
    return Result(True, f"Right: the sha256 of {IMAGE}'s config bytes, {same}; and your function computes it "
                        "(it gave the new digest when the config's bytes changed).")


def _run(fn: Callable, path: Path) -> tuple[object, str]:
    try:
        return fn(str(path)), ""
    except Exception as err:      # the learner's code: report, never crash the check
        return None, f"{type(err).__name__}: {err}"


def _why_not(got: object, wanted: str, image_id: str, saved: Path) -> str:
    if not isinstance(got, str):
        return f"Return the digest as a str like 'sha256:…'; your function returned {type(got).__name__} {got!r:.60}."
    if got == wanted.split(":", 1)[1]:
        return "The hex digits are right; a digest names its algorithm too: 'sha256:' + hexdigest()."
    if got == _whole_tar_hash(str(saved)):
        return "That is the sha256 of the whole tar. The config digest is the digest of one file in it: the config."
    if got == image_id:
        return ("That is this engine's image id, the digest of the image's manifest (Docker's containerd image "
                "store). Hash the file manifest.json names under \"Config\".")
    with tarfile.open(saved) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]
        layers = {_sha256(tar.extractfile(name).read()) for name in manifest["Layers"]}
        raw_manifest = tar.extractfile("manifest.json").read()
    if got in layers:
        return "That is a layer's digest (a diff_id). Hash the config file instead."
    if got == _sha256(raw_manifest):
        return "That is the sha256 of docker save's manifest.json. Hash the file it names under \"Config\"."
    return (f"Your function returned {got!r:.80}, which is not the digest of {IMAGE}'s config. Hash the bytes of "
            "the config file exactly as stored (json.dumps of a parsed copy writes other bytes).")


def _config_digest(saved: Path) -> str:
    with tarfile.open(saved) as tar:
        return _sha256(tar.extractfile(json.load(tar.extractfile("manifest.json"))[0]["Config"]).read())


def _save(image: str, dest: Path) -> str:
    from contextlib import closing

    from labkit.engine import docker_client

    with closing(docker_client(timeout=120)) as client:
        img = client.images.get(image)
        with open(dest, "wb") as out:
            for chunk in img.save(named=True):
                out.write(chunk)
    return img.id


def _reindented(src: Path, dest: Path) -> tuple[Path, str]:
    """A copy of the tar whose config has the same meaning in other bytes, under its old name."""
    with tarfile.open(src) as tar_in, tarfile.open(dest, "w") as tar_out:
        config_name = json.load(tar_in.extractfile("manifest.json"))[0]["Config"]
        for member in tar_in.getmembers():
            data = tar_in.extractfile(member).read() if member.isfile() else None
            if member.name == config_name:
                data = json.dumps(json.loads(data), indent=2).encode()
                new_config = data
                member.size = len(data)
            tar_out.addfile(member, io.BytesIO(data) if data is not None else None)
    return dest, _sha256(new_config)


# --- 02.3 · a layer, as the registry stores it ------------------------------------------------

@checker("02.3")
def index_layer(answer: Any) -> Result:
    """The compressed blob digest and the diff_id of labkit/web's top layer, from the registry."""
    from labkit.oci import registry

    if not isinstance(answer, dict) or set(answer) != {"blob", "diff_id"}:
        return Result(False, "Answer with a dict: {\"blob\": \"sha256:…\", \"diff_id\": \"sha256:…\"}.")
    man = registry.manifest(REPO, TAG)
    blobs = [layer["digest"] for layer in man.json()["layers"]]
    config_digest = man.json()["config"]["digest"]
    diff_ids = json.loads(registry.blob(REPO, config_digest))["rootfs"]["diff_ids"]
    blob, diff_id = answer["blob"], answer["diff_id"]
    if blob == EMPTY_LAYER:
        return Result(False, "That blob is a gzipped empty tar, which only a legacy schema 1 manifest lists. "
                             "Your request lacked the Accept header that names the manifest's real media type.")
    if blob == diff_ids[-1] and diff_id == blobs[-1]:
        return Result(False, "The two are swapped: the manifest lists compressed blobs, the config lists diff_ids.")
    if blob in (man.digest, config_digest):
        return Result(False, "That is the digest of the manifest or the config, not of a layer blob.")
    if blob != blobs[-1]:
        where = "lower layer: the manifest lists layers bottom first" if blob in blobs else "digest this repository's manifest lists"
        return Result(False, f"The blob is not right: it is a {where}. The file /www/index.html came last.")
    if diff_id == blob:
        return Result(False, "The blob is right. The diff_id is the digest of the same layer *uncompressed*: gunzip the blob, then hash.")
    if diff_id != diff_ids[-1]:
        return Result(False, "The blob is right, the diff_id not: hash the gunzipped bytes of that blob "
                             "(gzip.decompress), and compare with the config's rootfs.diff_ids.")
    return Result(True, "Right: the registry names the gzipped bytes; gunzipped, they hash to the diff_id in the config.")
