"""The workshop image: Debian 13 with the course, its venv and the lab engine, one container per learner.

Made here, never pulled. Its base is a Debian 13 root made with debootstrap straight from Debian's
archive (the root has apt sources of its own; the host's apt is not touched), holding the lessons'
Debian packages (etc/debs/lessons) and a venv with the course's Python packages. The base is keyed by
everything it is made from, so it is made once; `images/workshop/Dockerfile` then adds the course
itself, which is quick. Started privileged, the container runs `./lab open`: the lab engine inside
it, JupyterLab on port 8888.

    labkit workshop build        # on the lab engine: labkit/workshop
"""
from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

from labkit.errors import LabError

SUITE = "trixie"                               # Debian 13
MIRROR = "http://deb.debian.org/debian"
REPO = Path(__file__).resolve().parents[1]
STATE = Path("/var/lib/labkit-workshop")      # where the Debian root is made, then imported
TAG = "labkit/workshop"
BASE = "labkit/workshop-base"
VENV = "/course/.venv"
# Only in the workshop: a JupyterHub (KubeSpawner) starts each learner's server as jupyterhub-singleuser.
EXTRA_PYTHON = ["jupyterhub>=4"]
# dockerd inside the container loads its AppArmor profile when the host kernel has AppArmor on; tini is
# PID 1, reaping the orphans a container engine leaves (exited shims), which JupyterLab would not.
EXTRA_DEBS = ["python3", "ca-certificates", "apparmor", "git", "tini"]
# The lab images copy /bin/busybox into images: the workshop gets the very busybox-static this
# machine has (Debian 12's), so its lab images, and the lessons' stored sizes and digests, are the same.
PINNED_DEBS = ["busybox-static"]
BUILD_STEPS = "2"                              # bump when the steps below change what they make


def create(client, name: str, port: int, environment: dict[str, str], network: str | None = None):
    """One learner's container, made (not started) on `client`'s dockerd: privileged, in a cgroup
    namespace of its own, JupyterLab's port 8888 published on the host's 127.0.0.1:`port`.

    Where that dockerd cannot grant every capability (a host that is itself a container, like this
    course's CI machine, which lacks CAP_SYS_RESOURCE), `--privileged` fails ("runc create failed:
    unable to apply caps"): dockerd asks for all of them. There the same privileges are given one by
    one: what the bounding set allows, no seccomp or AppArmor profile, nothing of /proc or /sys masked
    (the CLI's `--security-opt systempaths=unconfined`); the start script makes the read-only cgroup
    mounts and /proc/sys writable.
    """
    from labkit.engine import dockerd
    from labkit.kernel import caps, procfs

    bounding = int(procfs.status(dockerd.daemon().pid()).get("CapBnd", "0"), 16)
    lacking = [c for i, c in enumerate(caps.CAPS) if not bounding >> i & 1]
    options: dict = {"privileged": True} if not lacking else {
        # Docker 20.10 knows no capability newer than CAP_AUDIT_READ (Linux 5.8's PERFMON, BPF, ...).
        "cap_add": [c for c in caps.CAPS[:caps.cap_value("CAP_AUDIT_READ") + 1] if c not in lacking],
        "security_opt": ["seccomp=unconfined", "apparmor=unconfined"]}
    host_config = client.api.create_host_config(cgroupns="private", port_bindings={8888: ("127.0.0.1", port)},
                                                network_mode=network, **options)
    if lacking:
        host_config.update(MaskedPaths=[], ReadonlyPaths=[])
    made = client.api.create_container(TAG, name=name, host_config=host_config, environment=environment,
                                       ports=[8888], detach=True)
    return client.containers.get(made["Id"])


def debs() -> list[str]:
    """The Debian packages of the base: the lessons' own, and what the container needs besides."""
    lines = (REPO / "etc" / "debs" / "lessons").read_text().splitlines()
    # "name?" is a package only some distributions have; Debian 13, the workshop's, has them all.
    return sorted({ln.strip().rstrip("?") for ln in lines if ln.strip() and not ln.startswith("#")} | set(EXTRA_DEBS))


def python_packages() -> list[str]:
    """The venv's packages: pyproject.toml's dependencies, setuptools (the course installs
    editable, offline, at image build), and the workshop's extras."""
    # tomllib is 3.11+, and labkit runs on 3.10: the one array of strings this needs reads as a literal.
    text = (REPO / "pyproject.toml").read_text()
    dependencies = ast.literal_eval(re.search(r"^dependencies = (\[.*?^\])", text, re.M | re.S).group(1))
    return [*dependencies, "setuptools>=61", *EXTRA_PYTHON]


def pinned_versions() -> dict[str, str]:
    """This machine's installed version of each pinned package."""
    out = {}
    for name in PINNED_DEBS:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True)
        if proc.returncode != 0 or not proc.stdout:
            raise LabError(f"{name} is not installed here, and the workshop image takes this machine's",
                           "", "Run `./lab test` (it installs the Debian packages) and build again")
        out[name] = proc.stdout
    return out


def base_key() -> str:
    """16 hex digits over everything the base is made from."""
    h = hashlib.sha256()
    for part in (SUITE, MIRROR, BUILD_STEPS, *debs(), *python_packages(), *sorted(pinned_versions().items())):
        h.update(str(part).encode() + b"\0")
    return h.hexdigest()[:16]


def build(progress: Callable[[str], None] = print) -> str:
    """Make labkit/workshop on the lab engine (its base only when that changed); returns the image id."""
    from labkit.engine import docker_client, ensure_up

    ensure_up()
    client = docker_client(timeout=1800)
    base = f"{BASE}:{base_key()}"
    if not client.images.list(name=base):
        _make_base(client, base, progress)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="labkit-workshop-") as tmp:
        ctx = Path(tmp) / "course"
        _copy_course(ctx)
        image_id = None
        for chunk in client.api.build(path=str(ctx), dockerfile="images/workshop/Dockerfile", tag=TAG,
                                      buildargs={"BASE": base}, rm=True, forcerm=True, pull=False, decode=True):
            if "error" in chunk:
                raise LabError(f"Building {TAG} failed", chunk["error"], "Check images/workshop/Dockerfile")
            image_id = chunk.get("aux", {}).get("ID", image_id)
    progress(f"workshop: {TAG} built on {base} ({time.monotonic() - start:.1f} s)")
    return image_id or client.images.get(TAG).id


def _make_base(client, base: str, progress: Callable[[str], None]) -> None:
    start = time.monotonic()
    STATE.mkdir(parents=True, exist_ok=True)
    root = STATE / "root"
    shutil.rmtree(root, ignore_errors=True)          # a half-made root from an interrupted build
    try:
        progress(f"workshop: debootstrap {SUITE} ({len(debs())} packages and what they need)")
        _run(["debootstrap", "--variant=minbase", "--include=" + ",".join(debs()), SUITE, str(root), MIRROR],
             "debootstrap")
        _pin(root)
        progress(f"workshop: a venv with {len(python_packages())} Python packages")
        _make_venv(root)
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (root / cache).glob("*"):
                p.unlink() if p.is_file() else None
        progress(f"workshop: importing {base}")
        _import(client, root, base)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for old in client.images.list(name=BASE):          # earlier bases: only the current one is used
        for tag in old.tags:
            if tag != base:
                client.images.remove(tag)
    progress(f"workshop: {base} made ({time.monotonic() - start:.0f} s)")


def _make_venv(root: Path) -> None:
    # pip in the chroot reaches the package index as this machine does: its name servers, and the
    # certificates it trusts (a proxy's own CA, where there is one), for the install only.
    shutil.copy2("/etc/resolv.conf", root / "etc" / "resolv.conf")
    host_ca = Path(os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
    ca = root / "tmp" / "labkit-host-ca.crt"
    env = {}
    if host_ca.is_file():
        shutil.copy2(host_ca, ca)
        env = {"PIP_CERT": "/tmp/labkit-host-ca.crt", "SSL_CERT_FILE": "/tmp/labkit-host-ca.crt"}
    try:
        _run(["chroot", str(root), "/usr/bin/python3", "-m", "venv", VENV], "venv")
        _run(["chroot", str(root), f"{VENV}/bin/pip", "install", "--quiet", "--disable-pip-version-check",
              "--no-cache-dir", *python_packages()], "pip", env=env)
    finally:
        ca.unlink(missing_ok=True)


def _pin(root: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="labkit-debs-") as tmp:
        wanted = [f"{n}={v}" for n, v in pinned_versions().items()]
        _run(["apt-get", "download", *wanted], "apt-get download", cwd=tmp)
        for deb in Path(tmp).glob("*.deb"):
            shutil.copy2(deb, root / "tmp" / deb.name)
            _run(["chroot", str(root), "dpkg", "-i", f"/tmp/{deb.name}"], "dpkg -i")
            (root / "tmp" / deb.name).unlink()
        _run(["chroot", str(root), "apt-mark", "hold", *PINNED_DEBS], "apt-mark hold")


def _import(client, root: Path, base: str) -> None:
    repo, tag = base.split(":")
    tar = subprocess.Popen(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-c", "."],
                           stdout=subprocess.PIPE)
    try:
        client.api.import_image_from_stream(tar.stdout, repository=repo, tag=tag)
    finally:
        tar.stdout.close()
        if tar.wait() != 0:
            # dockerd imports whatever it was given, even a cut-off stream: never keep that as the base.
            if client.images.list(name=base):
                client.images.remove(base)
            raise LabError(f"Cannot import {base}", f"tar exited {tar.returncode}", "Build it again")


def _copy_course(ctx: Path) -> None:
    """The course as committed (git's files), without this machine's venv or caches."""
    proc = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                          capture_output=True)
    if proc.returncode != 0:
        raise LabError("Cannot list the course's files", proc.stderr.decode().strip(),
                       "Build the workshop image from a git checkout of the course")
    for name in filter(None, proc.stdout.decode().split("\0")):
        src = REPO / name
        if src.is_file():
            (ctx / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, ctx / name)


def _run(argv: list[str], what: str, cwd: str | None = None, env: dict[str, str] | None = None) -> None:
    log = STATE / "build.log"
    with open(log, "a") as f:
        f.write(f"$ {' '.join(argv)}\n")
        f.flush()
        proc = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, cwd=cwd,
                              env={**os.environ, "DEBIAN_FRONTEND": "noninteractive", **(env or {})})
    if proc.returncode != 0:
        raise LabError(f"Making the workshop image failed at {what}", f"exit status {proc.returncode}",
                       f"The log is {log}")
