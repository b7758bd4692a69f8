"""The course itself: its lessons in order, their index, and running them in place."""
from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from labkit import config

NOTEBOOKS = config.REPO / "notebooks"


@dataclass(frozen=True)
class Lesson:
    number: str
    slug: str
    title: str
    layer: str          # where it sits in the stack, for the course map

    @property
    def filename(self) -> str:
        return f"{self.number}-{self.slug}.ipynb"

    @property
    def path(self) -> Path:
        return NOTEBOOKS / self.filename


LESSONS = [
    Lesson("00", "setup", "Setup: the doctor, the lab engine, the map", "all"),
    Lesson("01", "docker-cli", "The Docker CLI and the Engine API", "docker"),
    Lesson("02", "images", "Images: layers, digests, registries", "docker"),
    Lesson("03", "containerd", "containerd: namespaces, snapshots, the shim", "containerd"),
    Lesson("04", "cri", "The CRI: playing the kubelet", "kubernetes"),
    Lesson("05", "oci-image", "The OCI image spec, by hand", "spec"),
    Lesson("06", "oci-runtime", "The OCI runtime spec and runc", "runtime"),
    Lesson("07", "namespaces", "Namespaces, one by one", "kernel"),
    Lesson("08", "cgroups", "cgroups v1 and v2", "kernel"),
    Lesson("09", "filesystems", "Filesystems: chroot, pivot_root, overlayfs", "kernel"),
    Lesson("10", "container-by-hand", "A container by hand", "kernel"),
    Lesson("11", "security", "Security: capabilities, seccomp, devices, escapes", "kernel"),
    Lesson("12", "your-runtime", "labrun: your own OCI runtime", "runtime"),
]


def written() -> list[Lesson]:
    """The lessons whose notebook exists, in order."""
    return [ls for ls in LESSONS if ls.path.exists()]


def lesson(number: str) -> Lesson:
    """The lesson numbered `number` ('07' or '7')."""
    return next(ls for ls in LESSONS if ls.number == f"{int(number):02d}")


def index_markdown() -> str:
    """The lesson list as a Markdown table linking each notebook."""
    lines = ["| # | lesson | layer |", "|---|---|---|"]
    for ls in LESSONS:
        title = f"[{ls.title}]({ls.filename})" if ls.path.exists() else f"{ls.title} (being written)"
        lines.append(f"| {ls.number} | {title} | {ls.layer} |")
    return "\n".join(lines)


def index_page() -> str:
    """notebooks/README.md: the page GitHub shows for notebooks/."""
    return ("# Containers, down the stack: the lessons\n\n"
            "Start with 00. (This page is `labkit course index > notebooks/README.md`.)\n\n"
            + index_markdown() + "\n")


CHECK = re.compile(r"""\bcheck\(\s*["'](\d\d\.\d+)["']""")     # a cell checking exercise NN.k


@dataclass
class Run:
    """How one lesson's run went: `labkit course run` prints one row of these."""

    lesson: Lesson
    seconds: float = 0.0
    cells: int = 0                  # code cells run
    checks: int = 0                 # exercise checks in the lesson
    passed: int = 0                 # of those, how many printed ✓
    error: str = ""                 # "cell N: Kind: message" where it stopped

    @property
    def ok(self) -> bool:
        return not self.error and self.passed == self.checks


def run(lesson: Lesson, dest: Path, timeout: int = 900, progress: Callable[[int, int], None] | None = None) -> Run:
    """Run `lesson` top to bottom in a fresh kernel and write the executed notebook to `dest` (its
    own path refreshes its stored outputs); stops at the first cell that raises."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(lesson.path, as_version=4)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    result, start = Run(lesson), time.monotonic()
    # The kernel's channels on unix sockets of a directory of its own, not on loopback TCP ports
    # (where ipykernel warns, for every lesson, that anyone on the machine could listen).
    with tempfile.TemporaryDirectory(prefix="labkit-kernel-") as sockets:
        km = KernelManager(kernel_name="python3", transport="ipc", ip=f"{sockets}/kernel")
        client = NotebookClient(nb, km=km, timeout=timeout, record_timing=False,
                                resources={"metadata": {"path": str(lesson.path.parent)}})
        try:
            with client.setup_kernel():
                for n, index in enumerate(code, start=1):
                    if progress:
                        progress(n, len(code))
                    try:
                        client.execute_cell(nb.cells[index], index)
                    except CellExecutionError as err:
                        result.error = f"cell {n} of {len(code)}: {err.ename}: {_first_line(err.evalue)}"
                        break
                    result.cells = n
        finally:
            if km.has_kernel:                    # a kernel manager handed in is the caller's to stop
                km.shutdown_kernel()
    result.seconds = time.monotonic() - start
    checks = [c for c in nb.cells if c.cell_type == "code" and CHECK.search(c.source)]
    result.checks = len(checks)
    result.passed = sum("✓" in _text(c) for c in checks)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return result


def table(runs: list[Run]) -> str:
    """The runs as a table: lesson, seconds, cells, checks passed, status."""
    lines = [f"{'lesson':<30} {'seconds':>7} {'cells':>5} {'checks':>6}  status"]
    for r in runs:
        status = "ok" if r.ok else (r.error or f"{r.checks - r.passed} check(s) not passed")
        name = f"{r.lesson.number} {r.lesson.slug}"
        lines.append(f"{name:<30} {r.seconds:>7.0f} {r.cells:>5} {f'{r.passed}/{r.checks}':>6}  {status}")
    return "\n".join(lines)


def _text(cell) -> str:
    return "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", []))


def _first_line(message: str) -> str:
    # an error's own message, without the ANSI colours IPython adds
    plain = re.sub(r"\x1b\[[0-9;]*m", "", message or "").strip()
    return plain.splitlines()[0] if plain else "(no message)"
