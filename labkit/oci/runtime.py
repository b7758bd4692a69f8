"""An OCI runtime's command line (runc, crun, labrun), driven one verb at a time: create, start, state, kill, delete.

Every verb is the real command (printed first when `echo` is on, so a lesson shows what runs);
its failure comes back as a LabError in the runtime's own words. Containers a lesson runs this
way live under `labkit.config.RUNC_ROOT` (runc), `RUN/crun` (crun) or `LABRUN_ROOT` (labrun), where
`labkit clean` looks.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

from labkit import config
from labkit.errors import LabError

ROOTS = {"runc": config.RUNC_ROOT, "crun": config.RUN / "crun", "labrun": config.LABRUN_ROOT}
PATHS = {"labrun": str(config.LABRUN)}   # not on PATH: `labkit up` writes its launcher
_RUNC_MSG = re.compile(r'level=(?:error|fatal) msg="((?:[^"\\]|\\.)*)"')


class Runtime:
    """One OCI runtime binary with its state directory (`--root`)."""

    def __init__(self, binary: str = "runc", root: str | os.PathLike | None = None,
                 wrap: list[str] | None = None, echo: bool = False) -> None:
        if root is None and binary not in ROOTS:
            raise LabError(f"No state directory known for {binary!r}", "", "Pass root= (its --root directory)")
        self.binary, self.root = binary, Path(root) if root is not None else ROOTS[binary]
        self.wrap = list(wrap or [])        # e.g. unshare ... to run the runtime in another mount namespace
        self.echo = echo

    def __repr__(self) -> str:
        return f"Runtime({self.binary!r}, root={str(self.root)!r})"

    def argv(self, *args: str) -> list[str]:
        """The full command line of one runtime verb."""
        return [*self.wrap, PATHS.get(self.binary, self.binary), "--root", str(self.root), *args]

    def _run(self, *args: str, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check: bool = True,
             timeout: int = 60, quiet: bool = False) -> subprocess.CompletedProcess:
        argv = self.argv(*args)
        if self.echo and not quiet:
            # A wrapper (say, unshare ...) is shown as '…': the lesson shows it once where it is set.
            # labrun is shown by name, as runc is, not by its launcher's path.
            print("$", "… " * bool(self.wrap) + shlex.join([self.binary, *argv[len(self.wrap) + 1:]]))
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                  text=True, timeout=timeout)
        except FileNotFoundError:
            raise LabError(f"{argv[0]} is not installed", "", "Run the README's set-up command (`sudo ./lab open`)") from None
        if check and proc.returncode != 0:
            raise self._error(args[0], (proc.stderr or "") + (proc.stdout or ""))
        return proc

    def _error(self, verb: str, output: str, fix: str = "") -> LabError:
        return LabError(f"`{self.binary} {verb}` failed", message(output),
                        fix or f"`{self.binary} --root {self.root} list` shows its containers and their states")

    # the verbs
    def create(self, cid: str, bundle: str | os.PathLike, console: str | os.PathLike | None = None) -> dict:
        """`create`: set the container up, its process waiting before the user's program; returns its state.

        Without a terminal the container's stdout and stderr are the runtime's own, so they go to
        the file `console` (default: BUNDLE/CID.log), never to a pipe someone must drain.
        """
        console = Path(console) if console is not None else Path(bundle) / f"{cid}.log"
        seen = console.stat().st_size if console.exists() else 0
        with open(console, "a") as out:
            proc = self._run("create", "--bundle", str(bundle), cid, stdout=out, stderr=out, check=False)
        if proc.returncode != 0:
            with open(console) as f:
                f.seek(seen)
                raise self._error("create", f.read(), f"If the bundle's config.json is at fault, "
                                  f"labkit.oci.spec.validate(cfg, {str(bundle)!r}) names the field")
        return self.state(cid) or {}

    def start(self, cid: str) -> None:
        """`start`: run the user's program in the created container."""
        self._run("start", cid)

    def state(self, cid: str) -> dict | None:
        """`state`: the container's state JSON, or None when the runtime knows no such container."""
        proc = self._run("state", cid, check=False, quiet=True)
        if proc.returncode != 0:
            words = message(proc.stderr + proc.stdout)
            if "does not exist" in words or "No such file" in words:
                return None
            raise self._error("state", words)
        return json.loads(proc.stdout)

    def kill(self, cid: str, signal: str = "TERM") -> None:
        """`kill`: send `signal` to the container's first process."""
        self._run("kill", cid, signal)

    def delete(self, cid: str, force: bool = False) -> None:
        """`delete`: remove a stopped container (with `force`, kill it first)."""
        self._run("delete", *(["--force"] if force else []), cid)

    def exec(self, cid: str, *cmd: str) -> str:
        """`exec`: run `cmd` in the running container; returns what it printed."""
        return self._run("exec", cid, *cmd).stdout

    def run(self, cid: str, bundle: str | os.PathLike, timeout: int = 60) -> subprocess.CompletedProcess:
        """`run` in the foreground: create, start, wait, delete in one verb; stdout and stderr captured."""
        return self._run("run", "--bundle", str(bundle), cid, check=False, timeout=timeout)

    def ps(self, cid: str) -> list[int]:
        """`ps`: the host pids of the container's processes."""
        return json.loads(self._run("ps", "--format", "json", cid).stdout or "[]") or []

    def list(self) -> list[dict]:
        """`list`: every container under this root."""
        proc = self._run("list", "--format", "json", check=False, quiet=True)
        if proc.returncode != 0:
            return []
        return json.loads(proc.stdout or "null") or []

    def wait_exec(self, cid: str, timeout: float = 10.0) -> bool:
        """After `start`: wait until the container's first process has become the program of process.args.

        `start` returns once it has told the runtime's init to go on; the execve (and the
        startContainer hooks just before it) happen a moment later, in the container.
        """
        from labkit.kernel import procfs        # lazily: labkit.kernel loads libc, which driving runc never needs

        deadline = time.monotonic() + timeout
        while True:
            st = self.state(cid) or {}
            try:
                args = json.loads((Path(st["bundle"]) / "config.json").read_text())["process"]["args"]
                if procfs.cmdline(st["pid"]) == args:
                    return True
            except (KeyError, OSError, ValueError):
                pass
            if st.get("status") == "stopped" or time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def wait(self, cid: str, status: str, timeout: float = 10.0) -> dict | None:
        """Poll `state` until the container reaches `status`; returns the last state seen."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.state(cid)
            if (st or {}).get("status") == status or time.monotonic() > deadline:
                return st
            time.sleep(0.05)


def message(output: str) -> str:
    """A runtime's error in its own words: runc's last `msg="..."`, or crun's last line."""
    found = _RUNC_MSG.findall(output)
    if found:
        return found[-1].replace('\\"', '"')
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            return line
        if isinstance(entry, dict) and entry.get("msg"):
            return entry["msg"]
    return "(it printed nothing)"
