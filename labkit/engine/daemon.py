"""A lab daemon: started detached, tracked by a pid file, ready when it answers."""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from labkit.config import LOG, STATE

LOCK = STATE / "engine.lock"     # not under /run/labkit: `down` removes that directory
_held = False
from labkit.errors import LabError
from labkit.kernel import procfs


@dataclass
class Daemon:
    """One process of the lab engine, started by `labkit up` and stopped by `labkit down`."""

    name: str
    argv: list[str]
    ready: Callable[[], bool]          # answers a real request, not just "the socket exists"
    timeout: float = 15.0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def logfile(self) -> Path:
        return LOG / f"{self.name}.log"

    def pid(self) -> int | None:
        """The daemon's pid if it is alive, else None.

        Found by its exact command line (the lab's config path makes it unique), not a pid
        file: a file can go stale, the process table cannot.
        """
        return next((pid for pid in procfs.pids() if self._is_ours(pid)), None)

    def _is_ours(self, pid: int) -> bool:
        return procfs.cmdline(pid) == self.argv and procfs.alive(pid)

    def start(self) -> None:
        """Start the daemon (a no-op when it runs) and wait until it answers; on failure name
        it and show its log."""
        with engine_lock():
            if self.pid() is None:
                self._spawn()

    def restart(self) -> None:
        """Stop and start under one lock, so no concurrent `labkit up` starts a second copy."""
        with engine_lock():
            self.stop()
            self._spawn()

    def _spawn(self) -> None:
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(self.logfile, "ab") as log:
            # A session of its own: the daemon outlives the notebook kernel that started it.
            proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, env={**_base_env(), **self.env},
            )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise self._failed(f"it exited with status {proc.returncode}")
            if self._is_ours(proc.pid) and self.ready():    # exec'd, and answering
                return
            time.sleep(0.02)
        self._stop(grace=5)
        raise self._failed(f"it did not answer within {self.timeout:.0f} s")

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; idempotent."""
        with engine_lock():
            self._stop(grace)

    def _stop(self, grace: float) -> None:
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while procfs.alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.02)
        if procfs.alive(pid):
            os.kill(pid, signal.SIGKILL)
            while procfs.alive(pid):
                _reap(pid)
                time.sleep(0.01)

    def log_tail(self, lines: int = 8) -> str:
        """The last lines of the daemon's log, where the reason for a failure usually is."""
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _failed(self, how: str) -> LabError:
        return LabError(
            f"The lab's {self.name} failed to start",
            f"{how}. Last lines of {self.logfile}:\n{self.log_tail()}",
            "Fix what the log says, then run `labkit up` again",
        )


@contextmanager
def engine_lock() -> Iterator[None]:
    """One process at a time starts or stops lab daemons (re-entrant within a process)."""
    global _held
    if _held:
        yield
        return
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        _held = True
        try:
            yield
        finally:
            _held = False
            fcntl.flock(f, fcntl.LOCK_UN)


def write_configs(files: dict[Path, str]) -> None:
    """Write generated configs, leaving each untouched (mtime too) when it is already right."""
    for path, text in files.items():
        if differs(path, text):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            if text.startswith("#!"):
                path.chmod(0o755)        # a program (labrun's launcher), not a config


def differs(path: Path, text: str) -> bool:
    """Whether the file at `path` is missing or holds something other than `text`."""
    try:
        return path.read_text() != text
    except OSError:
        return True


def _base_env() -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TZ")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return env


def _reap(pid: int) -> None:
    # Only our own children can be reaped; others are reaped by their parent or init.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
