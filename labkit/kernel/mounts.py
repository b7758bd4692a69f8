"""mount(2), umount2(2), pivot_root(2)."""
from __future__ import annotations

import ctypes
import os

from labkit.errors import BadInput
from labkit.kernel import consts, syscalls
from labkit.kernel.libc import check, cstr, libc

_MS = {v: k for k, v in vars(consts).items() if k.startswith("MS_")}


def _flags(flags: int) -> str:
    names = [name for bit, name in sorted(_MS.items()) if flags & bit]
    return "|".join(names) or "0"


def mount(source: str | None, target: str | os.PathLike, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    """mount(2) with C semantics: mount("proc", "/proc", "proc"), bind with MS_BIND, etc."""
    if not isinstance(flags, int) or flags < 0:
        raise BadInput(f"mount flags are MS_* ints combined with |, not {flags!r}", "", "e.g. MS_BIND | MS_REC")
    call = f"mount({source!r}, {str(target)!r}, {fstype!r}, {_flags(flags)}, {data!r})"
    check(libc.mount(cstr(source), cstr(os.fspath(target)), cstr(fstype), ctypes.c_ulong(flags), cstr(data)), call)


def umount2(target: str | os.PathLike, flags: int = 0) -> None:
    """umount2(2): flags MNT_DETACH (lazy), MNT_FORCE, MNT_EXPIRE."""
    check(libc.umount2(cstr(os.fspath(target)), flags), f"umount2({str(target)!r}, {flags})")


def pivot_root(new_root: str | os.PathLike, put_old: str | os.PathLike) -> None:
    """pivot_root(2): new_root must be a mount point; put_old must be under it."""
    new_root, put_old = os.fspath(new_root), os.fspath(put_old)
    check(libc.syscall(syscalls.number("pivot_root"), cstr(new_root), cstr(put_old)),
          f"pivot_root({new_root!r}, {put_old!r})")
