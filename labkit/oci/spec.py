"""The OCI runtime spec: a bundle is a directory holding config.json and the root filesystem.

`config()` builds a config.json a runtime (runc, crun, the course's labrun) runs as is;
`problems()` / `validate()` check one against the parts of the spec a runtime relies on
(https://github.com/opencontainers/runtime-spec/blob/main/config.md); `write_bundle()`
writes one whole or not at all; `rootfs_from_image()` fills a bundle's rootfs from a lab image.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

from labkit import config as lab
from labkit import owned
from labkit.errors import LabError

OCI_VERSION = "1.0.2"
NAMESPACES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CAPABILITIES = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]   # what `runc spec` grants

MOUNTS = [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
]
MASKED_PATHS = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def default_namespaces() -> tuple[str, ...]:
    """The namespaces of `runc spec`'s template: runc adds a cgroup namespace on a cgroup v2 host only
    (libcontainer/specconv.Example)."""
    from labkit import cgroups

    base = ("pid", "network", "ipc", "uts", "mount")
    return base + ("cgroup",) if cgroups.mode() == "v2" else base


def config(args: list[str], *, hostname: str = "lab", cgroups_path: str | None = None, readonly: bool = False,
           terminal: bool = False, env: list[str] | None = None, cwd: str = "/",
           namespaces: tuple[str, ...] | None = None,
           hooks: dict[str, list[dict]] | None = None, mounts: list[dict] | None = None) -> dict:
    """A config.json for a container running `args` in the bundle's ./rootfs, as a dict.

    `namespaces` defaults to `runc spec`'s: pid, network, ipc, uts, mount, and cgroup on a cgroup v2 host.
    """
    if namespaces is None:
        namespaces = default_namespaces()
    cfg: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": [PATH_ENV] + list(env or []),
            "cwd": cwd,
            "capabilities": {k: list(CAPABILITIES) for k in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": readonly},
        "hostname": hostname,
        "mounts": copy.deepcopy(MOUNTS) + copy.deepcopy(mounts or []),
        "linux": {
            "namespaces": [{"type": ns} for ns in namespaces],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }
    if cgroups_path is not None:
        cfg["linux"]["cgroupsPath"] = cgroups_path
    if hooks:
        cfg["hooks"] = copy.deepcopy(hooks)
    problems_found = problems(cfg)
    if problems_found:
        raise LabError("This config would not run", "; ".join(problems_found), "Fix the arguments to spec.config()")
    return cfg


def hook(path: str, args: list[str] | None = None, env: list[str] | None = None,
         timeout: int | None = None, lesson: str | None = None) -> dict:
    """One hook entry: the runtime runs `path` with `args`, the container's state JSON on stdin."""
    entry: dict[str, Any] = {"path": path, "args": list(args or [Path(path).name]), "env": list(env or [])}
    if lesson is not None:      # a hook spawned for a lesson carries its mark, so `labkit clean` finds it
        entry["env"].append(f"{lab.OWNER_ENV}={int(lesson):02d}")
    if timeout is not None:
        entry["timeout"] = timeout
    return entry


def problems(cfg: object, bundle: str | os.PathLike | None = None) -> list[str]:
    """Everything in `cfg` a runtime would refuse (with `bundle`, also what is missing on disk)."""
    if not isinstance(cfg, dict):
        return [f"config.json holds a JSON object, not {type(cfg).__name__}"]
    found = []
    if not isinstance(cfg.get("ociVersion"), str):
        found.append("ociVersion is missing (a string such as '1.0.2')")
    found += _process_problems(cfg.get("process"))
    root = cfg.get("root")
    if not isinstance(root, dict) or not isinstance(root.get("path"), str) or not root["path"]:
        found.append("root.path is missing (the rootfs directory, relative to the bundle)")
    elif "readonly" in root and not isinstance(root["readonly"], bool):
        found.append(f"root.readonly must be true or false, not {root['readonly']!r}")
    for i, m in enumerate(cfg.get("mounts", [])):
        if not isinstance(m, dict) or not str(m.get("destination", "")).startswith("/"):
            found.append(f"mounts[{i}].destination must be an absolute path inside the container")
        elif not isinstance(m.get("options", []), list):
            found.append(f"mounts[{i}].options must be a list of strings")
    found += _linux_problems(cfg.get("linux", {}))
    found += _hook_problems(cfg.get("hooks", {}))
    if bundle is not None and isinstance(root, dict) and isinstance(root.get("path"), str) and root["path"]:
        rootfs = Path(bundle) / root["path"]
        if not rootfs.is_dir():
            found.append(f"root.path {root['path']!r} is not a directory in the bundle ({rootfs})")
        else:
            proc = cfg.get("process")
            args = proc.get("args") if isinstance(proc, dict) else None
            argv0 = args[0] if isinstance(args, list) and args else None
            if isinstance(argv0, str) and argv0.startswith("/") and not os.path.lexists(rootfs / argv0.lstrip("/")):
                found.append(f"process.args[0] {argv0!r} does not exist in the rootfs")
    return found


def _process_problems(proc: object) -> list[str]:
    if not isinstance(proc, dict):
        return ["process is missing (what to run: args, cwd, user)"]
    found = []
    args = proc.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        found.append("process.args must be a non-empty list of strings (argv of the container's first process)")
    if not str(proc.get("cwd", "")).startswith("/"):
        found.append("process.cwd must be an absolute path")
    if not all(isinstance(e, str) and "=" in e for e in proc.get("env", [])):
        found.append("process.env entries are 'NAME=value' strings")
    if "terminal" in proc and not isinstance(proc["terminal"], bool):
        found.append("process.terminal must be true or false")
    user = proc.get("user", {"uid": 0, "gid": 0})
    if not isinstance(user, dict) or not isinstance(user.get("uid"), int) or not isinstance(user.get("gid"), int):
        found.append("process.user needs integer uid and gid")
    return found


def _linux_problems(linux: object) -> list[str]:
    if not isinstance(linux, dict):
        return ["linux must be an object"]
    found = []
    seen = set()
    for ns in linux.get("namespaces", []):
        kind = ns.get("type") if isinstance(ns, dict) else ns
        if kind not in NAMESPACES:
            found.append(f"namespace type {kind!r} is not one of {', '.join(NAMESPACES)}")
        elif kind in seen:
            found.append(f"namespace {kind!r} is listed twice")
        seen.add(kind)
    path = linux.get("cgroupsPath")
    if path is not None and (not isinstance(path, str) or not path or ".." in path.split("/")):
        found.append(f"linux.cgroupsPath {path!r} must be a path such as '/lab-06-demo', without '..'")
    for key in ("maskedPaths", "readonlyPaths"):
        if not all(isinstance(p, str) and p.startswith("/") for p in linux.get(key, [])):
            found.append(f"linux.{key} holds absolute paths")
    return found


def _hook_problems(hooks: object) -> list[str]:
    if not isinstance(hooks, dict):
        return ["hooks must be an object: hook name -> list of hooks"]
    found = []
    for name, entries in hooks.items():
        if name not in HOOKS:
            found.append(f"hooks.{name} is not a hook; the spec has {', '.join(HOOKS)}")
            continue
        for i, h in enumerate(entries if isinstance(entries, list) else [entries]):
            if not isinstance(h, dict) or not str(h.get("path", "")).startswith("/"):
                found.append(f"hooks.{name}[{i}].path must be an absolute path")
    return found


def validate(cfg: object, bundle: str | os.PathLike | None = None) -> None:
    """Raise a LabError listing every problem `problems()` finds; return quietly when there is none."""
    found = problems(cfg, bundle)
    if found:
        raise LabError(f"config.json is not valid ({len(found)} problem{'s' * (len(found) > 1)})",
                       "; ".join(found), "Fix those fields: the runtime spec's config.md says what each one holds")


def load(bundle: str | os.PathLike) -> dict:
    """A bundle's config.json, parsed."""
    path = Path(bundle) / "config.json"
    try:
        return json.loads(path.read_text())
    except OSError as err:
        raise LabError(f"Cannot read {path}", err.strerror or str(err), "A bundle is a directory with config.json and rootfs/") from None
    except ValueError as err:
        raise LabError(f"{path} is not JSON", str(err), "Write it with json.dump") from None


def write_bundle(bundle: str | os.PathLike, cfg: dict) -> Path:
    """Validate `cfg` against the bundle, then write bundle/config.json whole; returns its path."""
    bundle = Path(bundle)
    if not bundle.is_dir():
        raise LabError(f"There is no bundle directory {bundle}", "", "Make it and its rootfs first (rootfs_from_image)")
    validate(cfg, bundle)
    if cfg.get("linux", {}).get("cgroupsPath"):      # the runtime makes it; clean must know it is ours
        owned.mark("cgroup", cfg["linux"]["cgroupsPath"])
    target = bundle / "config.json"
    fd, tmp = tempfile.mkstemp(dir=bundle, prefix=".config.json.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f, indent=2)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def rootfs_from_image(image: str, dest: str | os.PathLike, lesson: str | None = None) -> Path:
    """Fill the empty directory `dest` with the files of lab image `image`: create a container, copy
    its "/." out (`docker cp CONTAINER:/. -`), remove it."""
    from contextlib import closing

    from labkit.engine import docker_client, docker_errors

    dest = Path(dest)
    # The short-lived container is named like everything a lesson makes, so `labkit clean` finds a leftover.
    name = lab.lab_name(f"rootfs-{os.getpid()}-{time.monotonic_ns() % 10**6}", lesson)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise LabError(f"Cannot unpack a rootfs into {dest}", "it exists and is not empty", "Remove it first, or pick a new path")
    try:
        client = docker_client(timeout=60)
    except docker_errors() as err:
        raise _cannot_make(image, err) from None
    with closing(client):
        try:
            # create_container never pulls (`docker create --pull never`): a missing image is an error.
            cid = client.api.create_container(image, name=name)["Id"]
        except docker_errors() as err:
            raise _cannot_make(image, err) from None
        created = not dest.exists()
        try:
            dest.mkdir(parents=True, exist_ok=True)
            # Not `docker export`: Docker 26 leaves the exported container's overlay mounted after
            # `docker rm` (moby/moby#48516); the archive endpoint unmounts it. "/." names members "./bin", ...
            try:
                stream, _ = client.api.get_archive(cid, "/.")
                err = _untar(stream, dest)
            except docker_errors() as failed:
                err = _daemon_says(failed)
            if err:
                raise LabError(f"Copying the files of {image} into {dest} failed", err, "Check `labkit status`")
        except BaseException:
            # Nothing half-made: the partial rootfs goes (and the directory too, if this call made it).
            if created:
                shutil.rmtree(dest, ignore_errors=True)
            else:
                for p in dest.iterdir():
                    _remove(p)
            raise
        finally:
            try:
                client.api.remove_container(cid, force=True)
            except docker_errors():
                pass        # as `docker rm` did: a leftover carries a lab name, `labkit clean` takes it
    # A container's files include the marker Docker made in it (.dockerenv); a bundle does not need it.
    (dest / ".dockerenv").unlink(missing_ok=True)
    return dest


def _cannot_make(image: str, err: Exception) -> LabError:
    return LabError(f"Cannot make a container of {image}", _daemon_says(err),
                    "Lab images are built with `labkit images build`; nothing is pulled from the internet")


def _daemon_says(err: Exception) -> str:
    # dockerd's own words when it answered (what the CLI printed), else the SDK's (socket, timeout).
    return getattr(err, "explanation", None) or str(err)


def _untar(chunks: Iterable[bytes], dest: Path) -> str:
    """Unpack the tar stream `chunks` into `dest`; '' when tar succeeded, else what it said."""
    # GNU tar unpacks it as root does: owners, modes and absolute symlinks kept as they are.
    # Its stderr goes to a file, not a pipe nobody reads while we write its stdin.
    with tempfile.TemporaryFile() as said:
        tar = subprocess.Popen(["tar", "-C", str(dest), "--numeric-owner", "-xf", "-"],
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=said)
        try:
            for chunk in chunks:
                tar.stdin.write(chunk)
        except BrokenPipeError:
            pass            # tar stopped reading: its stderr says why
        finally:
            try:
                tar.stdin.close()
            except BrokenPipeError:
                pass
            tar.wait()
        said.seek(0)
        return "" if tar.returncode == 0 else said.read().decode(errors="replace").strip() or f"tar exited {tar.returncode}"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def differences(a: object, b: object, where: str = "") -> list[str]:
    """Where two configs differ, one line per differing field ('process.terminal: True -> False')."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            sub = f"{where}.{key}" if where else key
            if key not in a:
                out.append(f"{sub}: only in the second")
            elif key not in b:
                out.append(f"{sub}: only in the first")
            else:
                out += differences(a[key], b[key], sub)
        return out
    if a != b:
        if isinstance(a, list) and isinstance(b, list):
            return [f"{where}: {len(a)} entries -> {len(b)} entries" if len(a) != len(b) else f"{where}: entries differ"]
        return [f"{where}: {a!r} -> {b!r}"]
    return []
