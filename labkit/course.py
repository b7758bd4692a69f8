"""The course itself: its lessons in order, their index, and student copies."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


SOLUTION_MARK = "# --- solution ---"


def execute(path: Path, timeout: int = 900) -> None:
    """Run a notebook top to bottom in place, storing fresh outputs (how lessons' outputs are made)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)


def student_copy(src: Path, dest: Path) -> int:
    """Write `src` to `dest` with every solution cell cut at its solution mark; returns how many."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    blanked = 0
    for cell in nb.cells:
        if "solution" in cell.metadata.get("tags", []):
            cell.source = cell.source.split(SOLUTION_MARK)[0].rstrip() + "\n"
            cell.outputs, cell.execution_count = [], None
            blanked += 1
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return blanked
