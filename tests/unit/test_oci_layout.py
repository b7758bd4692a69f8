"""labkit.oci.layout: digests, descriptors, layers and whiteouts, the layout written and verified."""
from __future__ import annotations

import gzip
import hashlib
import json
import tarfile

import pytest

from labkit.errors import LabError
from labkit.oci import layout as oci
from labkit.oci.arch import host_platform


def files_in(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# --- digests and descriptors ------------------------------------------------------------------

def test_a_digest_is_sha256_of_the_bytes():
    assert oci.sha256_digest(b"hello\n") == \
        "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"


def test_a_descriptor_names_type_digest_and_size():
    d = oci.descriptor(b"{}", oci.CONFIG, {"a": "b"})
    assert d == {"mediaType": oci.CONFIG, "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(),
                 "size": 2, "annotations": {"a": "b"}}


@pytest.mark.parametrize("bad", ["abc", "sha256:" + "0" * 63, "sha256:" + "G" * 64, "md5:" + "0" * 32, 5, None])
def test_malformed_digests_are_refused(bad):
    with pytest.raises(LabError, match="not a sha256 digest"):
        oci.check_digest(bad)


@pytest.mark.parametrize("bad", ["", "tar", "application/", 3])
def test_malformed_media_types_are_refused(bad):
    with pytest.raises(LabError, match="not a media type"):
        oci.descriptor(b"x", bad)


def test_canonical_json_is_stable_whatever_the_key_order():
    assert oci.canonical_json({"b": 1, "a": [1, 2]}) == oci.canonical_json({"a": [1, 2], "b": 1}) == b'{"a":[1,2],"b":1}'


# --- layers -------------------------------------------------------------------------------------

def small_layer(text="hi\n"):
    return oci.tar_layer([oci.directory("etc"), oci.file("etc/motd", text), oci.symlink("etc/link", "motd")])


def test_the_same_files_give_the_same_layer_bytes():
    assert small_layer() == small_layer()
    assert oci.gzip_layer(small_layer()) == oci.gzip_layer(small_layer())
    assert small_layer("a") != small_layer("b")


def test_members_keep_owner_root_mtime_zero_and_type():
    infos = {m.name: m for m in oci.members(small_layer())}
    assert infos["etc"].isdir() and infos["etc/motd"].isfile() and infos["etc/link"].issym()
    assert infos["etc/link"].linkname == "motd"
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in infos.values())


def test_diff_id_is_the_digest_of_the_uncompressed_tar():
    tar = small_layer()
    gz = oci.gzip_layer(tar)
    assert gz[:2] == b"\x1f\x8b" and gzip.decompress(gz) == tar
    assert oci.diff_id(gz) == oci.diff_id(tar) == oci.sha256_digest(tar) != oci.sha256_digest(gz)


def test_whiteout_members_are_named_for_what_they_delete():
    assert oci.whiteout("bin/wget").path == "bin/.wh.wget"
    assert oci.whiteout("/top").path == ".wh.top"
    assert oci.opaque("var/cache").path == "var/cache/.wh..wh..opq"
    assert oci.whiteout_target("bin/.wh.wget") == ("file", "/bin/wget")
    assert oci.whiteout_target("./.wh.top") == ("file", "/top")
    assert oci.whiteout_target("var/cache/.wh..wh..opq") == ("opaque", "/var/cache")
    assert oci.whiteout_target("bin/wget") is None


@pytest.mark.parametrize("bad", ["", "/", "etc/.wh.x"])
def test_whiteout_of_nothing_is_refused(bad):
    with pytest.raises(LabError):
        oci.whiteout(bad)


@pytest.mark.parametrize("bad", [oci.file("", "x"), oci.file("../escape", "x"), "etc/motd"])
def test_a_layer_member_must_be_a_path_inside_the_layer(bad):
    with pytest.raises(LabError):
        oci.tar_layer([bad])


def test_members_of_something_that_is_no_tar():
    with pytest.raises(LabError, match="not a layer tar"):
        oci.members(b"certainly not a tar archive" * 40)


def test_flatten_applies_a_whiteout_to_the_file_and_everything_under_it():
    base = oci.tar_layer([oci.directory("bin"), oci.file("bin/wget", "x"), oci.file("bin/sh", "x"),
                          oci.directory("opt"), oci.directory("opt/app"), oci.file("opt/app/a", "x")])
    top = oci.tar_layer([oci.whiteout("bin/wget"), oci.whiteout("opt/app")])
    tree = oci.flatten([oci.gzip_layer(base), top])
    assert "/bin/sh" in tree and "/bin/wget" not in tree
    assert "/opt" in tree and not any(p.startswith("/opt/app") for p in tree)


def test_flatten_opaque_keeps_only_the_upper_layers_entries():
    base = oci.tar_layer([oci.directory("var"), oci.directory("var/cache"), oci.file("var/cache/old", "x"),
                          oci.file("var/keep", "x")])
    top = oci.tar_layer([oci.directory("var/cache"), oci.opaque("var/cache"), oci.file("var/cache/new", "y")])
    tree = oci.flatten([base, top])
    assert {"/var/cache/new", "/var/keep", "/var/cache"} <= set(tree) and "/var/cache/old" not in tree


def test_a_whiteout_hides_only_lower_layers_not_its_own():
    # image-spec: a whiteout applies to lower layers only; a file of the same layer stays.
    layer = oci.tar_layer([oci.file("a", "same layer"), oci.whiteout("a")])
    assert "/a" in oci.flatten([oci.tar_layer([oci.file("a", "lower")]), layer])


def test_a_later_layer_replaces_a_file():
    tree = oci.flatten([oci.tar_layer([oci.file("f", "one")]), oci.tar_layer([oci.file("f", "three")])])
    assert tree["/f"].size == len("three")


# --- the layout ---------------------------------------------------------------------------------

@pytest.fixture
def lay(tmp_path):
    return oci.Layout.create(tmp_path / "layout")


def test_create_writes_oci_layout_and_an_empty_index(lay):
    assert json.loads((lay.path / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert lay.index() == {"schemaVersion": 2, "mediaType": oci.INDEX, "manifests": []}
    assert (lay.path / "blobs" / "sha256").is_dir()


def test_create_refuses_a_directory_that_is_not_a_layout_and_leaves_it_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(LabError, match="not an empty directory"):
        oci.Layout.create(tmp_path)
    assert files_in(tmp_path) == ["notes.txt"]


def test_open_refuses_a_directory_without_oci_layout(tmp_path):
    with pytest.raises(LabError, match="not an OCI image layout"):
        oci.Layout.open(tmp_path)


def test_put_blob_stores_under_the_digest_and_reads_back(lay):
    d = lay.put_blob(b"abc", "text/plain")
    assert lay.blob_path(d["digest"]).read_bytes() == b"abc"
    assert lay.read_blob(d) == b"abc" and lay.has(d["digest"])


def test_put_blob_of_text_writes_nothing(lay):
    before = files_in(lay.path)
    with pytest.raises(LabError, match="A blob is bytes"):
        lay.put_blob("abc", "text/plain")
    with pytest.raises(LabError, match="not a media type"):
        lay.put_blob(b"abc", "plain")
    assert files_in(lay.path) == before


def test_a_corrupt_blob_or_a_wrong_size_is_caught(lay):
    d = lay.put_blob(b"abc", "text/plain")
    with pytest.raises(LabError, match="gives size 4"):
        lay.read_blob({**d, "size": 4})
    lay.blob_path(d["digest"]).write_bytes(b"abd")
    with pytest.raises(LabError, match="corrupt"):
        lay.read_blob(d)


def test_tag_refuses_a_manifest_the_layout_does_not_hold_and_keeps_index_json(lay):
    before = (lay.path / "index.json").read_bytes()
    with pytest.raises(LabError, match="no blob"):
        lay.tag("v1", {"mediaType": oci.MANIFEST, "digest": "sha256:" + "1" * 64, "size": 2})
    with pytest.raises(LabError, match="points at a manifest"):
        lay.tag("v1", lay.put_json({}, oci.CONFIG))
    with pytest.raises(LabError, match="not a tag"):
        lay.tag("no spaces", {"mediaType": oci.MANIFEST})
    assert (lay.path / "index.json").read_bytes() == before


def write_v1(lay):
    base = oci.tar_layer([oci.directory("bin"), oci.file("bin/wget", "x"), oci.file("bin/sh", "x")])
    top = oci.tar_layer([oci.directory("bin"), oci.whiteout("bin/wget")])
    return lay.write_image("v1", [base, top], {"config": {"Cmd": ["sh"]}}, compress=[True, False]), base, top


def test_write_image_makes_config_manifest_and_tag(lay):
    desc, base, top = write_v1(lay)
    manifest = lay.manifest("v1")
    assert lay.resolve("v1")["digest"] == desc["digest"]
    assert [d["mediaType"] for d in manifest["layers"]] == [oci.LAYER_GZIP, oci.LAYER]
    cfg = lay.config("v1")
    assert cfg["rootfs"] == {"type": "layers", "diff_ids": [oci.sha256_digest(base), oci.sha256_digest(top)]}
    assert cfg["config"] == {"Cmd": ["sh"]} and cfg["os"] == "linux"
    assert "/bin/wget" not in oci.flatten(lay.layers("v1"))
    assert len(lay.verify()) == 4


def test_write_image_names_this_hosts_platform_unless_told(lay):
    layer = oci.tar_layer([oci.file("a", "x")])
    lay.write_image("host", [layer])
    cfg = lay.config("host")
    assert {k: cfg[k] for k in ("os", "architecture", "variant") if k in cfg} == host_platform()
    lay.write_image("other", [layer], {"architecture": "s390x"})
    cfg = lay.config("other")
    assert (cfg["os"], cfg["architecture"], "variant" in cfg) == ("linux", "s390x", False)


def test_retagging_replaces_the_entry_and_keeps_the_others(lay):
    write_v1(lay)
    lay.write_image("v2", [oci.tar_layer([oci.file("a", "x")])])
    first = lay.resolve("v1")
    lay.tag("v2", first)
    assert sorted(lay.tags()) == ["v1", "v2"] and lay.resolve("v2")["digest"] == first["digest"]
    assert len(lay.index()["manifests"]) == 2


def test_write_image_checks_everything_before_writing_anything(lay):
    before = files_in(lay.path)
    good = oci.tar_layer([oci.file("a", "x")])
    for bad in (dict(layers=[]), dict(layers=[oci.gzip_layer(good)]), dict(layers=[b"not a tar" * 100]),
                dict(layers=[good], compress=[True, False]), dict(layers=[good], ref="bad tag"),
                dict(layers=[good], config={"config": "sh"})):
        args = {"ref": "v1", "config": None, **bad}
        with pytest.raises(LabError):
            lay.write_image(args.pop("ref"), args.pop("layers"), **args)
    assert files_in(lay.path) == before


def test_a_tag_may_name_an_index_of_platform_manifests(lay):
    # Lesson 05's multi-platform tag: index.json -> an index blob -> one manifest per platform.
    desc, _, _ = write_v1(lay)
    arm_cfg = lay.put_json({**lay.config("v1"), "architecture": "arm64", "variant": "v8"}, oci.CONFIG)
    arm = lay.put_json({**lay.manifest("v1"), "config": arm_cfg}, oci.MANIFEST)
    arm_platform = {"os": "linux", "architecture": "arm64", "variant": "v8"}
    entries = [{**desc, "platform": host_platform()}, {**arm, "platform": arm_platform}]
    index = lay.put_json({"schemaVersion": 2, "mediaType": oci.INDEX, "manifests": entries}, oci.INDEX)
    entry = lay.tag("multi", index)
    assert entry["mediaType"] == oci.INDEX and "platform" not in entry
    assert lay.resolve("multi")["digest"] == index["digest"] and sorted(lay.tags()) == ["multi", "v1"]
    assert [e["digest"] for e in lay.read_json(lay.resolve("multi"))["manifests"]] == [desc["digest"], arm["digest"]]

def test_resolve_of_an_unknown_tag_lists_the_known_ones(lay):
    write_v1(lay)
    with pytest.raises(LabError, match="its tags are: v1"):
        lay.resolve("latest")


def test_verify_catches_a_config_whose_diff_ids_lie(lay):
    _, base, top = write_v1(lay)
    manifest = lay.manifest("v1")
    cfg = lay.config("v1")
    cfg["rootfs"]["diff_ids"].reverse()
    manifest["config"] = lay.put_json(cfg, oci.CONFIG)
    lay.tag("v1", lay.put_json(manifest, oci.MANIFEST))
    with pytest.raises(LabError, match="diff_id mismatch"):
        lay.verify()


def test_verify_catches_a_media_type_that_does_not_match_the_blob(lay):
    write_v1(lay)
    manifest = lay.manifest("v1")
    manifest["layers"][1]["mediaType"] = oci.LAYER_GZIP         # but the blob is a plain tar
    lay.tag("v1", lay.put_json(manifest, oci.MANIFEST))
    with pytest.raises(LabError, match="gzip magic"):
        lay.verify()


def test_archive_holds_the_layout_as_ctr_import_reads_it(lay, tmp_path):
    write_v1(lay)
    tar_path = lay.archive(tmp_path / "image.tar")
    with tarfile.open(tar_path) as tar:
        names = tar.getnames()
    assert {"oci-layout", "index.json"} <= set(names)
    assert sum(n.startswith("blobs/sha256/") for n in names) == len(files_in(lay.path / "blobs" / "sha256"))
    assert not (tmp_path / "image.tar.part").exists()
