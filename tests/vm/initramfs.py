"""The guest's first filesystem: static busybox, /init, the 9p driver modules, in newc cpio format.

Written by Python (the newc format is a fixed header per file) so no cpio tool is needed;
the result is cached under the kernel's cache, keyed by everything that goes into it.
"""
from __future__ import annotations

import hashlib
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from tests.vm.kernel import Kernel

BUSYBOX = Path("/bin/busybox")          # Debian's busybox-static: one static binary, every applet
INIT = Path(__file__).with_name("init.sh")
MODULES = ["virtio_pci", "9pnet_virtio", "9p"]     # the 9p filesystem over the virtio PCI transport


@dataclass(frozen=True)
class Flavour:
    """What the guest boots into: its /init, the modules it loads first, files it brings along."""

    init: Path
    modules: tuple[str, ...]
    files: tuple[tuple[str, Path], ...] = ()      # (path in the initramfs, file on the host)


# busybox as PID 1: mounts only cgroup2, runs the job, powers off.
BUSYBOX_INIT = Flavour(INIT, tuple(MODULES))
# systemd as PID 1 on the host's own root (overlay over 9p); dockerd needs overlay, bridge and veth,
# labkit.containerd.socket_peers unix_diag: loaded here, as the host (so the guest) has no modprobe.
SYSTEMD = Flavour(Path(__file__).with_name("systemd_init.sh"),
                  (*MODULES, "overlay", "bridge", "veth", "unix_diag"),
                  (("job-unit", Path(__file__).with_name("labkit-job.service")),))
PASSWD = b"root:x:0:0:root:/root:/bin/sh\n"
GROUP = b"root:x:0:\n"


def build(kernel: Kernel, cache: Path, flavour: Flavour = BUSYBOX_INIT) -> Path:
    """The initramfs for `kernel`, built once and reused while its inputs stay the same."""
    if not BUSYBOX.exists():
        raise FileNotFoundError(f"{BUSYBOX} is missing: apt-get install busybox-static")
    order = kernel.load_order(list(flavour.modules))
    key = hashlib.sha256()
    extras = [src.read_bytes() for _, src in flavour.files]
    for part in (BUSYBOX.read_bytes(), flavour.init.read_bytes(), kernel.release.encode(), " ".join(order).encode(), *extras):
        key.update(hashlib.sha256(part).digest())
    path = cache / f"initramfs-{kernel.release}-{key.hexdigest()[:16]}.cpio"
    if path.exists():
        return path
    archive = Newc()
    for d in ("bin", "dev", "etc", "job", "modules", "proc", "root", "run", "sys", "tmp", "usr", "var"):
        archive.dir(d)
    archive.node("dev/console", stat.S_IFCHR | 0o600, 5, 1)   # init's stdio before devtmpfs is mounted
    for link, target in (("lib", "usr/lib"), ("lib64", "usr/lib64"), ("sbin", "bin")):
        archive.symlink(link, target)
    archive.file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
    archive.file("init", flavour.init.read_bytes(), 0o755)
    for name, src in flavour.files:
        archive.file(name, src.read_bytes(), 0o644)
    archive.file("etc/passwd", PASSWD, 0o644)
    archive.file("etc/group", GROUP, 0o644)
    for name in order:
        archive.file(f"modules/{name}.ko", kernel.module_path(name).read_bytes(), 0o644)
    archive.file("modules/order", "".join(f"{m}\n" for m in order).encode(), 0o644)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(archive.close())
    os.replace(tmp, path)
    return path


class Newc:
    """A minimal writer of the "new ASCII" cpio format the kernel unpacks into its rootfs."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.ino = 1

    def dir(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755, b"")

    def file(self, name: str, data: bytes, mode: int) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def node(self, name: str, mode: int, major: int, minor: int) -> None:
        self._entry(name, mode, b"", rdev=(major, minor))

    def close(self) -> bytes:
        self._entry("TRAILER!!!", 0, b"")
        return self.out.getvalue()

    def _entry(self, name: str, mode: int, data: bytes, rdev: tuple[int, int] = (0, 0)) -> None:
        encoded = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0]
        self.ino += 1
        self.out.write(b"070701" + b"".join(b"%08X" % f for f in fields) + encoded)
        self._pad()
        self.out.write(data)
        self._pad()

    def _pad(self) -> None:
        self.out.write(b"\0" * (-self.out.tell() % 4))
