"""linux.seccomp: the system call filter, compiled with libseccomp, as runc compiles it.

`prepare` builds the filter while the host's libraries are still reachable (libseccomp is
loaded then); `load` installs it, the last step before execve when no_new_privs is set (a
filter needs no_new_privs or CAP_SYS_ADMIN to load; init holds the latter until it drops
capabilities, so without no_new_privs the filter goes in before that)."""
from __future__ import annotations

import ctypes
import errno

from labkit.runtime.errors import Refused

ACTIONS = {"SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000, "SCMP_ACT_KILL_PROCESS": 0x80000000,
           "SCMP_ACT_TRAP": 0x00030000, "SCMP_ACT_ERRNO": 0x00050000, "SCMP_ACT_TRACE": 0x7FF00000,
           "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_ALLOW": 0x7FFF0000}
OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
       "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
SCMP_FLTATR_CTL_NNP = 3


class ArgCmp(ctypes.Structure):
    """struct scmp_arg_cmp: one condition on one argument."""

    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def _library() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        raise Refused("config.json asks for a seccomp filter, and libseccomp.so.2 is not installed "
                      "(Debian package libseccomp2)") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(ArgCmp)]
    return lib


def action(name: str, errno_ret: int | None, default_errno: int | None) -> int:
    """The filter's return value for an action name; ERRNO carries its errno (EPERM unless told)."""
    if name not in ACTIONS:
        raise Refused(f"seccomp action {name!r} is not one labrun knows: {', '.join(ACTIONS)}")
    value = ACTIONS[name]
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        value |= (errno_ret if errno_ret is not None else default_errno or errno.EPERM) & 0xFFFF
    return value


class Filter:
    """A compiled filter, not yet loaded."""

    def __init__(self, config: dict) -> None:
        for key in ("flags", "listenerPath", "listenerMetadata"):
            if config.get(key):
                raise Refused(f"unsupported field linux.seccomp.{key} in config.json; remove it, or run this bundle with runc")
        self.lib = _library()
        default_errno = config.get("defaultErrnoRet")
        self.default = action(config.get("defaultAction", ""), None, default_errno)
        self.ctx = self.lib.seccomp_init(self.default)
        if not self.ctx:
            raise Refused("seccomp_init failed")
        self._call(self.lib.seccomp_attr_set(self.ctx, SCMP_FLTATR_CTL_NNP, 0), "leave no_new_privs to config.json")
        for arch in config.get("architectures") or []:
            token = self.lib.seccomp_arch_resolve_name(arch.lower().removeprefix("scmp_arch_").encode())
            if token == 0:
                raise Refused(f"seccomp architecture {arch!r} is unknown to libseccomp")
            ret = self.lib.seccomp_arch_add(self.ctx, token)
            if ret not in (0, -errno.EEXIST):           # the native one is there already
                self._call(ret, f"add architecture {arch}")
        for group in config.get("syscalls") or []:
            self._rules(group, default_errno)

    def _rules(self, group: dict, default_errno: int | None) -> None:
        act = action(group.get("action", ""), group.get("errnoRet"), default_errno)
        if act == self.default:
            return                                      # libseccomp refuses a rule that changes nothing
        args = group.get("args") or []
        indexes = [a["index"] for a in args]
        # Conditions on distinct arguments make one rule (all must hold); several on the same
        # argument make one rule each (any may hold), as runc adds them.
        sets = [args] if len(set(indexes)) == len(indexes) else [[a] for a in args]
        for name in group.get("names") or []:
            nr = self.lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                continue                                # not a syscall of this architecture: runc skips it too
            for conds in sets:
                array = (ArgCmp * max(len(conds), 1))(*[ArgCmp(a["index"], OPS[a["op"]], a.get("value", 0),
                                                               a.get("valueTwo", 0)) for a in conds])
                self._call(self.lib.seccomp_rule_add_array(self.ctx, act, nr, len(conds), array), f"add a rule for {name}")

    def load(self) -> None:
        """Install the filter on this thread (and what it execs); free it."""
        try:
            self._call(self.lib.seccomp_load(self.ctx), "load the filter")
        finally:
            self.lib.seccomp_release(self.ctx)

    def _call(self, ret: int, what: str) -> None:
        if ret < 0:
            raise Refused(f"seccomp: could not {what}: {errno.errorcode.get(-ret, -ret)}")
