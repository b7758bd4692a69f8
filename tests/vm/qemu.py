"""Boot the guest under qemu-system-x86_64 (TCG), run one shell script in it, collect its console.

The host's /usr and every directory given in `shares` are exported read-only over 9p
(virtio) and mounted at the same paths in the guest. The guest has no network
(-nic none). Its serial console goes to a file, read after it powers off.
"""
from __future__ import annotations

import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from labkit.kernel import PR_SET_PDEATHSIG, prctl
from tests.vm import initramfs, kernel

QEMU = "qemu-system-x86_64"
MARK = "LABKIT-VM:"
CMDLINE = ["console=ttyS0", "panic=-1", "quiet", "loglevel=1"]
# A stock VM's boot: systemd with only cgroup2 (the default of systemd 247+, said here in case the
# host's systemd is older). AppArmor is off because the host (so the guest) lacks apparmor_parser,
# which dockerd calls when the kernel has AppArmor on. The host's own container services stay masked:
# the lab runs its own daemons, as `./lab` leaves a learner's machine.
CMDLINE_SYSTEMD = [*CMDLINE, "systemd.unified_cgroup_hierarchy=1", "apparmor=0", "systemd.show_status=0",
                   *(f"systemd.mask={u}" for u in ("docker.service", "docker.socket", "containerd.service",
                                                    "docker-registry.service", "apt-daily.timer",
                                                    "apt-daily-upgrade.timer", "man-db.timer")),
                   "systemd.wants=labkit-job.service"]


def qemu_missing() -> str | None:
    """Why the guest cannot boot here (qemu is not installed), or None."""
    if shutil.which(QEMU) is None:
        return f"{QEMU} is not installed: apt-get install --no-install-recommends qemu-system-x86"
    return None


@dataclass
class GuestResult:
    """What the guest printed, and the exit status of the job script."""

    console: str
    status: int | None          # None: the job never reported (crash, timeout)
    seconds: float

    def lines(self, marker: str = MARK) -> list[str]:
        return [ln.strip() for ln in self.console.splitlines() if ln.strip().startswith(marker)]


class Guest:
    """A kernel and an initramfs, ready to boot as often as a test likes."""

    def __init__(self, k: kernel.Kernel, ramfs: Path, flavour: initramfs.Flavour = initramfs.BUSYBOX_INIT) -> None:
        self.kernel, self.initramfs, self.flavour = k, ramfs, flavour

    @classmethod
    def prepare(cls, cache: Path = kernel.CACHE, flavour: initramfs.Flavour = initramfs.BUSYBOX_INIT) -> "Guest":
        """Fetch and unpack the kernel and build the initramfs, or take them from the cache."""
        k = kernel.fetch(cache, keep=sorted(set(initramfs.SYSTEMD.modules) | set(initramfs.MODULES)))
        return cls(k, initramfs.build(k, cache, flavour), flavour)

    @property
    def systemd(self) -> bool:
        return self.flavour is initramfs.SYSTEMD

    def run(self, script: str, shares: list[Path] = (), timeout: float = 240, memory: str = "768M",
            env: dict[str, str] | None = None) -> GuestResult:
        """Boot, mount `shares` read-only at their own paths, run `script` with /bin/sh, power off.

        The systemd flavour boots the host's own root instead (so every path is there already) and
        runs the script as a service once systemd is up.
        """
        return self.start(script, shares, memory, env).wait(timeout)

    def start(self, script: str, shares: list[Path] = (), memory: str = "768M",
              env: dict[str, str] | None = None) -> "Running":
        """As `run`, without waiting: the guest boots in the background (one host CPU) while the
        caller goes on; `wait()` collects what it printed."""
        tmp = tempfile.TemporaryDirectory(prefix="labkit-vm-")
        job = Path(tmp.name) / "job"
        job.mkdir()
        mounts = []
        args = [QEMU, "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", memory, "-nodefaults", "-no-reboot",
                "-display", "none", "-nic", "none",
                "-kernel", str(self.kernel.vmlinuz), "-initrd", str(self.initramfs),
                "-append", " ".join(CMDLINE_SYSTEMD if self.systemd else CMDLINE),
                "-chardev", f"file,id=console,path={tmp.name}/console.log", "-serial", "chardev:console"]
        exports = {"root": Path("/"), "job": job} if self.systemd else {"usr": Path("/usr"), "job": job}
        for i, share in enumerate([] if self.systemd else shares):
            exports[f"share{i}"] = Path(share)
            mounts.append(f'mkdir -p {shlex.quote(str(share))} && '
                          f'mount -t 9p -o "$NINEP" share{i} {shlex.quote(str(share))} '
                          f'|| echo "{MARK} cannot mount {share}"')
        for tag, path in exports.items():
            # multidevs=remap: the host's / spans many filesystems whose inode numbers collide
            # (procfs and sysfs roots are both inode 1), and the guest would take them for one file.
            args += ["-virtfs", f"local,path={path},mount_tag={tag},security_model=none,readonly=on,multidevs=remap"]
        exports_env = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in (env or {}).items())
        (job / "run.sh").write_text("\n".join(mounts) + "\n" + exports_env + script + "\n")
        qemu = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=_die_with_parent)
        return Running(qemu, tmp, time.monotonic())


def _die_with_parent() -> None:
    # A test run killed outright (SIGKILL: no sessionfinish) must not leave a guest taking a CPU
    # for half an hour under the next run.
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Running:
    """A guest booted by `Guest.start`, until `wait` collects it."""

    qemu: subprocess.Popen
    tmp: tempfile.TemporaryDirectory
    started: float

    def wait(self, timeout: float) -> GuestResult:
        """Wait until the guest powers off (killed after `timeout` seconds from its start), read its console."""
        try:
            self.qemu.wait(timeout=max(1.0, self.started + timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.qemu.kill()       # the console shows how far it got
            self.qemu.wait()
        seconds = time.monotonic() - self.started
        console = (Path(self.tmp.name) / "console.log").read_text(errors="replace")
        self.tmp.cleanup()
        found = re.findall(rf"{MARK} exit (\d+)", console)
        return GuestResult(console, int(found[-1]) if found else None, seconds)
