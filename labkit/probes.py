"""`labkit doctor`: every probe of this machine the course relies on, each failing row with its fix."""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import escape
from pathlib import Path

from labkit import cgroups, config, marks

INSTALL = "Run the README's set-up command (`sudo ./lab open`), which installs it"


@dataclass
class Row:
    """One probe: what was checked, whether it passed, what was seen, how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


# name -> (argv that prints a version, where the version is, needed from lesson)
TOOLS: dict[str, tuple[list[str], str]] = {
    "docker": (["docker", "--version"], "00"),
    "dockerd": (["dockerd", "--version"], "00"),
    "containerd": (["containerd", "--version"], "00"),
    "ctr": (["ctr", "--version"], "03"),
    "containerd-shim-runc-v2": (["containerd-shim-runc-v2", "-v"], "00"),
    "runc": (["runc", "--version"], "06"),
    "crun": (["crun", "--version"], "06"),
    "conmon": (["conmon", "--version"], "04"),
    "umoci": (["umoci", "--version"], "05"),
    "skopeo": (["skopeo", "--version"], "05"),
    "docker-registry": (["docker-registry", "--version"], "00"),
    "busybox": (["busybox"], "00"),
    "dot": (["dot", "-V"], "00"),
    "gcc": (["gcc", "--version"], "00"),
    "ip": (["ip", "-V"], "07"),
    "unshare": (["unshare", "--version"], "07"),
    "nsenter": (["nsenter", "--version"], "07"),
    "ipcmk": (["ipcmk", "--version"], "07"),
}
_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?(?:[~+-][\w.~+-]*)?")


def tool_row(name: str) -> Row:
    """Is `name` on PATH, and which version."""
    argv, lesson = TOOLS[name]
    path = shutil.which(argv[0])
    if path is None:
        return Row(name, False, "not found", f"{INSTALL} (needed from lesson {lesson})")
    try:
        # A generous bound: on a loaded or emulated VM, dockerd's 80 MB binary alone can take 10 s to start.
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        found = _VERSION.search(proc.stdout + proc.stderr)
    except (OSError, subprocess.TimeoutExpired) as err:
        return Row(name, False, f"{path} does not run: {err}", INSTALL)
    return Row(name, True, f"{found.group(0) if found else '?'}  ({path})")


def cni_row() -> Row:
    """The CNI plugins the lab's pods use."""
    missing = [p for p in ("bridge", "host-local", "loopback") if not (config.CNI_BIN_DIR / p).exists()]
    if missing:
        return Row("CNI plugins", False, f"missing in {config.CNI_BIN_DIR}: {', '.join(missing)}", INSTALL)
    return Row("CNI plugins", True, f"bridge, host-local, loopback in {config.CNI_BIN_DIR}")


def root_row() -> Row:
    if os.geteuid() == 0:
        return Row("root", True, "running as root")
    return Row("root", False, f"running as uid {os.geteuid()}",
               "The lab makes namespaces, mounts and cgroups: start JupyterLab as root (`sudo ./lab open`)")


def kernel_row() -> Row:
    release = platform.release()
    major, minor = (int(x) for x in re.match(r"(\d+)\.(\d+)", release).groups())
    ok = (major, minor) >= (5, 4)
    return Row("kernel", ok, f"Linux {release}", "" if ok else "The lessons need Linux 5.4 or newer (time namespaces, cgroup v2)")


def cgroup_row() -> Row:
    where = cgroups.controllers()
    mode = cgroups.mode()
    need = ("memory", "pids", "cpu")
    missing = [c for c in need if c not in where]
    detail = f"{mode}: " + ", ".join(f"{c} at {where[c]}" for c in need if c in where)
    if missing:
        return Row("cgroups", False, f"{detail}; missing {', '.join(missing)}",
                   "Boot with the missing controllers enabled (lesson 08 needs memory, pids and cpu)")
    return Row("cgroups", True, detail)


def userns_row() -> Row:
    try:
        limit = int(Path("/proc/sys/user/max_user_namespaces").read_text())
    except OSError:
        limit = 0
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "id", "-u"], capture_output=True, text=True)
    ok = limit > 0 and proc.stdout.strip() == "0"
    detail = f"max_user_namespaces={limit}" + ("; a user namespace maps uid 0" if ok else f"; unshare: {proc.stderr.strip()}")
    return Row("user namespaces", ok, detail, "" if ok else "Set `sysctl user.max_user_namespaces=15000` (lesson 07)")


def overlay_row() -> Row:
    ok = "overlay" in Path("/proc/filesystems").read_text().split()
    return Row("overlayfs", ok, "in /proc/filesystems" if ok else "not in /proc/filesystems",
               "" if ok else "Load it with `modprobe overlay`")


def engine_rows() -> list[Row]:
    from labkit.engine import status

    fix = "Start the engine with `labkit up` (or run notebook 00)"
    return [
        Row(f"lab {r.name}", r.ready, r.endpoint if r.ready else ("running, not answering" if r.pid else "not running"),
            "" if r.ready else fix)
        for r in status().rows
    ]


def images_row() -> Row:
    from labkit import images

    if not (config.DOCKER_SOCK.exists()):
        return Row("lab images", False, "the lab dockerd is not running", "Start the engine first: `labkit up`")
    if not os.access(config.DOCKER_SOCK, os.R_OK | os.W_OK):
        return Row("lab images", False, f"out of reach: the lab dockerd's socket is root's, and this is uid {os.geteuid()}",
                   "Start JupyterLab as root (`sudo ./lab open`)")
    try:
        from labkit.engine import docker_client

        client = docker_client()
        have = {t for i in client.images.list() for t in i.tags}
    except Exception:           # any failure to ask is itself the finding; its text is the engine's log's
        return Row("lab images", False, "the lab dockerd does not answer", "Start the engine again: `labkit up`")
    missing = [n for n in images.names() if images.recipe(n).tag not in have]
    if missing:
        return Row("lab images", False, f"missing: {', '.join(missing)}", "Build them with `labkit images build`")
    return Row("lab images", True, ", ".join(images.names()))


class Report:
    """The doctor's findings; a table in a notebook, plain text in a terminal."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows if r.required)

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.rows if not r.ok]

    def __getitem__(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)

    def summary(self) -> str:
        """One stable line: how many checks pass, and which do not."""
        bad = self.failures
        if not bad:
            return f"all {len(self.rows)} checks pass"
        return f"{len(self.rows) - len(bad)} of {len(self.rows)} checks pass; failing: {', '.join(r.name for r in bad)}"

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        width = max(len(r.name) for r in self.rows)
        lines = []
        for r in self.rows:
            lines.append(f"{'ok ' if r.ok else 'BAD'} {r.name:<{width}}  {r.detail}")
            if not r.ok and r.fix:
                lines.append(f"    {'':<{width}}  → {r.fix}")
        return "\n".join(lines + [self.summary()])

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td>{marks.html(r.ok)}</td><td>{escape(r.name)}</td><td><code>{escape(r.detail)}</code></td>"
            f"<td>{escape(r.fix)}</td></tr>"
            for r in self.rows
        )
        return (f"<table><tr><th></th><th>check</th><th>seen</th><th>fix</th></tr>{body}</table>"
                f"<p>{escape(self.summary())}</p>")


def doctor(engine: bool = True) -> Report:
    """Probe this machine; with `engine`, also the lab daemons and images."""
    probes = [root_row, kernel_row, cgroup_row, userns_row, overlay_row, cni_row]
    with ThreadPoolExecutor(max_workers=8) as pool:
        tools = list(pool.map(tool_row, TOOLS))
    rows = [p() for p in probes] + tools
    if engine:
        rows += engine_rows() + [images_row()]
    return Report(rows)
