"""A throwaway Linux guest for the tests that need a kernel this machine does not run.

Debian's own kernel boots under qemu-system-x86_64 with software emulation (TCG) into a
busybox initramfs; the host's /usr and the repository are shared read-only over 9p, so
the guest runs the host's Python and this checkout. Nothing is installed on the host:
the kernel package is fetched with `apt-get download` and unpacked into a cache.

    python -m tests.vm 'cd "$REPO" && python3 -c "print(1)"'      # boot, run, power off

Modules: kernel.py (fetch and unpack), initramfs.py (the guest's first filesystem and
its /init), qemu.py (boot it, collect the serial console).
"""
from tests.vm.qemu import Guest, GuestResult, qemu_missing

__all__ = ["Guest", "GuestResult", "qemu_missing"]
