"""labkit.kernel.syscalls: every number in the table is the kernel's own, and a machine without one is refused."""
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from labkit import fs
from labkit.errors import LabError
from labkit.kernel import caps, mounts, syscalls

# The kernel's uapi headers, per table. `dpkg -S` says both /usr/include files come from Debian's
# linux-libc-dev, which libc6-dev (in etc/debs/lessons) depends on (`apt-cache depends libc6-dev`), so
# ./lab installs them. linux-libc-dev has only its own architecture's asm/ directory: on a host
# that is not amd64 the x86-64 header comes from linux-libc-dev-amd64-cross, under /usr/x86_64-linux-gnu.
GENERIC = [("/usr/include/asm-generic/unistd.h", "linux-libc-dev")]
HEADERS = {
    "x86_64": [("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "linux-libc-dev"),
               ("/usr/x86_64-linux-gnu/include/asm/unistd_64.h", "linux-libc-dev-amd64-cross (on a non-amd64 host)")],
    "aarch64": GENERIC,       # arch/arm64/include/uapi/asm/unistd.h includes asm-generic/unistd.h
    "riscv64": GENERIC,       # so does arch/riscv/include/uapi/asm/unistd.h
}
_DEFINE = re.compile(r"^#define __NR_(\w+)\s+(\d+)\s*$", re.M)


def kernel_numbers(machine: str) -> dict[str, int]:
    """`#define __NR_name N` of `machine`'s header; fails (never skips) when the header is missing."""
    for path, _ in HEADERS[machine]:
        if Path(path).is_file():
            return {name: int(n) for name, n in _DEFINE.findall(Path(path).read_text())}
    wanted = "; or ".join(f"{path} from {package}" for path, package in HEADERS[machine])
    pytest.fail(f"No syscall header for {machine}: install linux-libc-dev (apt-get install linux-libc-dev). "
                f"Looked for {wanted}")


def test_every_table_has_a_header_to_check_it_against():
    assert sorted(syscalls.TABLES) == sorted(HEADERS), "a table entry without a header check cannot exist"


@pytest.mark.parametrize("machine", sorted(syscalls.TABLES))
def test_every_number_is_the_kernels(machine):
    assert machine in HEADERS, f"TABLES[{machine!r}] has no header to check it against: add it to HEADERS"
    kernel = kernel_numbers(machine)
    for name, number in syscalls.TABLES[machine].items():
        assert name in kernel, f"{HEADERS[machine][0][0]} defines no __NR_{name}"
        assert number == kernel[name], f"{machine} {name}: the table says {number}, the kernel {kernel[name]}"


def test_the_numbers_differ_where_it_matters():
    # The bug this table fixes: x86-64's pivot_root (155) is getpgid on arm64.
    assert syscalls.TABLES["x86_64"]["pivot_root"] == 155 == kernel_numbers("aarch64")["getpgid"]
    assert syscalls.TABLES["aarch64"]["pivot_root"] == 41


def test_this_machine_has_its_own_numbers():
    assert syscalls.number("pivot_root") == syscalls.TABLES[os.uname().machine]["pivot_root"]


def test_an_unknown_syscall_name_is_refused():
    with pytest.raises(LabError, match="no syscall number for 'fork'. Known: bpf, capget, capset, pivot_root"):
        syscalls.number("fork")


class NoLibc:
    """Stands in for libc: any call through it fails the test."""

    def __getattr__(self, name):
        def call(*args):
            raise AssertionError(f"libc.{name}{args} was called on a machine without a syscall table")
        return call


@pytest.fixture
def on_mips(monkeypatch):
    uname = os.uname_result(("Linux", "box", "6.1", "#1", "mips"))
    monkeypatch.setattr(syscalls, "os", SimpleNamespace(uname=lambda: uname))
    monkeypatch.setattr(mounts, "libc", NoLibc())
    monkeypatch.setattr(caps, "libc", NoLibc())


def test_an_unknown_machine_is_refused_in_one_clear_sentence(on_mips):
    with pytest.raises(LabError) as err:
        syscalls.number("pivot_root")
    assert str(err.value) == (
        "labkit has no syscall numbers for 'mips': each architecture numbers its system calls its own way, "
        "and another one's numbers would make other calls. Use a 64-bit Python on x86_64, aarch64, riscv64, "
        "or add this architecture's numbers from its <asm/unistd.h> to labkit/kernel/syscalls.py.")


@pytest.mark.parametrize("call", [
    lambda: mounts.pivot_root("/nonexistent", "/nonexistent/.old"),
    lambda: caps.cap_get(),
    lambda: caps.cap_set(set(), set()),
])
def test_an_unknown_machine_is_refused_before_any_syscall(on_mips, call):
    with pytest.raises(LabError, match="no syscall numbers for 'mips'"):
        call()


def test_fs_pivot_root_refuses_an_unknown_machine_before_it_mounts(on_mips, tmp_path):
    with pytest.raises(LabError, match="no syscall numbers for 'mips'"):
        fs.pivot_root(tmp_path)


def test_a_32_bit_process_on_a_64_bit_kernel_is_refused(monkeypatch):
    # e.g. an armhf userland on an aarch64 kernel: uname says aarch64, the calls are arm's.
    monkeypatch.setattr(syscalls, "sys", SimpleNamespace(maxsize=2**31 - 1))
    with pytest.raises(LabError, match="no syscall numbers for a 32-bit process on '"):
        syscalls.number("capget")
