"""KernelError: a failed system call, named with its arguments and errno."""
from __future__ import annotations

import errno as _errno
import os

from labkit.errors import LabError

# The usual cause of each errno for the calls in this package.
HINTS = {
    _errno.EPERM: "this needs privilege (CAP_SYS_ADMIN, or root) in the current user namespace",
    _errno.EINVAL: "an argument is not valid here: check the flags, and that paths are what the call expects "
                   "(pivot_root: new_root must be a mount point and put_old under it)",
    _errno.ENOENT: "a path does not exist: create it first",
    _errno.EBUSY: "the target is busy: something still uses it, or it is already mounted",
    _errno.EBADF: "the file descriptor is not open (a namespace fd comes from open('/proc/PID/ns/NAME'))",
    _errno.ENOTDIR: "a path is not a directory",
    _errno.ENODEV: "the kernel does not know this filesystem type (see /proc/filesystems)",
    _errno.EACCES: "permission denied on a path",
    _errno.ENOSPC: "a kernel limit is reached (e.g. /proc/sys/user/max_*_namespaces)",
    _errno.EUSERS: "too many nested user namespaces",
}


class KernelError(LabError, OSError):
    """A system call failed: `call` is the C call as written, `errno` its error number."""

    def __init__(self, call: str, err: int) -> None:
        name = _errno.errorcode.get(err, str(err))
        hint = HINTS.get(err, "see the man page of the call")
        LabError.__init__(self, f"{call} failed", f"{name} ({os.strerror(err)})", hint[0].upper() + hint[1:])
        self.call = call
        self.errno = err      # after __init__: OSError's own __init__ resets it

    def __reduce__(self):
        return (KernelError, (self.call, self.errno))
