"""Lesson 05's checkers on layouts made in a temporary directory: each hint fires for its mistake."""
from __future__ import annotations

import pytest

from labkit.check import check
from labkit.exercises import oci_image as ex
from labkit.oci import layout as oci


@pytest.fixture
def lay(tmp_path, monkeypatch):
    monkeypatch.setattr(ex, "LAYOUT", tmp_path / "lab-05-layout")
    return oci.Layout.create(ex.LAYOUT)


def extra(lay, gz=True, name=ex.EXTRA_FILE, text="hello\n"):
    tar = oci.tar_layer([oci.directory("etc"), oci.file(name, text)])
    return lay.put_blob(oci.gzip_layer(tar) if gz else tar, oci.LAYER_GZIP if gz else oci.LAYER), tar


def test_05_1_accepts_a_stored_gzip_layer_with_the_file(lay):
    desc, _ = extra(lay)
    assert check("05.1", desc).ok


def test_05_1_says_when_the_digest_is_the_diff_id(lay):
    desc, tar = extra(lay)
    result = check("05.1", {**desc, "digest": oci.sha256_digest(tar)})
    assert not result.ok and "diff_id" in result.message


def test_05_1_says_when_the_size_is_of_the_uncompressed_tar(lay):
    desc, tar = extra(lay)
    result = check("05.1", {**desc, "size": len(tar)})
    assert not result.ok and "compressed" in result.message


def test_05_1_says_when_the_media_type_does_not_say_gzip(lay):
    desc, _ = extra(lay)
    result = check("05.1", {**desc, "mediaType": oci.LAYER})
    assert not result.ok and "1f 8b" in result.message


def test_05_1_wants_compression_and_the_right_file(lay):
    assert "not gzip" in check("05.1", extra(lay, gz=False)[0]).message
    assert ex.EXTRA_FILE in check("05.1", extra(lay, name="etc/other.txt")[0]).message
    assert not check("05.1", extra(lay, text="")[0]).ok


def test_05_2_wants_v1_kept_and_v2_tagged(lay):
    base = oci.tar_layer([oci.file("a", "x")])
    v1 = lay.write_image("v1", [base, base], compress=[True, False])
    result = check("05.2", v1)
    assert not result.ok and "no v2" in result.message
    lay.tag("v2", v1)
    result = check("05.2", {**v1, "digest": "sha256:" + "2" * 64})
    assert not result.ok and "another manifest" in result.message
    result = check("05.2", v1)                   # v2 exists but is v1 again: two layers, not three
    assert not result.ok and "two layers" in result.message


def test_05_3_knows_the_puzzle_answer_from_the_layers_themselves(tmp_path):
    path = ex.make_puzzle(tmp_path / "puzzle")
    lay = oci.Layout.open(path)
    deleting = [d["digest"] for d, blob in zip(lay.manifest("puzzle")["layers"], lay.layers("puzzle"))
                if ("file", ex.PUZZLE_TARGET) in {oci.whiteout_target(m.name) for m in oci.members(blob)}]
    assert len(deleting) == 1
    assert check("05.3", deleting[0]).ok
    assert "/etc/app.conf" not in oci.flatten(lay.layers("puzzle"))
    assert "/opt/app.conf" not in oci.flatten(lay.layers("puzzle"))


def test_make_puzzle_is_the_same_image_every_time(tmp_path):
    a = oci.Layout.open(ex.make_puzzle(tmp_path / "a")).resolve("puzzle")
    b = oci.Layout.open(ex.make_puzzle(tmp_path / "b")).resolve("puzzle")
    assert a["digest"] == b["digest"]
