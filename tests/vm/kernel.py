"""Debian's kernel for the guest: `apt-get download` + `dpkg -x` into a cache, never installed.

Installing a linux-image package would run the host's boot hooks (initramfs-tools,
bootloader updates); unpacking it only gives us files: vmlinuz and the modules.
"""
from __future__ import annotations

import functools
import re
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path("/var/lib/labkit/vm")
META = "linux-image-amd64"         # Debian's meta package names the current kernel package


@dataclass(frozen=True)
class Kernel:
    """An unpacked kernel: its image, its modules tree, its release string."""

    release: str           # e.g. 6.1.0-56-amd64
    vmlinuz: Path
    modules: Path           # .../lib/modules/<release>

    def module_path(self, name: str) -> Path:
        """The .ko file of module `name` (dashes and underscores are the same to the kernel)."""
        index = _index(self.modules)
        key = name.replace("-", "_")
        if key not in index:
            raise FileNotFoundError(f"module {name} is not in {self.modules}")
        return self.modules / index[key]

    def load_order(self, wanted: list[str]) -> list[str]:
        """`wanted` and everything they depend on, each after its dependencies (as modules.dep orders them)."""
        done: list[str] = []

        def visit(name: str, trail: tuple[str, ...]) -> None:
            key = name.replace("-", "_")
            if key in done:
                return
            if key in trail:
                raise RuntimeError(f"module dependency loop: {' -> '.join(trail + (key,))}")
            for dep in depends(self.module_path(key)):
                visit(dep, trail + (key,))
            done.append(key)

        for name in wanted:
            visit(name, ())
        return done


def package() -> str:
    """The exact kernel package the meta package depends on now (e.g. linux-image-6.1.0-56-amd64)."""
    out = _run(["apt-cache", "depends", META])
    names = re.findall(r"Depends:\s*(linux-image-\S+)", out)
    if not names:
        raise RuntimeError(f"`apt-cache depends {META}` names no kernel package (run `apt-get update`?):\n{out}")
    return names[0]


def fetch(cache: Path = CACHE, keep: list[str] = ()) -> Kernel:
    """The kernel, from the cache or downloaded and unpacked into it (keyed by package and version).

    Only the modules in `keep` and what they depend on are kept: the whole tree is ~400 MB.
    """
    name = package()
    version = _run(["apt-cache", "show", "--no-all-versions", name]).split("Version:", 1)[1].split()[0]
    release = name.removeprefix("linux-image-")
    home = cache / f"{name}_{version}"
    kernel = Kernel(release, home / "vmlinuz", home / "lib" / "modules" / release)
    if kernel.vmlinuz.exists() and (kernel.modules / "modules.order").exists():
        try:
            kernel.load_order(list(keep))
            return kernel
        except (FileNotFoundError, OSError):
            pass               # cached with fewer modules than asked for now: unpack again
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        _run(["apt-get", "download", f"{name}={version}"], cwd=tmp)
        deb = next(Path(tmp).glob("*.deb"))
        tree = Path(tmp) / "tree"
        _run(["dpkg", "-x", str(deb), str(tree)])
        staged = Path(tmp) / "kernel"
        src_modules = next((tree / d / "modules" / release for d in ("lib", "usr/lib")
                            if (tree / d / "modules" / release).exists()))
        (staged / "lib" / "modules").mkdir(parents=True)
        shutil.copy2(tree / "boot" / f"vmlinuz-{release}", staged / "vmlinuz")
        unpacked = Kernel(release, staged / "vmlinuz", src_modules)
        target = staged / "lib" / "modules" / release
        target.mkdir()
        shutil.copy2(src_modules / "modules.order", target / "modules.order")
        for name in unpacked.load_order(list(keep)):
            dest = target / _index(src_modules)[name]
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(unpacked.module_path(name), dest)
        if home.exists():
            shutil.rmtree(home)
        staged.rename(home)
    return kernel


def depends(ko: Path) -> list[str]:
    """The `depends=` field of a module's .modinfo section (what depmod writes into modules.dep)."""
    info = _section(ko.read_bytes(), b".modinfo")
    for field in info.split(b"\0"):
        if field.startswith(b"depends="):
            return [d for d in field[8:].decode().split(",") if d]
    return []


def _section(elf: bytes, wanted: bytes) -> bytes:
    # ELF64 little-endian: section headers at e_shoff, names in the e_shstrndx section.
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        raise ValueError("not a 64-bit ELF file")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    names_off, names_size = headers[shstrndx][4], headers[shstrndx][5]
    names = elf[names_off:names_off + names_size]
    for name_idx, _type, _flags, _addr, offset, size in headers:
        if names[name_idx:names.index(b"\0", name_idx)] == wanted:
            return elf[offset:offset + size]
    return b""


@functools.lru_cache(maxsize=8)
def _index(modules: Path) -> dict[str, str]:
    # modules.order lists every module's path below the tree, one a line
    out = {}
    for rel in (modules / "modules.order").read_text().split():
        out[Path(rel).name.removesuffix(".ko").replace("-", "_")] = rel
    return out


def _run(argv: list[str], cwd: str | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout
