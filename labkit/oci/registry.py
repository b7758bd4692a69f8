"""The lab registry's HTTP API (the OCI distribution spec), spoken with nothing but urllib.

This is the one way labkit talks to the registry. Every request goes to a loopback address
through an opener that ignores proxy settings, every byte that has a digest is checked
against it, and a failure is a `RegistryError` (a `LabError`) that quotes the registry's own
error JSON. Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md
"""
from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from typing import NamedTuple, Sequence

from labkit import config
from labkit.errors import LabError

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
# What distribution 2.x converts a Docker manifest to when the Accept header does not name its
# type: a legacy, signed format whose digest is not the sha256 of the bytes sent.
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)

SPEC = "https://github.com/opencontainers/distribution-spec/blob/main/spec.md"
TIMEOUT = 30.0
PAGE = 100                       # entries asked for per page of _catalog and tags/list
_MAX_PAGES = 1000                # a registry that keeps sending "next" is not followed forever
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# The distribution spec's grammar for repository names, tags and (the digests we can verify).
_NAME = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*")
_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')

# What to do about each error code of the spec, said to a learner.
_FIXES = {
    "NAME_UNKNOWN": "List the repositories the registry holds with `registry.catalog()`",
    "MANIFEST_UNKNOWN": "List the repository's tags with `registry.tags(repo)`; a digest must be a manifest's",
    "BLOB_UNKNOWN": "Take blob digests from the repository's manifest (its config and layers)",
    "DIGEST_INVALID": "A manifest is deleted by its digest (the Docker-Content-Digest header), not by its tag",
    "UNSUPPORTED": "This registry does not allow the operation (deletes need storage.delete.enabled)",
    "MANIFEST_BLOB_UNKNOWN": "Upload every blob a manifest names before the manifest itself",
    "MANIFEST_INVALID": "The manifest does not parse as the media type sent with it",
}


class RegistryError(LabError):
    """A registry request that failed: the HTTP status and the spec's error codes, if any."""

    def __init__(self, what: str, why: str = "", fix: str = "", status: int = 0,
                 codes: tuple[str, ...] = ()) -> None:
        super().__init__(what, why, fix)
        self.status, self.codes = status, codes


class Manifest(NamedTuple):
    """A manifest as the registry sent it: its exact bytes, their digest, and their media type."""

    raw: bytes
    digest: str
    media_type: str

    def json(self) -> dict:
        """The manifest parsed (the digest is of `raw`, never of a re-serialized copy)."""
        return json.loads(self.raw)


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """The content digest of `data` ('sha256:<hex>'): how the registry names every blob."""
    if algorithm not in ("sha256", "sha512"):
        raise LabError(f"Cannot compute a {algorithm!r} digest", "", "Digests here are sha256 (or sha512)")
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def ping(registry: str = config.REGISTRY) -> str:
    """GET /v2/: proves the registry speaks the distribution API; returns its API version header."""
    headers, _ = _call("GET", registry, "/v2/")
    return headers.get("Docker-Distribution-Api-Version", "")


def catalog(registry: str = config.REGISTRY) -> list[str]:
    """Every repository the registry holds (GET /v2/_catalog, all pages)."""
    return _paged(registry, "/v2/_catalog", "repositories")


def tags(repo: str, registry: str = config.REGISTRY) -> list[str]:
    """The tags of `repo` (GET /v2/<repo>/tags/list, all pages); [] when none is left."""
    _check_repo(repo)
    return _paged(registry, f"/v2/{repo}/tags/list", "tags")


def manifest(repo: str, ref: str, accept: Sequence[str] = MANIFEST_TYPES,
             registry: str = config.REGISTRY) -> Manifest:
    """GET the manifest `repo`:`ref` (a tag or a digest), its digest checked against its bytes."""
    _check_repo(repo)
    _check_ref(ref)
    path = f"/v2/{repo}/manifests/{ref}"
    headers, raw = _call("GET", registry, path, {"Accept": ", ".join(accept)})
    media_type = (headers.get("Content-Type") or "").split(";")[0].strip()
    if media_type == SCHEMA1:
        raise RegistryError(f"The registry sent {repo}:{ref} as a legacy schema 1 manifest", f"Accept was {', '.join(accept)!r}",
                            f"Ask for its real type: the default `accept` ({', '.join(MANIFEST_TYPES)}) names them all")
    if not media_type or media_type == "application/json":
        media_type = _json(raw, path).get("mediaType", media_type)
    sent = headers.get("Docker-Content-Digest")
    expected = ref if _DIGEST.fullmatch(ref) else sent
    algorithm = expected.split(":")[0] if expected else "sha256"
    digest = digest_of(raw, algorithm)
    if expected and digest != expected:
        raise RegistryError(f"The manifest {repo}:{ref} does not match its digest", f"sent as {expected}, its bytes hash to {digest}",
                            "Something between you and the registry changed it: do not use it")
    return Manifest(raw, digest, media_type)


def manifest_digest(repo: str, ref: str, registry: str = config.REGISTRY) -> str:
    """The digest of the manifest `repo`:`ref`, from a HEAD request (nothing downloaded)."""
    _check_repo(repo)
    _check_ref(ref)
    headers, _ = _call("HEAD", registry, f"/v2/{repo}/manifests/{ref}", {"Accept": ", ".join(MANIFEST_TYPES)})
    digest = headers.get("Docker-Content-Digest")
    return digest if digest else manifest(repo, ref, registry=registry).digest


def blob(repo: str, digest: str, registry: str = config.REGISTRY) -> bytes:
    """GET the blob `digest` of `repo` (a config or a compressed layer), its bytes verified."""
    _check_repo(repo)
    _check_digest(digest)
    _, data = _call("GET", registry, f"/v2/{repo}/blobs/{digest}")
    got = digest_of(data, digest.split(":")[0])
    if got != digest:
        raise RegistryError(f"The blob {digest} of {repo} does not match its digest", f"its bytes hash to {got}",
                            "Something between you and the registry changed it: do not use it")
    return data


def has_blob(repo: str, digest: str, registry: str = config.REGISTRY) -> bool:
    """True when `repo` holds the blob `digest` (HEAD, nothing downloaded)."""
    _check_repo(repo)
    _check_digest(digest)
    try:
        _call("HEAD", registry, f"/v2/{repo}/blobs/{digest}")
    except RegistryError as err:
        if err.status == 404:
            return False
        raise
    return True


def put_blob(repo: str, data: bytes, registry: str = config.REGISTRY) -> str:
    """Upload `data` as a blob of `repo` (POST an upload, then PUT it whole); returns its digest."""
    _check_repo(repo)
    digest = digest_of(data)
    if has_blob(repo, digest, registry):
        return digest
    headers, _ = _call("POST", registry, f"/v2/{repo}/blobs/uploads/")
    location = headers.get("Location", "")
    parts = urllib.parse.urlsplit(location)
    if not parts.path.startswith("/v2/") or (parts.hostname and parts.hostname not in _LOOPBACK):
        raise RegistryError(f"The registry's upload location for {repo} is unusable", repr(location),
                            "The lab registry answers uploads on 127.0.0.1 only")
    query = urllib.parse.parse_qsl(parts.query) + [("digest", digest)]
    _call("PUT", registry, f"{parts.path}?{urllib.parse.urlencode(query)}",
          {"Content-Type": "application/octet-stream"}, data)
    return digest


def put_manifest(repo: str, ref: str, raw: bytes, media_type: str, registry: str = config.REGISTRY) -> str:
    """PUT `raw` as the manifest `repo`:`ref` (its blobs must be there); returns its digest."""
    _check_repo(repo)
    _check_ref(ref)
    headers, _ = _call("PUT", registry, f"/v2/{repo}/manifests/{ref}", {"Content-Type": media_type}, raw)
    digest = digest_of(raw)
    sent = headers.get("Docker-Content-Digest")
    if sent and sent != digest:
        raise RegistryError(f"The registry stored {repo}:{ref} under another digest", f"{sent}, not {digest}",
                            "Check the manifest's media type")
    return digest


def delete_manifest(repo: str, digest: str, registry: str = config.REGISTRY) -> None:
    """DELETE the manifest `digest` of `repo`; every tag that points at it goes with it."""
    _check_repo(repo)
    if not _DIGEST.fullmatch(digest):
        raise RegistryError(f"Cannot delete {repo}:{digest}", "the API deletes a manifest by its digest, never by a tag",
                            f"Get the digest first: `registry.manifest_digest({repo!r}, {digest!r})`")
    _call("DELETE", registry, f"/v2/{repo}/manifests/{digest}")


def remove_repository(repo: str, registry: str = config.REGISTRY) -> list[str]:
    """Remove a lesson's repository (`lab-NN-…`): its manifests through the API, then its name
    from the registry's storage. Returns the manifest digests deleted."""
    _check_repo(repo)
    if not repo.startswith(config.PREFIX):
        raise LabError(f"Refusing to remove the repository {repo!r}", "only what a lesson made (named lab-NN-…) is removed here",
                       "The lab's own images (labkit/*) are rebuilt and pushed by `labkit images build`")
    try:
        refs = tags(repo, registry)
    except RegistryError as err:
        if "NAME_UNKNOWN" not in err.codes:
            raise
        refs = []
    digests = list(dict.fromkeys(manifest_digest(repo, t, registry) for t in refs))
    for digest in digests:
        delete_manifest(repo, digest, registry)
    # The API has no call that forgets a repository's name: with its manifests gone, its
    # directory holds only links, and _catalog stops listing it once the directory is gone.
    # Blobs stay until `registry garbage-collect` runs (with the registry stopped).
    _drop_from_storage(repo)
    return digests


def next_link(header: str | None) -> str | None:
    """The path and query of the rel="next" page in a Link header (RFC 8288), if any."""
    if not header:
        return None
    match = _LINK_NEXT.search(header)
    if not match:
        return None
    parts = urllib.parse.urlsplit(match.group(1))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def error_codes(body: bytes) -> tuple[str, ...]:
    """The spec's error codes in a registry's error body ({"errors": [{"code": ...}]})."""
    try:
        errors = json.loads(body).get("errors") or []
        return tuple(str(e.get("code", "")) for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError):
        return ()


def _paged(registry: str, path: str, key: str) -> list[str]:
    items: list[str] = []
    page: str | None = f"{path}?n={PAGE}"
    for _ in range(_MAX_PAGES):
        if page is None:
            break
        headers, body = _call("GET", registry, page)
        items += _json(body, page).get(key) or []     # tags/list says "tags": null when none is left
        page = next_link(headers.get("Link"))
    return items


def _call(method: str, registry: str, path: str, headers: dict[str, str] | None = None,
          data: bytes | None = None) -> tuple[Message, bytes]:
    url = _base(registry) + path
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as response:
            return response.headers, response.read()
    except urllib.error.HTTPError as err:
        body = err.read() if method != "HEAD" else b""
        codes = error_codes(body)
        text = body.decode(errors="replace").strip()[:600] or "(no body: a HEAD answer carries none)"
        fix = next((_FIXES[c] for c in codes if c in _FIXES), f"See the error codes in {SPEC}")
        raise RegistryError(f"{method} {url} failed", f"HTTP {err.code} {text}", fix, err.code, codes) from None
    except OSError as err:       # URLError, refused, reset, timed out
        reason = getattr(err, "reason", err)
        raise RegistryError(f"The registry at {registry} does not answer {method} {path}", str(reason),
                            "Start the lab engine with `labkit up` (`labkit.up()` in a notebook)") from None


def _base(registry: str) -> str:
    host = urllib.parse.urlsplit(f"//{registry}").hostname
    if host not in _LOOPBACK:
        raise LabError(f"labkit talks only to a registry on this machine, not {registry!r}",
                       "the course never sends traffic off the machine", f"Use the lab registry, {config.REGISTRY}")
    return f"http://{registry}"


class _LoopbackRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect (a registry may send blobs elsewhere) only when it stays on loopback."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 (urllib's hook)
        if urllib.parse.urlsplit(newurl).hostname not in _LOOPBACK:
            raise LabError(f"The registry redirected {req.full_url} off this machine", newurl,
                           "labkit follows redirects on 127.0.0.1 only")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


# Loopback never goes through a proxy, whatever http_proxy says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _LoopbackRedirects())


def _json(body: bytes, path: str) -> dict:
    try:
        value = json.loads(body)
    except ValueError as err:
        raise RegistryError(f"The registry's answer to {path} is not JSON", str(err), "Is 127.0.0.1:5000 the lab registry?") from None
    return value if isinstance(value, dict) else {}


def _check_repo(repo: object) -> None:
    if isinstance(repo, str) and len(repo) <= 255 and _NAME.fullmatch(repo):
        return
    hint = "A repository is lowercase path parts, like 'labkit/web' or 'lab-02-hello'"
    if isinstance(repo, str):
        if "/" in repo and ("." in repo.split("/")[0] or ":" in repo.split("/")[0]):
            hint = f"Leave the registry out of the name: {repo.split('/', 1)[1]!r}"
        elif ":" in repo or "@" in repo:
            hint = f"Give the tag or digest as its own argument: repo {re.split('[:@]', repo)[0]!r}"
    raise LabError(f"{repo!r} is not a repository name", "", hint)


def _check_ref(ref: object) -> None:
    if isinstance(ref, str) and (_TAG.fullmatch(ref) or _DIGEST.fullmatch(ref)):
        return
    raise LabError(f"{ref!r} is neither a tag nor a digest", "",
                   "A tag is up to 128 of [A-Za-z0-9_.-]; a digest is 'sha256:' and 64 hex digits")


def _check_digest(digest: object) -> None:
    if isinstance(digest, str) and _DIGEST.fullmatch(digest):
        return
    raise LabError(f"{digest!r} is not a digest", "", "A blob is named 'sha256:' and 64 lowercase hex digits")


def _drop_from_storage(repo: str) -> None:
    repos = config.REGISTRY_ROOT / "docker" / "registry" / "v2" / "repositories"
    target = repos / repo
    if not target.exists():
        return
    import shutil

    try:
        shutil.rmtree(target)
        for parent in target.parents:          # 'lab-02-x/y': drop 'lab-02-x' too once empty
            if parent == repos or not parent.is_relative_to(repos) or any(parent.iterdir()):
                break
            parent.rmdir()
    except OSError as err:
        raise LabError(f"Cannot remove {target}", err.strerror or str(err), "Run as root (the registry's storage is root's)") from None
