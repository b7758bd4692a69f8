"""The lab's container images: built offline from images/, cached by content digest.

`build()` makes each image present in three places, skipping what is already there:
the lab dockerd (tag ``labkit/NAME``), containerd's ``k8s.io`` namespace (for the CRI),
and the lab registry (``127.0.0.1:5000/labkit/NAME``).
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from labkit import config
from labkit.containerd import ctr
from labkit.errors import LabError

DIGEST_LABEL = "org.labkit.context"


@dataclass(frozen=True)
class Recipe:
    """How to turn images/NAME into a build context: host files copied in, C compiled."""

    name: str
    host_files: dict[str, str] = field(default_factory=dict)   # context path -> host path
    compile: dict[str, str] = field(default_factory=dict)      # static binary -> C source

    @property
    def context(self) -> Path:
        return config.IMAGES_DIR / self.name

    @property
    def tag(self) -> str:
        return f"labkit/{self.name}:latest"

    @property
    def parent(self) -> str | None:
        """The lab image this one is built FROM, if any."""
        for line in (self.context / "Dockerfile").read_text().splitlines():
            if line.upper().startswith("FROM ") and line.split()[1].startswith("labkit/"):
                return line.split()[1].split("/", 1)[1].split(":")[0]
        return None


RECIPES = {
    r.name: r
    for r in (
        Recipe("busybox", host_files={"busybox": "/bin/busybox"}),
        Recipe("pause", compile={"pause": "pause.c"}),
        Recipe("web"),
    )
}


def names() -> list[str]:
    """The lab images in build order (parents first)."""
    return list(RECIPES)


def recipe(name: str) -> Recipe:
    """The recipe for a lab image, or one sentence that lists the real ones."""
    short = name.removeprefix("labkit/").split(":")[0]
    if short not in RECIPES:
        raise LabError(f"There is no lab image named {name!r}", "",
                       f"The lab images are {', '.join(names())}; they are built from images/ with `labkit images build`")
    return RECIPES[short]


def context_digest(r: Recipe) -> str:
    """sha256 over everything the build reads: context files, host files, the parent's digest,
    and the code that makes the result reproducible (labkit/repro.py)."""
    from labkit import repro

    h = hashlib.sha256(Path(repro.__file__).read_bytes())
    for path in sorted(p for p in r.context.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(r.context)).encode() + b"\0" + path.read_bytes())
    for dest, src in sorted(r.host_files.items()):
        h.update(dest.encode() + b"\0" + _read_host(src))
    if r.parent:
        h.update(context_digest(recipe(r.parent)).encode())
    return "sha256:" + h.hexdigest()


def build(only: list[str] | None = None, progress: Callable[[str], None] = print) -> dict[str, str]:
    """Build, import and push the lab images that are not up to date; returns name -> image id."""
    from labkit.engine import docker_client, ensure_up

    ensure_up()
    wanted = [recipe(n).name for n in only] if only else names()
    client = docker_client(timeout=300)
    ids = {}
    for name in names():        # parents first, even when only a child was asked for
        if name not in wanted and not any(_depends(w, name) for w in wanted):
            continue
        r = RECIPES[name]
        start = time.monotonic()
        digest = context_digest(r)
        did = []
        image_id = _current(client, r, digest)
        if image_id is None:
            progress(f"{name}: building {r.tag}")
            image_id = _reproducible(client, _docker_build(client, r, digest, progress))
            did.append("built")
        if not _in_containerd(r, digest):
            progress(f"{name}: importing into containerd ({config.K8S_NAMESPACE})")
            _import_containerd(client, r, digest)
            did.append("imported")
        if not _in_registry(client, r):
            progress(f"{name}: pushing to {config.REGISTRY}")
            _push(client, r)
            did.append("pushed")
        progress(f"{name}: {', '.join(did) if did else 'up to date'} ({time.monotonic() - start:.1f} s)")
        ids[name] = image_id
    return ids


def _depends(child: str, parent: str) -> bool:
    p = RECIPES[child].parent
    return p is not None and (p == parent or _depends(p, parent))


def _read_host(src: str) -> bytes:
    try:
        return Path(src).read_bytes()
    except OSError as err:
        raise LabError(f"Cannot read {src}, which a lab image is built from", err.strerror,
                       "Run the README's set-up command to install the Debian packages") from None


def inspect(image: str) -> dict:
    """`docker inspect` of an image in the lab dockerd; one sentence when there is none."""
    import docker.errors

    from labkit.engine import docker_client

    with docker_client().api as api:
        try:
            return api.inspect_image(image)
        except docker.errors.NotFound:
            raise LabError(f"There is no image {image!r} in the lab dockerd", "",
                           f"The lab images are {', '.join(f'labkit/{n}' for n in names())} "
                           "(`labkit images build`); list all with `docker images`") from None


def _current(client, r: Recipe, digest: str) -> str | None:
    import docker.errors

    try:
        image = client.images.get(r.tag)
    except docker.errors.ImageNotFound:
        return None
    return image.id if image.labels.get(DIGEST_LABEL) == digest else None


def _docker_build(client, r: Recipe, digest: str, progress: Callable[[str], None]) -> str:
    with tempfile.TemporaryDirectory(prefix="labkit-build-") as tmp:
        ctx = Path(tmp) / r.name
        shutil.copytree(r.context, ctx)
        for dest, src in r.host_files.items():
            shutil.copy2(src, ctx / dest)
        for out, source in r.compile.items():
            _compile(ctx / source, ctx / out)
        image_id = None
        for chunk in client.api.build(path=str(ctx), tag=r.tag, labels={DIGEST_LABEL: digest},
                                      rm=True, forcerm=True, pull=False, decode=True):
            if "error" in chunk:
                raise LabError(f"Building {r.tag} failed", chunk["error"], f"Check images/{r.name}/Dockerfile")
            if chunk.get("stream", "").startswith("Step "):
                progress(f"  {chunk['stream'].rstrip()}")
            image_id = chunk.get("aux", {}).get("ID", image_id)
    return image_id or client.images.get(r.tag).id


def _reproducible(client, built_id: str) -> str:
    """Replace a freshly built image by its reproducible form (labkit.repro); returns its id."""
    from labkit import repro

    saved = b"".join(client.images.get(built_id).save(named=True))
    loaded = client.images.load(repro.normalize(saved))[0].id
    if loaded != built_id:
        client.images.remove(built_id, noprune=False)     # the build's own, time-stamped image
    return loaded


def _compile(source: Path, out: Path) -> None:
    proc = subprocess.run(["gcc", "-static", "-Os", "-Wall", "-o", str(out), str(source)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise LabError(f"Compiling {source.name} failed", proc.stderr,
                       "Install gcc and libc6-dev (the README's set-up command does)")
    subprocess.run(["strip", str(out)], capture_output=True)


def _ref(r: Recipe) -> str:
    return f"docker.io/{r.tag}"


def _in_containerd(r: Recipe, digest: str) -> bool:
    for line in ctr("images", "list", namespace=config.K8S_NAMESPACE, check=False).splitlines():
        if line.startswith(_ref(r) + " ") and f"{DIGEST_LABEL}={digest}" in line:
            return True
    return False


def _import_containerd(client, r: Recipe, digest: str) -> None:
    saved = b"".join(client.images.get(r.tag).save(named=True))     # a lab image is a few MB
    ctr("images", "import", "-", namespace=config.K8S_NAMESPACE, stdin=saved, timeout=300)
    ctr("images", "label", _ref(r), f"{DIGEST_LABEL}={digest}", namespace=config.K8S_NAMESPACE)


def _registry_ref(r: Recipe) -> str:
    return f"{config.REGISTRY}/labkit/{r.name}"


def _in_registry(client, r: Recipe) -> bool:
    from labkit.oci import registry

    repo_digests = client.images.get(r.tag).attrs.get("RepoDigests") or []
    try:
        remote = registry.manifest_digest(f"labkit/{r.name}", "latest")
    except registry.RegistryError:
        return False
    return f"{_registry_ref(r)}@{remote}" in repo_digests


def _push(client, r: Recipe) -> None:
    client.images.get(r.tag).tag(_registry_ref(r), "latest")
    for chunk in client.images.push(_registry_ref(r), "latest", stream=True, decode=True):
        if "error" in chunk:
            raise LabError(f"Pushing {r.tag} to the lab registry failed", chunk["error"], "Check `labkit status`")
