"""A throwaway Linux guest for the tests that need a kernel this machine does not run.

Debian's own kernel boots under qemu-system-x86_64 with software emulation (TCG) into a
busybox initramfs; the host's /usr and the repository are shared read-only over 9p, so
the guest runs the host's Python and this checkout. Nothing is installed on the host:
the kernel package is fetched with `apt-get download` and unpacked into a cache.

    python -m tests.vm 'cd "$REPO" && python3 -c "print(1)"'      # boot, run, power off

Modules: kernel.py (fetch and unpack), initramfs.py (the guest's first filesystem and
its /init), qemu.py (boot it, collect the serial console).
"""
import shlex
from pathlib import Path

from tests.vm.qemu import Guest, GuestResult, qemu_missing

__all__ = ["Guest", "GuestResult", "qemu_missing", "lab_job_prelude"]


def lab_job_prelude(repo: Path, venv: Path, env: str = "") -> list[str]:
    """A systemd guest job's first lines, before it starts the lab engine: into the checkout, the host
    venv's tools on PATH (with `env`, more NAME=value), and the engine's state on a tmpfs of its own
    (dockerd's overlay2 cannot sit on the overlay root)."""
    return [
        f"cd {shlex.quote(str(repo))}",
        " ".join(["export PYTHONDONTWRITEBYTECODE=1", *env.split(), f"PATH={shlex.quote(str(venv))}:/usr/sbin:/usr/bin:/sbin:/bin"]),
        "mkdir -p /var/lib/labkit && mount -t tmpfs -o size=3G labkit /var/lib/labkit",
    ]
