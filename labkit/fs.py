"""A container's filesystem: a root filesystem from an image, overlay mounts, pivot_root, and the
mounts a runtime puts inside (/proc, /dev, /sys, a read-only root, masked and read-only paths).

Each step is what runc does (libcontainer/rootfs_linux.go), one function each, on top of
`labkit.kernel`. Every function checks its input before it touches anything; one that makes several
mounts or directories undoes them when a later step fails, so nothing is left half-made.
See mount_namespaces(7), pivot_root(2) and the kernel's Documentation/filesystems/overlayfs.rst.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from labkit import config, images
from labkit.engine import docker_client
from labkit.errors import BadInput, LabError
from labkit.kernel import (MNT_DETACH, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC,
                           MS_REMOUNT, MS_STRICTATIME, KernelError, mount, pivot_root as _pivot_root, umount2)
from labkit.kernel import procfs, syscalls

ROOTFS_CACHE = config.STATE / "rootfs"       # image id -> its unpacked layers; never written by a lesson

# The device nodes runc gives every container (libcontainer/specconv: AllowedDevices), as (major, minor).
DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}
WHITEOUT = ".wh."                  # an image layer's deletion marker (OCI image spec, layer.md)
OPAQUE = ".wh..wh..opq"            # ... and its "hide everything below" marker
OPAQUE_XATTR = "trusted.overlay.opaque"
# Extract a layer as it is. A rootfs needs setuid bits, /tmp's 1777, device nodes and absolute
# symlinks (they resolve inside the container): tarfile's 'tar' filter drops those modes, and 'data'
# (3.14's default) refuses the nodes and links too. apply_layer's own checks keep writes inside the
# root instead. Debian 12's Python 3.11.2 predates filters (PEP 706) and extracts as 'fully_trusted'.
_AS_IS = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
_NAME = re.compile(r"^lab-\d{2}-[A-Za-z0-9_.-]{1,40}$")
# statvfs(3) f_flag bits that are also mount(2) flags with the same value.
_KEEP_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC | 1024 | 2048      # ... | MS_NOATIME | MS_NODIRATIME


# -- a root filesystem from an image -----------------------------------------------------------------


def rootfs(image: str = "labkit/busybox") -> Path:
    """`image`'s root filesystem: its layers from `docker save` applied in order (whiteouts honoured),
    cached under /var/lib/labkit/rootfs/<image id>. Treat it as read-only: put an overlay on top."""
    if not isinstance(image, str) or not image.strip():
        raise BadInput(f"An image is a name like 'labkit/busybox', not {image!r}", "", "Pass the image's name or id")
    info = images.inspect(image)
    image_id = info["Id"].split(":", 1)[-1]
    dest = ROOTFS_CACHE / image_id
    if dest.is_dir():
        return dest
    ROOTFS_CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".partial-{image_id[:12]}-", dir=ROOTFS_CACHE))
    try:
        archive = work / "image.tar"
        with open(archive, "wb") as f, docker_client().api as api:
            for chunk in api.get_image(info["Id"]):
                f.write(chunk)
        tree = work / "rootfs"
        tree.mkdir(mode=0o755)
        with tarfile.open(archive) as outer:
            for layer in _manifest(outer)["Layers"]:
                member = outer.extractfile(layer)
                if member is None:
                    raise LabError(f"`docker save {image}` has no layer {layer}", "", "Rebuild the image")
                with tarfile.open(fileobj=member, mode="r:*") as tar:
                    apply_layer(tar, tree)
        os.rename(tree, dest)          # atomic: another process sees the whole tree or none
    except OSError as err:
        if dest.is_dir():              # someone else finished first: theirs is as good as ours
            return dest
        raise LabError(f"Cannot unpack {image} into {dest}", str(err), "Run as root, with space in /var/lib/labkit") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def apply_layer(tar: tarfile.TarFile, dest: str | os.PathLike) -> list[str]:
    """Apply one image layer (a tar opened for random access) onto `dest`: delete what its whiteouts
    name in the layers below, then unpack the rest. Returns the paths it deleted."""
    dest = Path(dest)
    if not dest.is_dir():
        raise BadInput(f"{dest} is not a directory", "", "Create the root directory first")
    members = list(tar)
    deleted = []
    # Deletions apply to the layers below only, so they go first, whatever their order in the tar.
    for m in members:
        rel = _safe_name(m.name)
        parent, base = os.path.split(rel)
        if base == OPAQUE:
            target = _inside(dest, parent)
            for child in sorted(target.iterdir()) if target.is_dir() and not target.is_symlink() else []:
                _remove(child)
                deleted.append(str(child.relative_to(dest)))
        elif base.startswith(WHITEOUT):
            target = _inside(dest, os.path.join(parent, base[len(WHITEOUT):]))
            if os.path.lexists(target):
                _remove(target)
                deleted.append(str(target.relative_to(dest)))
    for m in members:
        rel = _safe_name(m.name)
        if os.path.basename(rel).startswith(WHITEOUT) or rel == ".":
            continue
        target = _inside(dest, rel)
        if os.path.lexists(target) and not (m.isdir() and target.is_dir() and not target.is_symlink()):
            _remove(target)                # an upper layer's file replaces the lower one
        if m.islnk():
            m.linkname = _safe_name(m.linkname)
            _inside(dest, m.linkname)                 # a hard link must point inside too
        m.name = rel
        tar.extract(m, dest, set_attrs=True, numeric_owner=True, **_AS_IS)
    return deleted


def _manifest(outer: tarfile.TarFile) -> dict:
    f = outer.extractfile("manifest.json")
    if f is None:
        raise LabError("`docker save` wrote no manifest.json", "", "Check the lab dockerd")
    return json.load(f)[0]


def _safe_name(name: str) -> str:
    rel = os.path.normpath(name.lstrip("/")) if name not in ("", ".", "./") else "."
    if rel.startswith(".."):
        raise LabError(f"A layer names a path outside the root: {name!r}", "", "Do not use this image")
    return rel


def _inside(root: Path, rel: str) -> Path:
    """root/rel, refusing a path that would pass through a symlink (a layer must not write outside root)."""
    path = root
    for part in Path(rel).parts[:-1] if rel != "." else ():
        path = path / part
        if path.is_symlink():
            raise LabError(f"A layer writes through the symlink {path.relative_to(root)}",
                           "that could write outside the root filesystem", "Do not use this image")
    return root / rel if rel != "." else root


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


# -- overlay mounts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overlay:
    """An overlay mount: `lower` dirs (topmost first, as lowerdir= lists them), `upper`, `work`, `merged`."""

    merged: Path
    lower: tuple[Path, ...]
    upper: Path | None = None
    work: Path | None = None

    @property
    def options(self) -> str:
        """The mount's data string, as mount(2) takes it."""
        opts = "lowerdir=" + ":".join(map(str, self.lower))
        if self.upper is not None:
            opts += f",upperdir={self.upper},workdir={self.work}"
        return opts

    @property
    def mounted(self) -> bool:
        """Whether an overlay is mounted at `merged` now."""
        return any(m.point == str(self.merged) and m.fstype == "overlay" for m in mounts())

    def changes(self) -> list["Change"]:
        """What the upper dir holds: copied-up, new, whiteout and opaque entries."""
        return changes(self)

    def umount(self) -> None:
        """Unmount `merged`; the upper dir keeps every change."""
        if self.mounted:
            umount2(self.merged)

    def remove(self) -> None:
        """Unmount, then delete the directory `overlay()` made for it (lab overlays only)."""
        home = self.merged.parent
        if self.merged.name != "merged" or not _is_lab_dir(home):
            raise BadInput(f"{self.merged} is not an overlay made by labkit.fs.overlay()", "",
                           "Unmount it with .umount(); its directories are not the lab's to delete")
        self.umount()
        shutil.rmtree(home, ignore_errors=True)

    def __enter__(self) -> "Overlay":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def overlay(name: str, lower: str | os.PathLike | Iterable[str | os.PathLike]) -> Overlay:
    """Mount overlay `name` at SCRATCH/name/merged over `lower` (one dir, or several, topmost first),
    with a fresh SCRATCH/name/upper and work dir. `name` is 'lab-NN-...', so labkit.clean('NN') finds it."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise BadInput(f"{name!r} is not a lab overlay name", "a lesson's mounts are named lab-NN-something",
                       f"Use a name like {config.lab_name('root', '09')!r}")
    lowers = _lower_dirs(lower)
    home = config.SCRATCH / name
    if os.path.lexists(home):
        raise LabError(f"{home} exists already", "an overlay of that name was made before",
                       f"Remove it first: labkit.fs.overlay_at({str(home / 'merged')!r}).remove(), or labkit.clean({name[4:6]!r})")
    ov = Overlay(home / "merged", lowers, home / "upper", home / "work")
    config.SCRATCH.mkdir(parents=True, exist_ok=True)
    try:
        for d in (home, ov.upper, ov.work, ov.merged):
            d.mkdir(mode=0o755)
        mount("overlay", ov.merged, "overlay", 0, ov.options)
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    return ov


def _lower_dirs(lower) -> tuple[Path, ...]:
    if isinstance(lower, (str, os.PathLike)):
        items = [lower]
    elif isinstance(lower, (list, tuple)):
        items = list(lower)
    else:
        items = []
    if not items or not all(isinstance(x, (str, os.PathLike)) for x in items):
        raise BadInput(f"lower must be a directory or a list of them, not {lower!r}", "",
                       "e.g. labkit.fs.rootfs('labkit/busybox')")
    paths = tuple(Path(os.path.abspath(x)) for x in items)
    for p in paths:
        if not p.is_dir():
            raise BadInput(f"The lower dir {p} does not exist", "", "Give an existing directory, e.g. labkit.fs.rootfs()")
        if any(c in str(p) for c in ",:\\"):
            raise BadInput(f"The path {p} holds ',' ':' or '\\'", "overlayfs splits its options on those",
                           "Use a directory whose path has none of them")
    return paths


def overlay_at(merged: str | os.PathLike) -> Overlay:
    """The overlay mounted at `merged`, read from /proc/self/mountinfo."""
    point = os.path.abspath(os.fspath(merged)) if isinstance(merged, (str, os.PathLike)) else None
    found = [m for m in mounts() if m.point == point and m.fstype == "overlay"] if point else []
    if not found:
        raise BadInput(f"No overlay is mounted at {merged!r}", "", "List them: grep overlay /proc/self/mountinfo")
    m = found[-1]                                   # the last one mounted there is the one in use
    return Overlay(Path(point), tuple(Path(d) for d in m.lowerdirs), Path(m.upperdir) if m.upperdir else None,
                   Path(m.workdir) if m.workdir else None)


def docker_overlay(container: str) -> Overlay:
    """The overlay2 directories of a lab dockerd container (`docker inspect`'s GraphDriver.Data)."""
    import docker.errors

    if not isinstance(container, str) or not container:
        raise BadInput(f"A container is a name or id, not {container!r}", "", "e.g. 'lab-09-box'")
    try:
        with docker_client().api as api:
            info = api.inspect_container(container)
    except docker.errors.NotFound:
        raise LabError(f"There is no container {container!r} in the lab dockerd", "", "List them: docker ps -a") from None
    driver = info.get("GraphDriver") or {}
    if driver.get("Name") != "overlay2":
        raise LabError(f"{container} is stored by {driver.get('Name')!r}, not overlay2", "",
                       "The lab dockerd uses overlay2 on ext4 or xfs; check `docker info`")
    data = driver["Data"]
    return Overlay(Path(data["MergedDir"]), tuple(Path(p) for p in data["LowerDir"].split(":")),
                   Path(data["UpperDir"]), Path(data["WorkDir"]))


@dataclass(frozen=True)
class Change:
    """One entry of an upper dir and what it means in the merged view."""

    path: str          # relative to the root of the overlay
    kind: str          # 'copied up', 'new', 'whiteout', 'opaque dir', 'dir'


def is_whiteout(path: str | os.PathLike) -> bool:
    """An overlayfs whiteout: a character device 0/0 (or a file marked with the whiteout xattr)."""
    try:
        st = os.lstat(path)
    except (OSError, TypeError, ValueError):
        return False
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return True
    return stat.S_ISREG(st.st_mode) and st.st_size == 0 and _xattr(path, "trusted.overlay.whiteout") is not None


def is_opaque(path: str | os.PathLike) -> bool:
    """A directory overlayfs marked opaque: it hides everything the lower dirs hold under that name."""
    return os.path.isdir(path) and not os.path.islink(path) and _xattr(path, OPAQUE_XATTR) == b"y"


def _xattr(path, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None


def changes(ov: Overlay, limit: int = 10_000) -> list[Change]:
    """Walk `ov`'s upper dir and say what each entry is: 'copied up' (it shadows a lower file), 'new',
    'whiteout' (a deleted lower file), 'opaque dir', or 'dir' (a directory only copied up to hold the others)."""
    if not isinstance(ov, Overlay) or ov.upper is None:
        raise BadInput(f"changes() takes an Overlay with an upper dir, not {ov!r}", "",
                       "e.g. labkit.fs.overlay_at(path) or the result of labkit.fs.overlay(...)")
    if not ov.upper.is_dir():
        raise BadInput(f"The upper dir {ov.upper} does not exist", "", "Is the overlay still there?")
    out: list[Change] = []
    for rel in _walk(ov.upper, limit):
        path = ov.upper / rel
        in_lower = any(os.path.lexists(low / rel) for low in ov.lower)
        if is_whiteout(path):
            kind = "whiteout"
        elif is_opaque(path):
            kind = "opaque dir"
        elif path.is_dir() and not path.is_symlink():
            kind = "dir" if in_lower else "new"
        else:
            kind = "copied up" if in_lower else "new"
        out.append(Change(rel, kind))
    return out


def _walk(top: Path, limit: int) -> Iterator[str]:
    count = 0
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(dirs + files):
            count += 1
            if count > limit:
                return
            yield os.path.relpath(os.path.join(root, name), top)


# -- mounts, read from the kernel -------------------------------------------------------------------


# mountinfo has one parser, procfs's; lesson 09 reads fs.mounts() (m.point, m.fstype, m.options,
# m.super_options).
mounts = procfs.mounts


# -- pivot_root and what a container's root needs -----------------------------------------------------


def pivot_root(new_root: str | os.PathLike, put_old: str = ".old") -> None:
    """Make `new_root` this mount namespace's root as runc does: / made private, new_root bound onto
    itself (pivot_root wants a mount point), pivot_root, then the old root detached and its dir removed.
    Call it in a child that has its own mount namespace (unshare(CLONE_NEWNS))."""
    root = _existing_dir(new_root, "new_root")
    if not isinstance(put_old, str) or not put_old or "/" in put_old or put_old in (".", ".."):
        raise BadInput(f"put_old is one directory name inside new_root, not {put_old!r}", "", "e.g. '.old'")
    syscalls.number("pivot_root")      # a machine without a syscall table is refused before anything is mounted
    _own_mount_namespace("pivot_root")
    undo = _Undo()
    with undo:
        mount(None, "/", None, MS_REC | MS_PRIVATE)        # nothing below may propagate back to the host
        mount(root, root, None, MS_BIND | MS_REC)
        undo.push(lambda: umount2(root, MNT_DETACH))
        old = root / put_old
        if not old.exists():
            old.mkdir(mode=0o700)
            undo.push(lambda: old.rmdir())
        cwd = os.getcwd()
        os.chdir(root)
        undo.push(lambda: os.chdir(cwd))
        _pivot_root(".", put_old)
        undo.clear()                                        # from here on, there is no way back
    os.chdir("/")
    umount2("/" + put_old, MNT_DETACH)                      # lazily: files still open there stay valid
    os.rmdir("/" + put_old)


def _own_mount_namespace(what: str) -> None:
    """Refuse to change the root of the host's mount namespace: pivot_root there would move the root
    of every process on the machine. The host's is the one labkit.fs was imported in (and init's)."""
    me = _mnt_ns()
    host = {_IMPORTED_IN}
    try:
        if os.readlink("/proc/1/ns/pid") != os.readlink("/proc/self/ns/pid"):    # /proc/1 is the host's init
            host.add(os.readlink("/proc/1/ns/mnt"))
    except OSError:
        pass              # init's namespaces are not always readable, even for root
    if me in host:
        raise BadInput(f"{what} here would change the root of the host's mount namespace ({me})",
                       "every process of the machine shares it",
                       "Do it in a forked child after unshare(CLONE_NEWNS), as runc's init does")


def _mnt_ns() -> str:
    return os.readlink("/proc/self/ns/mnt")


_IMPORTED_IN = _mnt_ns()


def mount_proc(root: str | os.PathLike = "/") -> Path:
    """Mount a procfs at root/proc (nosuid, nodev, noexec): it shows the PID namespace of the caller."""
    return _mount_at(root, "proc", lambda p: mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC))


def mount_sys(root: str | os.PathLike = "/") -> Path:
    """Mount sysfs read-only at root/sys, as runc does (its network parts follow the caller's net namespace)."""
    return _mount_at(root, "sys", lambda p: mount("sysfs", p, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC))


def mount_dev(root: str | os.PathLike = "/", nodes: str = "mknod") -> Path:
    """A container's /dev at root/dev: a tmpfs with null, zero, full, random, urandom and tty (made with
    mknod, or bind-mounted from the host's /dev where mknod is not allowed, as in a user namespace),
    the usual symlinks, a private devpts at /dev/pts and a tmpfs at /dev/shm."""
    if nodes not in ("mknod", "bind"):
        raise BadInput(f"nodes is 'mknod' or 'bind', not {nodes!r}", "",
                       "'bind' where mknod is not allowed (in a user namespace)")
    if nodes == "bind":
        missing = [n for n in DEVICES if not os.path.exists(f"/dev/{n}")]
        if missing:
            raise BadInput(f"nodes='bind' needs the host's /dev/{missing[0]}", "",
                           "Bind before pivot_root, while the host's /dev is visible")

    def fill(dev: Path, undo: _Undo) -> None:
        mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k")
        undo.push(lambda: umount2(dev, MNT_DETACH))        # takes every mount below it along
        for name, (major, minor) in DEVICES.items():
            if nodes == "mknod":
                try:
                    os.mknod(dev / name, stat.S_IFCHR | 0o666, os.makedev(major, minor))
                except PermissionError:
                    raise LabError(f"mknod {dev / name} is not allowed here", "EPERM: in a user namespace no process "
                                   "may make device nodes", "Use mount_dev(root, nodes='bind') before pivot_root") from None
                os.chmod(dev / name, 0o666)                 # mknod's mode passes through the umask
            else:
                (dev / name).touch(mode=0o666)
                mount(f"/dev/{name}", dev / name, None, MS_BIND)
        for name, target in DEV_LINKS.items():
            os.symlink(target, dev / name)
        for sub in ("pts", "shm"):
            (dev / sub).mkdir(mode=0o755)
        mount("devpts", dev / "pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
        mount("shm", dev / "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")

    return _mount_at(root, "dev", fill, takes_undo=True)


def _mount_at(root, name: str, do: Callable, takes_undo: bool = False) -> Path:
    base = _existing_dir(root, "root")
    target = base / name
    if target.is_symlink() or (os.path.lexists(target) and not target.is_dir()):
        raise BadInput(f"{target} exists and is not a directory", "", f"A container's /{name} must be a directory")
    undo = _Undo()
    with undo:
        if not target.exists():
            target.mkdir(mode=0o755)                        # images rarely ship the mount point; runc makes it too
            undo.push(target.rmdir)
        do(target, undo) if takes_undo else do(target)
        undo.clear()
    return target


def readonly(path: str | os.PathLike = "/") -> None:
    """Make `path` read-only, as runc does for a read-only root and its readonlyPaths: bind it onto
    itself (so it is a mount of its own), then remount that bind read-only, keeping its other flags."""
    target = _existing(path)
    undo = _Undo()
    with undo:
        if not any(m.point == str(target) for m in mounts()):
            mount(target, target, None, MS_BIND | MS_REC)
            undo.push(lambda: umount2(target, MNT_DETACH))
        keep = os.statvfs(target).f_flag & _KEEP_FLAGS
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | keep)
        undo.clear()


def mask(path: str | os.PathLike) -> str:
    """Hide `path` as runc hides its maskedPaths: /dev/null bound over a file, an empty read-only tmpfs over
    a directory. Returns 'file', 'dir', or 'missing' (nothing to hide, as runc skips it)."""
    target = Path(path) if isinstance(path, (str, os.PathLike)) else None
    if target is None or not target.is_absolute():
        raise BadInput(f"mask takes an absolute path, not {path!r}", "", "e.g. '/proc/kcore'")
    if not os.path.lexists(target):
        return "missing"
    if target.is_dir():
        mount("tmpfs", target, "tmpfs", MS_RDONLY)
        return "dir"
    if not os.path.exists("/dev/null"):
        raise BadInput("mask needs /dev/null in this root", "", "Mount /dev first: labkit.fs.mount_dev()")
    mount("/dev/null", target, None, MS_BIND)
    return "file"


def mask_paths(paths: Iterable[str]) -> dict[str, str]:
    """mask() each path; all or none: on a failure the ones already masked are unmasked."""
    paths = _absolute_list(paths, "mask_paths")
    done: dict[str, str] = {}
    undo = _Undo()
    with undo:
        for p in paths:
            done[p] = mask(p)
            if done[p] != "missing":
                undo.push(lambda p=p: umount2(p, MNT_DETACH))
        undo.clear()
    return done


def readonly_paths(paths: Iterable[str]) -> dict[str, str]:
    """readonly() each path that exists ('ro' or 'missing'); all or none."""
    paths = _absolute_list(paths, "readonly_paths")
    done: dict[str, str] = {}
    undo = _Undo()
    with undo:
        for p in paths:
            if not os.path.lexists(p):
                done[p] = "missing"
                continue
            was_mount = any(m.point == p for m in mounts())
            readonly(p)
            done[p] = "ro"
            undo.push(lambda p=p, was=was_mount: _undo_readonly(p, was))
        undo.clear()
    return done


def _undo_readonly(path: str, was_mount: bool) -> None:
    if was_mount:
        keep = os.statvfs(path).f_flag & _KEEP_FLAGS
        mount(None, path, None, MS_BIND | MS_REMOUNT | keep)
    else:
        umount2(path, MNT_DETACH)


def runc_spec() -> dict:
    """The config.json that `runc spec` writes (its maskedPaths, readonlyPaths, mounts, capabilities...)."""
    if shutil.which("runc") is None:
        raise LabError("runc is not installed", "", "Run the README's set-up command (`sudo ./lab open`)")
    with tempfile.TemporaryDirectory(prefix="lab-runc-spec-") as d:
        proc = subprocess.run(["runc", "spec"], cwd=d, capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise LabError("`runc spec` failed", proc.stderr, "Check `runc --version`")
        return json.loads((Path(d) / "config.json").read_text())


# -- helpers ------------------------------------------------------------------------------------------


class _Undo:
    """A stack of undo steps, run in reverse when the `with` block fails; clear() once all went well."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], object]] = []

    def push(self, step: Callable[[], object]) -> None:
        self.steps.append(step)

    def clear(self) -> None:
        self.steps.clear()

    def __enter__(self) -> "_Undo":
        return self

    def __exit__(self, etype, err, tb) -> None:
        if etype is None:
            return
        for step in reversed(self.steps):
            try:
                step()
            except (OSError, KernelError):
                pass        # the first error is the one to report
        if isinstance(err, OSError) and not isinstance(err, LabError):
            raise LabError(f"{err.strerror or err}: {err.filename or ''}".rstrip(": "), "",
                           "Nothing was left half-made; check the path and run as root") from err


def _existing_dir(path, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise BadInput(f"{what} is a directory path, not {path!r}", "", "Give an absolute path")
    p = Path(os.path.abspath(os.fspath(path)))
    if not p.is_dir():
        raise BadInput(f"{what} {p} is not an existing directory", "", "Create it first (or unpack a rootfs there)")
    return p


def _existing(path) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise BadInput(f"A path, not {path!r}", "", "e.g. '/' or '/proc/sys'")
    p = Path(os.path.abspath(os.fspath(path)))
    if not os.path.lexists(p):
        raise BadInput(f"{p} does not exist", "", "Check the path")
    return p


def _absolute_list(paths, who: str) -> list[str]:
    if isinstance(paths, (str, bytes)) or not isinstance(paths, Iterable):
        raise BadInput(f"{who} takes a list of absolute paths, not {paths!r}", "", "e.g. ['/proc/kcore']")
    paths = list(paths)
    bad = [p for p in paths if not isinstance(p, str) or not p.startswith("/")]
    if bad:
        raise BadInput(f"{who} takes absolute paths; {bad[0]!r} is not one", "", "e.g. ['/proc/kcore']")
    return paths


def _is_lab_dir(path: Path) -> bool:
    return path.parent == config.SCRATCH and _NAME.match(path.name) is not None
