"""Capabilities: capget(2)/capset(2) and the bounding set via prctl(2)."""
from __future__ import annotations

import ctypes

from labkit.errors import BadInput
from labkit.kernel import consts, syscalls
from labkit.kernel.errors import KernelError
from labkit.kernel.libc import check, libc
from labkit.kernel.process import prctl

# <linux/capability.h>, in order: the index is the capability's number.
CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]
_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def cap_value(name: str) -> int:
    """The number of a capability by name ('CAP_SYS_ADMIN' or 'sys_admin')."""
    key = name.upper() if name.upper().startswith("CAP_") else "CAP_" + name.upper()
    if key not in CAPS:
        raise BadInput(f"Unknown capability {name!r}", "", "Use a name from capabilities(7), e.g. 'CAP_NET_ADMIN'")
    return CAPS.index(key)


def _names(mask: int) -> set[str]:
    return {CAPS[i] if i < len(CAPS) else f"cap_{i}" for i in range(64) if mask >> i & 1}


def cap_get(pid: int = 0) -> dict[str, set[str]]:
    """The effective, permitted and inheritable sets of `pid` (0: the calling thread)."""
    header, data = _Header(_VERSION_3, pid), (_Data * 2)()
    check(libc.syscall(syscalls.number("capget"), ctypes.byref(header), data), f"capget(pid={pid})")
    return {field: _names(getattr(data[0], field) | getattr(data[1], field) << 32)
            for field in ("effective", "permitted", "inheritable")}


def cap_set(effective: set[str], permitted: set[str], inheritable: set[str] = frozenset()) -> None:
    """capset(2) for the calling thread: sets can only shrink (unless CAP_SETPCAP rules allow)."""
    header, data = _Header(_VERSION_3, 0), (_Data * 2)()
    for field, names in (("effective", effective), ("permitted", permitted), ("inheritable", inheritable)):
        mask = sum(1 << cap_value(n) for n in names)
        setattr(data[0], field, mask & 0xFFFFFFFF)
        setattr(data[1], field, mask >> 32)
    check(libc.syscall(syscalls.number("capset"), ctypes.byref(header), data), "capset(...)")


def cap_bounding_has(name: str) -> bool:
    """Whether capability `name` is still in the calling thread's bounding set."""
    return bool(prctl(consts.PR_CAPBSET_READ, cap_value(name)))


def cap_bounding_drop(name: str) -> None:
    """Drop `name` from the bounding set: no exec'd program can ever regain it."""
    try:
        prctl(consts.PR_CAPBSET_DROP, cap_value(name))
    except KernelError as err:
        raise KernelError(f"prctl(PR_CAPBSET_DROP, {name})", err.errno) from None
