"""unshare(2) and setns(2)."""
from __future__ import annotations

from labkit.errors import BadInput
from labkit.kernel import consts
from labkit.kernel.libc import check, libc

_NAMES = {v: k for k, v in vars(consts).items() if k.startswith("CLONE_")}


def flag_names(flags: int) -> str:
    """CLONE_NEWUTS|CLONE_NEWPID for 0x24000000: how the call is shown in errors."""
    names = [name for bit, name in sorted(_NAMES.items()) if flags & bit]
    rest = flags & ~sum(bit for bit in _NAMES if flags & bit)
    return "|".join(names + ([hex(rest)] if rest else [])) or "0"


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (CLONE_NEW* flags)."""
    if not isinstance(flags, int) or flags < 0:
        raise BadInput(f"unshare takes CLONE_NEW* flags as an int, not {flags!r}", "",
                       "Combine flags with |, e.g. unshare(CLONE_NEWUTS | CLONE_NEWNS)")
    check(libc.unshare(flags), f"unshare({flag_names(flags)})")


def setns(fd: int, nstype: int = 0) -> None:
    """Join the namespace open at `fd` (from /proc/PID/ns/NAME); nstype 0 accepts any kind."""
    if not isinstance(fd, int):
        if not hasattr(fd, "fileno"):
            raise BadInput(f"setns takes an open file descriptor, not {fd!r}", "",
                           "Open the namespace first: os.open('/proc/PID/ns/net', os.O_RDONLY)")
        fd = fd.fileno()
    check(libc.setns(fd, nstype), f"setns({fd}, {flag_names(nstype)})")
