"""linux.resources.devices: which device nodes the container may open or make.

On cgroup v1 the rules are lines written to devices.deny and devices.allow. cgroup v2 has no
such files: runc compiles the rules into a small eBPF program of type CGROUP_DEVICE and attaches
it to the container's group (libcontainer/cgroups/devices/devicefilter.go). This module does the
same: the kernel runs the program at every open(2) and mknod(2) of a device, with the device's
type, major, minor and the access asked for, and allows the call when it returns 1.
"""
from __future__ import annotations

import ctypes
import os
import struct

from labkit.cgroups import files
from labkit.kernel import syscalls
from labkit.kernel.libc import check, libc
from labkit.runtime.errors import Refused

ACCESS = {"m": 1, "r": 2, "w": 4}         # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE
TYPE = {"b": 1, "c": 2}                   # BPF_DEVCG_DEV_BLOCK, _CHAR
# runc appends these to every container's rules (libcontainer/specconv AllowedDevices): mknod of any
# node, the six basic devices, the pty devices (so `-it` works) and tun.
RUNC_ALLOWED = [{"allow": True, "type": t, "access": "m"} for t in ("c", "b")] + [
    {"allow": True, "type": "c", "major": a, "minor": b, "access": "rwm"}
    for a, b in ((1, 3), (1, 8), (1, 7), (5, 0), (1, 5), (1, 9), (136, -1), (5, 2), (10, 200))]
BPF_PROG_LOAD, BPF_PROG_ATTACH = 5, 8
BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI = 15, 6, 2


def v1_lines(rules: list[dict]) -> list[tuple[str, str]]:
    """(file, line) for each rule, in order: ('devices.deny', 'a *:* rwm'), ('devices.allow', 'c 1:3 rwm')."""
    out = []
    for r in rules:
        kind = r.get("type") or "a"
        major, minor = r.get("major"), r.get("minor")
        where = f"{'*' if major is None or major < 0 else major}:{'*' if minor is None or minor < 0 else minor}"
        out.append(("devices.allow" if r.get("allow") else "devices.deny", f"{kind} {where} {r.get('access') or 'rwm'}"))
    return out


def apply_v1(directory: str, rules: list[dict]) -> None:
    """Write the rules into the group's devices.deny and devices.allow."""
    for name, line in v1_lines(rules):
        files.write(os.path.join(directory, name), line)


# -- cgroup v2: an eBPF program ------------------------------------------------------------------

def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, src << 4 | dst, off, imm)


def _load_word(dst: int, off: int) -> bytes:            # dst = *(u32 *)(r1 + off)
    return _insn(0x61, dst, 1, off)


def _jne_imm(reg: int, imm: int, off: int) -> bytes:
    return _insn(0x55, reg, 0, off, imm)


def program(rules: list[dict]) -> bytes:
    """The eBPF instructions for `rules`: later rules win, as with v1's files; when none matches,
    the device is allowed, as in a v1 group before its first `a *:* rwm` deny."""
    code = [
        _load_word(2, 0), _insn(0x54, 2, imm=0xFFFF),          # r2 = type   (low 16 bits of access_type)
        _load_word(3, 0), _insn(0x74, 3, imm=16),              # r3 = access (high 16 bits)
        _load_word(4, 4), _load_word(5, 8),                    # r4 = major, r5 = minor
    ]
    for r in reversed(rules):
        rule = _rule(r)
        code += rule
        if len(rule) == 2:           # no condition (`a *:* rwm`): it decides; the verifier refuses dead code after it
            return b"".join(code)
    code += [_insn(0xB4, 0, imm=1), _insn(0x95)]             # r0 = 1 (allow); exit
    return b"".join(code)


def _rule(r: dict) -> list[bytes]:
    """One rule: checks that jump past the rule when they fail, then r0 = allow; exit."""
    kind = r.get("type") or "a"
    if kind not in ("a", *TYPE):
        raise Refused(f"device rule type {kind!r} is not one of a, b, c")
    access = r.get("access") or "rwm"
    mask = sum(ACCESS[c] for c in set(access) if c in ACCESS)
    checks: list[tuple[str, int]] = []
    if kind != "a":
        checks.append(("type", TYPE[kind]))
    if mask != 7:
        checks.append(("access", mask))
    for reg, key in ((4, "major"), (5, "minor")):
        if r.get(key) is not None and r[key] >= 0:
            checks.append((f"r{reg}", r[key]))
    body = [_insn(0xB4, 0, imm=1 if r.get("allow") else 0), _insn(0x95)]      # r0 = allow; exit
    out: list[list[bytes]] = []
    for what, value in checks:
        if what == "type":
            out.append([_jne_imm(2, value, 0)])
        elif what == "access":                 # (access & mask) == access, else skip
            out.append([_insn(0xBC, 1, 3), _insn(0x54, 1, imm=value), _insn(0x5D, 1, 3, 0)])
        else:
            out.append([_jne_imm(int(what[1]), value, 0)])
    flat: list[bytes] = []
    for i, group in enumerate(out):
        after = sum(len(g) for g in out[i + 1:]) + len(body)
        *head, jump = group
        code, regs, _off, imm = struct.unpack("<BBhi", jump)
        flat += head + [struct.pack("<BBhi", code, regs, after, imm)]
    return flat + body


class _LoadAttr(ctypes.Structure):
    _fields_ = [("prog_type", ctypes.c_uint32), ("insn_cnt", ctypes.c_uint32), ("insns", ctypes.c_uint64),
                ("license", ctypes.c_uint64), ("log_level", ctypes.c_uint32), ("log_size", ctypes.c_uint32),
                ("log_buf", ctypes.c_uint64), ("kern_version", ctypes.c_uint32), ("prog_flags", ctypes.c_uint32)]


def _load(bpf: int, insns: bytes, verbose: bool) -> int:
    """bpf(BPF_PROG_LOAD): the program's fd. With `verbose`, a failure carries the verifier's last words
    (its log grows with the program: a small buffer fails with ENOSPC, so none is given normally)."""
    code, license_ = ctypes.create_string_buffer(insns, len(insns)), ctypes.c_char_p(b"Apache")
    log = ctypes.create_string_buffer(1 << 20 if verbose else 1)
    attr = _LoadAttr(BPF_PROG_TYPE_CGROUP_DEVICE, len(insns) // 8, ctypes.addressof(code),
                     ctypes.cast(license_, ctypes.c_void_p).value, 1 if verbose else 0,
                     len(log) if verbose else 0, ctypes.addressof(log) if verbose else 0)
    try:
        return check(libc.syscall(bpf, BPF_PROG_LOAD, ctypes.byref(attr), ctypes.sizeof(attr)), "bpf(BPF_PROG_LOAD)")
    except OSError as err:
        last = log.value.decode(errors="replace").strip().splitlines()[-1:] if verbose else []
        raise OSError(err.errno, f"{err}; verifier: {last[0] if last else 'no log'}") from None


class _AttachAttr(ctypes.Structure):
    _fields_ = [("target_fd", ctypes.c_uint32), ("attach_bpf_fd", ctypes.c_uint32),
                ("attach_type", ctypes.c_uint32), ("attach_flags", ctypes.c_uint32)]


def apply_v2(directory: str, rules: list[dict]) -> None:
    """Load the program for `rules` and attach it to the group at `directory` (bpf(2))."""
    bpf = syscalls.number("bpf")
    try:
        prog = _load(bpf, program(rules), verbose=False)
    except OSError:
        try:                              # again, with the verifier's log, to say why
            _load(bpf, program(rules), verbose=True)
        except OSError as err:
            raise Refused(f"the kernel refused the device filter: {err}") from None
        raise
    group = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        attach = _AttachAttr(group, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
        check(libc.syscall(bpf, BPF_PROG_ATTACH, ctypes.byref(attach), ctypes.sizeof(attach)), "bpf(BPF_PROG_ATTACH)")
    finally:
        os.close(group)
        os.close(prog)                  # the attachment holds the program now
