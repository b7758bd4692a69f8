"""Checkers for lesson 05 · The OCI image spec, by hand."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from labkit import config
from labkit.check import Result, checker
from labkit.errors import LabError
from labkit.oci import layout as oci

LAYOUT = config.SCRATCH / "lab-05-layout"        # the layout the lesson writes by hand
PUZZLE = config.SCRATCH / "lab-05-puzzle"        # the layout of exercise 05.3
EXTRA_FILE = "etc/lab-05.txt"                    # what exercise 05.1's layer adds
PUZZLE_TAG = "puzzle"
PUZZLE_TARGET = "/etc/app.conf"


# --- exercise 05.3's image: five layers, one of which deletes /etc/app.conf -----------------

def _puzzle_layers() -> list[tuple[bytes, bool]]:
    """(uncompressed tar, gzip it?) bottom first; built the same way every time."""
    f, d = oci.file, oci.directory
    return [
        (oci.tar_layer([d("etc"), f("etc/app.conf", "mode = production\n"), d("opt"),
                        f("opt/app.conf", "plugin = none\n"), d("var"), d("var/cache"),
                        f("var/cache/index", "stale\n")]), True),
        (oci.tar_layer([d("etc"), f("etc/app.conf", "mode = debug\n"), f("etc/hosts.allow", "ALL: 127.0.0.1\n")]), False),
        (oci.tar_layer([d("etc"), oci.whiteout("etc/app.conf"), f("etc/motd", "app.conf is gone\n")]), True),
        (oci.tar_layer([d("opt"), oci.whiteout("opt/app.conf"), d("var"), d("var/cache"), oci.opaque("var/cache"),
                        f("var/cache/fresh", "new\n")]), True),
        (oci.tar_layer([d("srv"), f("srv/app.conf.example", "mode = production\n")]), False),
    ]


def make_puzzle(path: str | Path = PUZZLE) -> Path:
    """Write exercise 05.3's layout (tag 'puzzle'), replacing an older copy; returns its path."""
    path = Path(path)
    shutil.rmtree(path, ignore_errors=True)
    layers = _puzzle_layers()
    lay = oci.Layout.create(path)
    lay.write_image(PUZZLE_TAG, [t for t, _ in layers], {"config": {"Cmd": ["sh"]}}, compress=[gz for _, gz in layers])
    return path


def _puzzle_facts() -> dict:
    """Each puzzle layer's blob digest and diff_id, and which one deletes the target."""
    facts = {"blobs": [], "diff_ids": []}
    for tar, gz in _puzzle_layers():
        facts["blobs"].append(oci.sha256_digest(oci.gzip_layer(tar) if gz else tar))
        facts["diff_ids"].append(oci.sha256_digest(tar))
    facts["answer"] = next(i for i, (tar, _) in enumerate(_puzzle_layers())
                           if ("file", PUZZLE_TARGET) in map(oci.whiteout_target, (m.name for m in oci.members(tar))))
    return facts


# --- checkers -------------------------------------------------------------------------------

def _descriptor_shape(answer: object) -> str | None:
    if not isinstance(answer, dict):
        return f"A descriptor is a dict with mediaType, digest and size; you gave {type(answer).__name__}."
    missing = [k for k in ("mediaType", "digest", "size") if k not in answer]
    if missing:
        return f"Your descriptor lacks {', '.join(missing)}: a descriptor always carries mediaType, digest and size."
    try:
        oci.check_digest(answer["digest"])
    except LabError:
        return (f"digest {answer['digest']!r} is not 'sha256:' followed by 64 hex characters: "
                "write the algorithm, a colon, then hashlib.sha256(blob).hexdigest().")
    if not isinstance(answer["size"], int) or isinstance(answer["size"], bool):
        return f"size is a whole number of bytes, not {answer['size']!r}."
    return None


@checker("05.1")
def extra_layer(answer: object) -> Result:
    """The descriptor of a new gzip layer that adds etc/lab-05.txt, stored in the lesson's layout."""
    wrong = _descriptor_shape(answer)
    if wrong:
        return Result(False, wrong)
    path = LAYOUT / "blobs" / "sha256" / answer["digest"].split(":")[1]
    if not path.is_file():
        for blob in (LAYOUT / "blobs" / "sha256").glob("*"):
            if blob.read_bytes()[:2] == b"\x1f\x8b" and oci.diff_id(blob.read_bytes()) == answer["digest"]:
                return Result(False, "That digest is the diff_id: the sha256 of the *uncompressed* tar. A descriptor "
                                     "names the blob as stored, so hash the gzip bytes you wrote.")
        return Result(False, f"There is no blob {answer['digest'][:19]}… in {LAYOUT}/blobs/sha256: store the layer "
                             "with put_blob() and describe exactly those bytes.")
    data = path.read_bytes()
    if oci.sha256_digest(data) != answer["digest"]:
        return Result(False, f"The file {path.name[:12]}… does not hash to its name: write blobs only through put_blob().")
    if answer["size"] != len(data):
        return Result(False, f"size says {answer['size']}, but the blob holds {len(data)} bytes: size counts the bytes "
                             "stored (compressed), not the files inside.")
    gz = data[:2] == b"\x1f\x8b"
    if gz and answer["mediaType"] != oci.LAYER_GZIP:
        return Result(False, f"The blob is gzip (it starts with 1f 8b), so its mediaType is {oci.LAYER_GZIP!r}, "
                             f"not {answer['mediaType']!r}.")
    if not gz:
        return Result(False, "This blob is not gzip-compressed: the exercise asks for a compressed layer "
                             "(gzip_bytes(tar), as layer 1 was).")
    try:
        names = {m.name.removeprefix("./"): m for m in oci.members(data)}
    except LabError:
        return Result(False, "The blob gunzips, but what is inside is not a tar: compress the tar's bytes.")
    member = names.get(EXTRA_FILE)
    if member is None or not member.isfile() or member.size == 0:
        return Result(False, f"The layer holds {sorted(names)[:5]}, but no non-empty regular file {EXTRA_FILE} "
                             "(member names have no leading '/').")
    return Result(True, f"Right: {answer['digest'][:19]}…, {len(data)} bytes of tar+gzip, holding {EXTRA_FILE}. "
                        f"Its diff_id is {oci.diff_id(data)[:19]}….")


@checker("05.2")
def tag_v2(answer: object) -> Result:
    """Image v2 = v1's layers + the 05.1 layer, tagged 'v2' in index.json; proven by `umoci unpack`."""
    wrong = _descriptor_shape(answer)
    if wrong:
        return Result(False, wrong)
    try:
        lay = oci.Layout.open(LAYOUT)
        tags = lay.tags()
    except LabError as err:
        return Result(False, f"{err} Run the lesson's cells from the top first.")
    if "v1" not in tags:
        return Result(False, "index.json lost tag v1: add the v2 entry beside it, do not replace the list.")
    if "v2" not in tags:
        return Result(False, f"index.json tags {sorted(tags)}, no v2: add an entry with the annotation "
                             f"{oci.REF_NAME!r}: 'v2'.")
    if tags["v2"]["digest"] != answer["digest"]:
        return Result(False, "Tag v2 in index.json points at another manifest than the descriptor you gave.")
    try:
        v1, v2 = lay.manifest("v1"), lay.manifest("v2")
        lay.verify()
    except LabError as err:
        return Result(False, f"The layout does not verify: {err}")
    if [d["digest"] for d in v2["layers"][:2]] != [d["digest"] for d in v1["layers"]] or len(v2["layers"]) != 3:
        return Result(False, "v2's manifest should list v1's two layers, bottom first, then your 05.1 layer on top.")
    return _unpacks_with_extra_file(lay)


def _unpacks_with_extra_file(lay: oci.Layout) -> Result:
    # The real tool has the last word: umoci applies the layers, whiteouts and all.
    bundle = config.SCRATCH / "lab-05-check-v2"
    shutil.rmtree(bundle, ignore_errors=True)
    try:
        proc = subprocess.run(["umoci", "unpack", "--image", f"{lay.path}:v2", str(bundle)],
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            return Result(False, f"umoci cannot unpack v2: {proc.stderr.strip()[-300:]}")
        rootfs = bundle / "rootfs"
        if not (rootfs / EXTRA_FILE).is_file():
            return Result(False, f"umoci unpacked v2, but /{EXTRA_FILE} is missing: is your layer the last one?")
        if (rootfs / "bin" / "wget").exists() or not (rootfs / "etc" / "motd").exists():
            return Result(False, "umoci unpacked v2, but layer 2's changes are not there: keep v1's layers in order.")
    except FileNotFoundError:
        return Result(False, "umoci is not installed: the README's set-up command installs it.")
    finally:
        shutil.rmtree(bundle, ignore_errors=True)
    return Result(True, f"Right: umoci unpacked v2 with /{EXTRA_FILE}, /etc/motd, and no /bin/wget; "
                        "v1 and v2 share their first two layer blobs.")


@checker("05.3")
def deleting_layer(answer: object) -> Result:
    """The digest (as the manifest lists it) of the puzzle layer that whites out /etc/app.conf."""
    facts = _puzzle_facts()
    right = facts["blobs"][facts["answer"]]
    if answer == right:
        return Result(True, f"Right: layer {facts['answer']} ({right[:19]}…) holds etc/.wh.app.conf, "
                            "so /etc/app.conf of the layers below is gone.")
    if not isinstance(answer, str):
        return Result(False, f"Answer with the layer's digest, a string 'sha256:…'; you gave {type(answer).__name__}.")
    if answer in facts["diff_ids"]:
        i = facts["diff_ids"].index(answer)
        if i == facts["answer"]:
            return Result(False, "That is the layer's diff_id (its uncompressed tar's digest, from the config). "
                                 "The manifest names the blob as stored: give that digest.")
        answer = facts["blobs"][i]
    if answer in facts["blobs"]:
        i = facts["blobs"].index(answer)
        hint = {0: "it adds /etc/app.conf", 1: "it changes /etc/app.conf (a new copy replaces the old)",
                3: "its whiteout .wh.app.conf sits in opt/: a whiteout deletes a file of its own directory",
                4: "it only adds /srv/app.conf.example"}[i]
        return Result(False, f"Layer {i} does not delete /etc/app.conf: {hint}. Look for a whiteout entry whose "
                             "directory is etc/.")
    return Result(False, f"{answer[:40]!r} is none of the puzzle's layers: read the manifest that index.json names "
                         "and take a digest from its layers list.")


def _wrong_05_3() -> list:
    facts = _puzzle_facts()
    i = facts["answer"]
    return [facts["diff_ids"][i], facts["blobs"][0], facts["blobs"][1], facts["blobs"][3], 2, "sha256:" + "0" * 64]


WRONG_ANSWERS = {
    "05.1": ["sha256:abc", {"digest": "sha256:" + "0" * 64, "size": 10},
             {"mediaType": oci.LAYER_GZIP, "digest": "sha256:" + "0" * 64, "size": 10},
             {"mediaType": oci.LAYER_GZIP, "digest": "0" * 64, "size": 10}],
    "05.2": ["v2", {"mediaType": oci.MANIFEST, "digest": "sha256:" + "1" * 64, "size": "10"},
             {"mediaType": oci.MANIFEST, "digest": "sha256:" + "1" * 64, "size": 10}],
    "05.3": _wrong_05_3,
}
