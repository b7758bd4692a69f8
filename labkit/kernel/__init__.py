"""labkit.kernel: the only code in labkit that calls libc.

A thin ctypes layer that keeps C's names and semantics, so `unshare(CLONE_NEWUTS)`
reads like the man page. Failures raise KernelError: the call, its arguments, the
errno by name, and a hint at the usual cause.

Its other half reads what the kernel reports: `labkit.kernel.procfs` is the one parser of
/proc's text files (mountinfo, a process's cmdline, status, stat, environ), no libc needed.
"""
from labkit.kernel.caps import CAPS, cap_bounding_drop, cap_bounding_has, cap_get, cap_set, cap_value
from labkit.kernel import consts
from labkit.kernel.consts import *  # noqa: F401,F403  (C names: CLONE_*, MS_*, MNT_*, PR_*)
from labkit.kernel.errors import KernelError
from labkit.kernel.mounts import mount, pivot_root, umount2
from labkit.kernel.namespaces import setns, unshare
from labkit.kernel.process import get_no_new_privs, prctl, set_no_new_privs, sethostname

__all__ = [
    "KernelError", "unshare", "setns", "mount", "umount2", "pivot_root", "sethostname", "prctl",
    "set_no_new_privs", "get_no_new_privs", "cap_get", "cap_set", "cap_bounding_drop",
    "cap_bounding_has", "cap_value", "CAPS",
] + [name for name in vars(consts) if name.isupper()]
