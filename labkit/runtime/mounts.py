"""The container's filesystem, as runc builds it from config.json: the root bound onto itself, each
mount made under it (targets resolved inside the root, so no `..` or symlink leads out), /dev's
device nodes and links, pivot_root; then the read-only root and the read-only and masked paths.
Called by init, in the container's new mount namespace."""
from __future__ import annotations

import errno
import os
import stat

from labkit.cgroups import hierarchy
from labkit.kernel import consts as k
from labkit.kernel import mount, pivot_root, umount2
from labkit.kernel.errors import KernelError
from labkit.runtime.errors import Refused

# option -> (clears the flag?, flag): mount(8)'s filesystem-independent options
FLAGS = {
    "ro": (False, k.MS_RDONLY), "rw": (True, k.MS_RDONLY), "nosuid": (False, k.MS_NOSUID), "suid": (True, k.MS_NOSUID),
    "nodev": (False, k.MS_NODEV), "dev": (True, k.MS_NODEV), "noexec": (False, k.MS_NOEXEC), "exec": (True, k.MS_NOEXEC),
    "sync": (False, k.MS_SYNCHRONOUS), "async": (True, k.MS_SYNCHRONOUS), "dirsync": (False, k.MS_DIRSYNC),
    "remount": (False, k.MS_REMOUNT), "mand": (False, k.MS_MANDLOCK), "nomand": (True, k.MS_MANDLOCK),
    "atime": (True, k.MS_NOATIME), "noatime": (False, k.MS_NOATIME), "diratime": (True, k.MS_NODIRATIME),
    "nodiratime": (False, k.MS_NODIRATIME), "bind": (False, k.MS_BIND), "rbind": (False, k.MS_BIND | k.MS_REC),
    "relatime": (False, k.MS_RELATIME), "norelatime": (True, k.MS_RELATIME),
    "strictatime": (False, k.MS_STRICTATIME), "nostrictatime": (True, k.MS_STRICTATIME),
}
PROPAGATION = {"private": k.MS_PRIVATE, "rprivate": k.MS_PRIVATE | k.MS_REC, "shared": k.MS_SHARED,
               "rshared": k.MS_SHARED | k.MS_REC, "slave": k.MS_SLAVE, "rslave": k.MS_SLAVE | k.MS_REC,
               "unbindable": k.MS_UNBINDABLE, "runbindable": k.MS_UNBINDABLE | k.MS_REC}
LOCKED = k.MS_NOSUID | k.MS_NODEV | k.MS_NOEXEC      # statvfs's ST_* bits are the same numbers
DEVICES = [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]
LINKS = [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
         ("stderr", "/proc/self/fd/2")]


def parse(options: list[str]) -> tuple[int, list[int], str]:
    """(flags, propagation changes, data): what mount(2) takes, from an OCI mount's options."""
    flags, props, data = 0, [], []
    for opt in options:
        if opt in FLAGS:
            clear, bit = FLAGS[opt]
            flags = flags & ~bit if clear else flags | bit
        elif opt in PROPAGATION:
            props.append(PROPAGATION[opt])
        else:
            data.append(opt)                  # filesystem-specific: mode=755, size=64m, newinstance, ...
    return flags, props, ",".join(data)


def secure_join(root: str, unsafe: str) -> str:
    """`unsafe` resolved inside `root`: `..` stops at root, symlinks are followed as if root were /."""
    todo = [p for p in unsafe.split("/") if p not in ("", ".")]
    done: list[str] = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        path = os.path.join(root, *done, part)
        try:
            is_link = stat.S_ISLNK(os.lstat(path).st_mode)
        except FileNotFoundError:
            is_link = False
        if not is_link:
            done.append(part)
            continue
        links += 1
        if links > 40:                        # the kernel's own limit (ELOOP)
            raise Refused(f"too many symbolic links resolving {unsafe} in the container's root")
        target = os.readlink(path)
        if target.startswith("/"):
            done = []
        todo = [p for p in target.split("/") if p not in ("", ".")] + todo
    return os.path.join(root, *done)


def prepare_root(root: str, propagation: str) -> None:
    """Set / to the config's propagation (runc's default: rslave), and make root a mount point."""
    if propagation and propagation not in PROPAGATION:
        raise Refused(f"rootfsPropagation {propagation!r} is not one of {', '.join(PROPAGATION)}")
    mount(None, "/", None, PROPAGATION.get(propagation or "rslave"))
    mount(root, root, None, k.MS_BIND | k.MS_REC)


def mount_all(root: str, spec: dict, bundle: str, cgroup_dirs: dict[str, str], userns: bool) -> None:
    """Every entry of config.json's `mounts`, in order, then /dev's nodes and links."""
    for m in spec.get("mounts") or []:
        try:
            mount_one(root, m, bundle, cgroup_dirs)
        except KernelError as err:
            raise Refused(f"mounting {m.get('destination')}: {err}") from None
    if any(m.get("destination") == "/dev" and m.get("type") != "bind" for m in spec.get("mounts") or []):
        make_devices(root, spec.get("linux", {}).get("devices") or [], userns)
        make_links(root, pts=any(m.get("destination") == "/dev/pts" for m in spec["mounts"]))


def mount_one(root: str, m: dict, bundle: str, cgroup_dirs: dict[str, str]) -> None:
    """One mount of config.json, its target resolved inside `root`."""
    dest = secure_join(root, m["destination"])
    flags, props, data = parse(m.get("options") or [])
    kind = m.get("type") or ("bind" if flags & k.MS_BIND else "")
    if kind == "bind" or flags & k.MS_BIND:
        source = os.path.join(bundle, m["source"]) if not m["source"].startswith("/") else m["source"]
        _target(dest, directory=os.path.isdir(source))
        bind(source, dest, flags)
    elif kind == "cgroup":
        _target(dest, directory=True)
        mount_cgroup(dest, flags, cgroup_dirs)
    else:
        _target(dest, directory=True)
        mount(m.get("source") or kind, dest, kind, flags & ~k.MS_REMOUNT, data or None)
    for change in props:
        mount(None, dest, None, change)


def bind(source: str, dest: str, flags: int) -> None:
    """A bind mount; its other flags (ro, nosuid, ...) need a second call, a remount."""
    mount(source, dest, None, k.MS_BIND | (flags & k.MS_REC))
    rest = flags & ~(k.MS_BIND | k.MS_REC | k.MS_REMOUNT)
    if rest:
        mount(None, dest, None, k.MS_BIND | k.MS_REMOUNT | rest | (os.statvfs(dest).f_flag & LOCKED))


def mount_cgroup(dest: str, flags: int, cgroup_dirs: dict[str, str]) -> None:
    """/sys/fs/cgroup showing the container's own groups: on v2 its one directory; on v1 a tmpfs
    with each hierarchy's directory bound below it, read-only, as runc does without a cgroup namespace
    (runc leaves the tmpfs itself writable, and so does labrun)."""
    if hierarchy.mode() == "v2":
        bind(next(iter(cgroup_dirs.values())), dest, k.MS_REC | flags)
        return
    mount("tmpfs", dest, "tmpfs", (flags & ~k.MS_RDONLY) | k.MS_NOSUID | k.MS_NODEV | k.MS_NOEXEC, "mode=755")
    for point, fstype, controllers in hierarchy.mounts():
        mine = next((cgroup_dirs[c] for c in controllers if c in cgroup_dirs), None)
        if fstype != "cgroup" or mine is None:
            continue
        sub = os.path.join(dest, os.path.basename(point))
        os.makedirs(sub, exist_ok=True)
        bind(mine, sub, k.MS_REC | flags)


def make_devices(root: str, extra: list[dict], userns: bool) -> None:
    """/dev/null, zero, full, random, urandom, tty and the config's devices: mknod, or where mknod is
    refused (a user namespace; the device cgroup) a bind mount of the host's node, as runc falls back."""
    wanted = [{"path": f"/dev/{n}", "type": "c", "major": a, "minor": b, "fileMode": 0o666} for n, a, b in DEVICES]
    for dev in wanted + list(extra):
        path = secure_join(root, dev["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}.get(dev.get("type"))
        if kind is None:
            raise Refused(f"device {dev['path']} has type {dev.get('type')!r}: use c, u, b or p")
        mode = dev.get("fileMode", 0o666) & 0o7777
        try:
            if userns:
                raise PermissionError
            os.mknod(path, kind | mode, os.makedev(dev.get("major", 0), dev.get("minor", 0)))
        except FileExistsError:
            continue
        except PermissionError:        # no mknod here (a user namespace, or the device cgroup): bind the host's
            _target(path, directory=False)
            mount(dev["path"], path, None, k.MS_BIND)
            continue
        os.chmod(path, mode)                                  # mknod's mode passes through the umask
        os.chown(path, dev.get("uid", 0), dev.get("gid", 0))


def make_links(root: str, pts: bool) -> None:
    """/dev/fd and the std streams into /proc/self/fd, /dev/ptmx into the container's devpts, and
    /dev/core where the kernel has a /proc/kcore (runc's setupDevSymlinks)."""
    extra = [("ptmx", "pts/ptmx")] if pts else []
    extra += [("core", "/proc/kcore")] if os.path.exists("/proc/kcore") else []
    for name, target in LINKS + extra:
        path = secure_join(root, f"/dev/{name}")
        if name == "ptmx" and os.path.lexists(path):
            os.unlink(path)
        try:
            os.symlink(target, path)
        except FileExistsError:
            pass


def enter(root: str, pivot: bool = True) -> None:
    """Make `root` the root: pivot_root(".", ".") and detach the old root beneath, as runc does (the
    man page's trick), or with --no-pivot move the mount over / and chroot."""
    if not pivot:
        os.chdir(root)
        mount(root, "/", None, k.MS_MOVE)
        os.chroot(".")
        os.chdir("/")
        return
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new = os.open(root, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new)
        pivot_root(".", ".")
        os.fchdir(old)                               # the old root, now stacked under the new one
        mount(None, ".", None, k.MS_SLAVE | k.MS_REC)  # so its detach does not reach the host
        umount2(".", k.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old)
        os.close(new)


def finish(spec: dict) -> None:
    """After the pivot: the read-only root, then readonlyPaths and maskedPaths (runc's order)."""
    if spec["root"].get("readonly"):
        try:            # as runc: read-only and nothing else; nosuid or nodev from the host's mount are dropped
            mount(None, "/", None, k.MS_BIND | k.MS_REMOUNT | k.MS_RDONLY)
        except KernelError as err:
            if err.errno != errno.EPERM:
                raise
            # in a user namespace the kernel locks those flags: keep them
            mount(None, "/", None, k.MS_BIND | k.MS_REMOUNT | k.MS_RDONLY | (os.statvfs("/").f_flag & LOCKED))
    linux = spec.get("linux") or {}
    for path in linux.get("readonlyPaths") or []:
        _missing_ok(readonly, path)
    for path in linux.get("maskedPaths") or []:
        _missing_ok(mask, path)


def readonly(path: str) -> None:
    """Bind `path` onto itself, read-only."""
    mount(path, path, None, k.MS_BIND | k.MS_REC)
    mount(None, path, None, k.MS_BIND | k.MS_REMOUNT | k.MS_RDONLY | k.MS_REC | (os.statvfs(path).f_flag & LOCKED))


def mask(path: str) -> None:
    """Hide `path`: a directory under an empty read-only tmpfs, a file under /dev/null."""
    if os.path.isdir(path):
        mount("tmpfs", path, "tmpfs", k.MS_RDONLY)
    else:
        mount("/dev/null", path, None, k.MS_BIND)


def _missing_ok(action, path: str) -> None:
    try:
        action(path)
    except (KernelError, FileNotFoundError) as err:
        if getattr(err, "errno", None) != errno.ENOENT:
            raise Refused(f"{action.__name__} {path}: {err}") from None


def _target(path: str, directory: bool) -> None:
    if os.path.lexists(path):
        return
    if directory:
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
