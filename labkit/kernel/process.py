"""sethostname(2) and prctl(2)."""
from __future__ import annotations

import ctypes

from labkit.errors import BadInput
from labkit.kernel import consts
from labkit.kernel.libc import check, cstr, libc


def sethostname(name: str) -> None:
    """Set the hostname of the current UTS namespace."""
    raw = cstr(name)
    if not raw or len(raw) > 64:
        raise BadInput(f"A hostname is 1 to 64 bytes, not {name!r}", "", "Pick a shorter, non-empty name")
    check(libc.sethostname(raw, len(raw)), f"sethostname({name!r})")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """prctl(2) with integer arguments; returns the call's result."""
    args = [ctypes.c_ulong(a) for a in (arg2, arg3, arg4, arg5)]
    return check(libc.prctl(option, *args), f"prctl({option}, {arg2}, {arg3}, {arg4}, {arg5})")


def set_no_new_privs() -> None:
    """PR_SET_NO_NEW_PRIVS: from now on, execve never grants privileges (setuid bits, file caps)."""
    prctl(consts.PR_SET_NO_NEW_PRIVS, 1)


def get_no_new_privs() -> bool:
    """Whether no_new_privs is set on the calling thread."""
    return bool(prctl(consts.PR_GET_NO_NEW_PRIVS))
