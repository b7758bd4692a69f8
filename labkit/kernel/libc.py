"""The one handle on libc, and the errno check every call goes through."""
from __future__ import annotations

import ctypes
import ctypes.util

from labkit.kernel.errors import KernelError

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def check(ret: int, call: str) -> int:
    """Return `ret`, or raise KernelError with errno when the call returned -1."""
    if ret == -1:
        raise KernelError(call, ctypes.get_errno())
    return ret


def cstr(value: str | bytes | None) -> bytes | None:
    """A Python path or name as a C string (None stays NULL)."""
    if value is None:
        return None
    return value if isinstance(value, bytes) else str(value).encode()
