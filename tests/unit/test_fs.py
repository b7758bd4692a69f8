"""labkit.fs's pure parts: image layers applied with their whiteouts, mountinfo read, upper dirs
classified, and bad input refused before anything is touched."""
from __future__ import annotations

import io
import os
import stat
import tarfile
import warnings
from pathlib import Path

import pytest

from labkit import config, fs
from labkit.errors import BadInput, LabError
from labkit.kernel import procfs


def layer(*entries) -> tarfile.TarFile:
    """A layer tar opened for reading: entries are (name, content), (name, None) for a dir,
    ('sym', name, target) for a symlink, ('hard', name, target) for a hard link."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for e in entries:
            if e[0] in ("sym", "hard"):
                info = tarfile.TarInfo(e[1])
                info.type = tarfile.SYMTYPE if e[0] == "sym" else tarfile.LNKTYPE
                info.linkname = e[2]
                tar.addfile(info)
            elif e[1] is None:
                info = tarfile.TarInfo(e[0])
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info = tarfile.TarInfo(e[0])
                info.size, info.mode = len(e[1]), 0o644
                tar.addfile(info, io.BytesIO(e[1]))
    buf.seek(0)
    return tarfile.open(fileobj=buf, mode="r:")


def tree(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "->" + os.readlink(p) if p.is_symlink() else "dir" if p.is_dir() else p.read_text()
    return out


def test_layers_apply_in_order_with_whiteouts(tmp_path):
    fs.apply_layer(layer(("bin", None), ("bin/a", b"A"), ("bin/b", b"B"), ("etc", None), ("etc/x", b"1"),
                         ("etc/y", b"2")), tmp_path)
    deleted = fs.apply_layer(layer(("bin/.wh.a", b""), ("bin/b", b"B2"), ("etc/.wh..wh..opq", b""),
                                   ("etc/z", b"3")), tmp_path)
    assert tree(tmp_path) == {"bin": "dir", "bin/b": "B2", "etc": "dir", "etc/z": "3"}
    assert sorted(deleted) == ["bin/a", "etc/x", "etc/y"]


def test_an_opaque_marker_hides_only_what_was_below(tmp_path):
    # The marker may come after the layer's own files in the tar: they must survive it.
    fs.apply_layer(layer(("d", None), ("d/old", b"o")), tmp_path)
    fs.apply_layer(layer(("d/new", b"n"), ("d/.wh..wh..opq", b"")), tmp_path)
    assert tree(tmp_path) == {"d": "dir", "d/new": "n"}


def test_a_file_replaces_a_directory_and_links_stay_inside(tmp_path):
    fs.apply_layer(layer(("x", None), ("x/in", b"i"), ("f", b"F")), tmp_path)
    fs.apply_layer(layer(("x", b"now a file"), ("sym", "s", "/bin/busybox"), ("hard", "h", "f")), tmp_path)
    assert tree(tmp_path) == {"f": "F", "h": "F", "s": "->/bin/busybox", "x": "now a file"}


def test_a_layer_keeps_the_modes_a_rootfs_needs_on_every_python(tmp_path):
    # tarfile's filters ('data' is 3.14's default) would drop these; 3.12 and 3.13 warn without one.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, mode in (("tmp", tarfile.DIRTYPE, 0o1777), ("bin", tarfile.DIRTYPE, 0o755),
                                 ("bin/su", tarfile.REGTYPE, 0o4755)):
            info = tarfile.TarInfo(name)
            info.type, info.mode = kind, mode
            tar.addfile(info, io.BytesIO(b""))
    buf.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fs.apply_layer(tarfile.open(fileobj=buf, mode="r:"), tmp_path)
    assert stat.S_IMODE((tmp_path / "tmp").stat().st_mode) == 0o1777
    assert stat.S_IMODE((tmp_path / "bin" / "su").stat().st_mode) == 0o4755


@pytest.mark.parametrize("entries", [
    [("../escape", b"x")],
    [("sym", "link", "/tmp"), ("link/file", b"x")],      # writing through a symlink the layer planted
    [("hard", "h", "../../etc/passwd")],
])
def test_a_layer_cannot_write_outside_the_root(tmp_path, entries):
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(LabError):
        for entry in entries:                  # one layer each: the second builds on the first
            fs.apply_layer(layer(entry), root)
    assert not (tmp_path / "escape").exists()


def test_apply_layer_wants_an_existing_root(tmp_path):
    with pytest.raises(BadInput):
        fs.apply_layer(layer(("a", b"a")), tmp_path / "missing")


# mountinfo itself is parsed in labkit.kernel.procfs (tests/unit/test_procfs.py).
MOUNTINFO = """\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
62 27 0:49 / /var/lib/x/merged rw,relatime - overlay overlay rw,lowerdir=/old,upperdir=/old-u,workdir=/old-w
63 42 0:50 / /var/lib/x/merged rw,relatime shared:2 - overlay overlay rw,lowerdir=/l/A:/l/B,upperdir=/u,workdir=/w
70 27 0:60 / /run/with\\040space rw - tmpfs tmpfs rw,size=4k
"""


def test_overlay_at_reads_the_layers_of_the_last_overlay_mounted_there(monkeypatch):
    monkeypatch.setattr(fs, "mounts", lambda: procfs.mounts(text=MOUNTINFO))
    ov = fs.overlay_at("/var/lib/x/merged")
    assert ov == fs.Overlay(Path("/var/lib/x/merged"), (Path("/l/A"), Path("/l/B")), Path("/u"), Path("/w"))
    with pytest.raises(BadInput, match="No overlay"):
        fs.overlay_at("/run/with space")             # mounted, but a tmpfs


def test_overlay_options_list_lower_dirs_top_first():
    ov = fs.Overlay(Path("/m"), (Path("/a"), Path("/b")), Path("/u"), Path("/w"))
    assert ov.options == "lowerdir=/a:/b,upperdir=/u,workdir=/w"
    assert fs.Overlay(Path("/m"), (Path("/a"),)).options == "lowerdir=/a"


def test_changes_tell_copied_up_from_new(tmp_path):
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "etc").mkdir(parents=True)
    (lower / "etc" / "passwd").write_text("root\n")
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "passwd").write_text("root\nme\n")
    (upper / "etc" / "hostname").write_text("box\n")
    (upper / "srv").mkdir()
    ov = fs.Overlay(tmp_path / "merged", (lower,), upper, tmp_path / "work")
    assert [(c.path, c.kind) for c in fs.changes(ov)] == [
        ("etc", "dir"), ("srv", "new"), ("etc/hostname", "new"), ("etc/passwd", "copied up")]


def test_a_regular_file_is_no_whiteout_and_a_plain_dir_not_opaque(tmp_path):
    (tmp_path / "f").write_text("")
    assert not fs.is_whiteout(tmp_path / "f")
    assert not fs.is_opaque(tmp_path)
    assert not fs.is_whiteout(tmp_path / "missing")


# Every public function refuses bad input with a BadInput/LabError, before it makes anything.
BAD_CALLS = [
    (fs.rootfs, ("",)),
    (fs.rootfs, (None,)),
    (fs.overlay, ("no-prefix", "/")),
    (fs.overlay, ("lab-9-short", "/")),
    (fs.overlay, ("lab-09-ok", "/no/such/dir")),
    (fs.overlay, ("lab-09-ok", [])),
    (fs.overlay, ("lab-09-ok", 5)),
    (fs.overlay_at, ("/no/overlay/here",)),
    (fs.overlay_at, (None,)),
    (fs.docker_overlay, ("",)),
    (fs.changes, ("not an overlay",)),
    (fs.changes, (fs.Overlay(Path("/m"), (Path("/"),)),)),
    (fs.pivot_root, ("/no/such/root",)),
    (fs.pivot_root, ("/", "a/b")),
    (fs.pivot_root, ("/", "..")),
    (fs.mount_proc, ("/no/such/root",)),
    (fs.mount_sys, (42,)),
    (fs.mount_dev, ("/", "mkfifo")),
    (fs.readonly, ("/no/such/path",)),
    (fs.readonly, ("",)),
    (fs.mask, ("relative/path",)),
    (fs.mask, (None,)),
    (fs.mask_paths, ("/proc/kcore",)),
    (fs.mask_paths, (["proc/kcore"],)),
    (fs.readonly_paths, ([1],)),
    (fs.readonly_paths, (None,)),
    (fs.apply_layer, (None, "/no/such/dir")),
]


@pytest.mark.parametrize("fn, args", BAD_CALLS, ids=lambda x: getattr(x, "__name__", None) or repr(x)[:30])
def test_bad_input_is_refused_before_anything_is_made(fn, args):
    before = set(os.listdir(config.SCRATCH)) if config.SCRATCH.exists() else set()
    mounts = {m.point for m in fs.mounts()}
    with pytest.raises(LabError):
        fn(*args)
    assert (set(os.listdir(config.SCRATCH)) if config.SCRATCH.exists() else set()) == before
    assert [m.point for m in fs.mounts() if m.point not in mounts and "lab-09" in m.point] == []
