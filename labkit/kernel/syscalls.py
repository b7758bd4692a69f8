"""Syscall numbers, per architecture, for the calls glibc does not wrap (made with libc.syscall).

Each architecture numbers its system calls its own way: 155 is pivot_root on x86-64 but getpgid
on arm64. A number for the wrong one silently makes another call, so the table is keyed by the
machine, and a machine without a table is refused before anything is called.
Stdlib only: a container runtime process imports this.
"""
from __future__ import annotations

import os
import sys

from labkit.errors import BadInput, LabError

# From the kernel's uapi headers; tests/unit/test_syscalls.py checks every entry against them.
# arm64 and riscv64 take the generic table (their asm/unistd.h includes asm-generic/unistd.h).
_GENERIC = {"pivot_root": 41, "capget": 90, "capset": 91, "bpf": 280}
TABLES: dict[str, dict[str, int]] = {
    "x86_64": {"pivot_root": 155, "capget": 125, "capset": 126, "bpf": 321},     # asm/unistd_64.h
    "aarch64": _GENERIC,
    "riscv64": _GENERIC,
}


def _table() -> dict[str, int]:
    machine = os.uname().machine
    # Every table is a 64-bit ABI: a 32-bit process on a 64-bit kernel (armhf userland on an
    # aarch64 kernel) reports the kernel's machine but makes its calls with another table.
    wide = sys.maxsize > 2**32
    if wide and machine in TABLES:
        return TABLES[machine]
    abi = repr(machine) if wide else f"a 32-bit process on {machine!r}"
    raise LabError(f"labkit has no syscall numbers for {abi}",
                   "each architecture numbers its system calls its own way, and another one's numbers "
                   "would make other calls",
                   f"Use a 64-bit Python on {', '.join(TABLES)}, or add this architecture's numbers "
                   "from its <asm/unistd.h> to labkit/kernel/syscalls.py")


def number(name: str) -> int:
    """The number of syscall `name` ('pivot_root') on this machine, checked before any call is made."""
    numbers = _table()
    if name not in numbers:
        raise BadInput(f"labkit has no syscall number for {name!r}", "",
                       f"Known: {', '.join(sorted(numbers))}")
    return numbers[name]
