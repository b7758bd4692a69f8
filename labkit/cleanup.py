"""`labkit clean`: remove everything lessons made, and nothing else.

For the learner whose kernel died mid-lesson: one command back to a clean machine.
The engine itself (its daemons, bridges, images) stays. What is the course's:
- in the lab's own daemons (containers, pods, images, registry repositories): all of it;
- on the host: network namespaces, interfaces and cgroups that labkit marked as it made
  them (labkit.owned), mounts below the course's own directories, and processes carrying
  ``LABKIT_LESSON=NN`` in their environment.
A lesson names what it makes ``lab-NN-*`` (labkit.config.lab_name), so ``clean("NN")``
removes one lesson's things; ``clean()`` all of them and every container in the lab dockerd.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

from labkit import cgroups as cg
from labkit import config, inventory, owned


class Cleaned(dict):
    """kind -> names removed; prints as one line a kind."""

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        done = {k: v for k, v in self.items() if v}
        if not done:
            return "nothing to clean: the machine holds nothing a lesson made"
        return "\n".join(f"removed {len(v)} {k}: {', '.join(sorted(v))}" for k, v in done.items())


def clean(lesson: str | None = None) -> Cleaned:
    """Remove what lessons made (only lesson `lesson`'s, when given): containers, pods,
    processes, cgroups, mounts, network namespaces, interfaces."""
    from labkit.engine import need_root

    need_root("`labkit clean`")
    prefix = config.lab_prefix(lesson)
    out = Cleaned()
    out["daemons started again"] = _daemons()
    # A containerd just started again takes dockerd a moment to reconnect to: removals fail till then.
    out["containers"] = _docker_containers(prefix, everything=lesson is None,
                                           patience=20.0 if out["daemons started again"] else 0.0)
    out["images"] = _docker_images(prefix, lesson)
    out["registry repositories"] = _registry_repositories(prefix)
    out["pods"] = _pods(prefix)
    out["containerd containers"] = _containerd(prefix)
    out["runtime containers"] = _runtime_containers(prefix)
    out["processes"] = _processes(lesson)
    out["cgroups"] = _cgroups(prefix)
    out["mounts"] = _mounts(prefix)
    out["network namespaces"] = _netns(prefix)
    out["interfaces"] = _interfaces(prefix)
    out["scratch"] = _scratch(prefix)
    return out


def _daemons() -> list[str]:
    # A lesson that stops a daemon on purpose (03 restarts containerd) and dies before it starts it
    # again leaves the engine half up; a wholly stopped engine is the learner's choice (`labkit down`).
    from labkit import engine

    rows = engine.status().rows
    down = [r.name for r in rows if not r.ready]
    if not down or len(down) == len(rows):
        return []
    engine.up()
    return down


def _docker_containers(prefix: str, everything: bool, patience: float = 0.0) -> list[str]:
    # The engine itself runs no container: with no lesson named, all of them are lessons'.
    names = sorted(n for n in inventory.containers() if everything or n.startswith(prefix))
    left, deadline = set(names), time.monotonic() + patience
    while left:
        _docker_each(sorted(left), lambda client, name: client.api.remove_container(name, v=True, force=True))
        left &= inventory.containers()
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.5)          # refused: try again while the caller's patience lasts
    return [n for n in names if n not in left]      # only what is really gone


def _docker_images(prefix: str, lesson: str | None) -> list[str]:
    # A lesson's images carry its label (LABEL org.labkit.lesson=NN) or a lab-NN- name.
    label = config.LABEL if lesson is None else f"{config.LABEL}={int(lesson):02d}"
    labelled = inventory.from_docker(lambda client: client.api.images(quiet=True, filters={"label": label}), [])
    named = [line.split()[1] for line in inventory.images()
             if line.split()[1].startswith((prefix, f"{config.REGISTRY}/{prefix}"))]
    gone = sorted(set(labelled) | set(named))
    if gone:
        _docker_each(gone, lambda client, ref: client.images.remove(ref, force=True))
    if lesson is None:
        gone += _dangling_images()
    return gone


def _dangling_images() -> list[str]:
    # A `docker build` killed midway leaves its steps' images untagged and unlabelled. The engine's
    # own images are loaded whole (labkit.repro), so any untagged image of the lab dockerd is a lesson's.
    def dangling() -> set[str]:
        return set(inventory.from_docker(lambda client: client.api.images(quiet=True, filters={"dangling": True}), []))

    before = dangling()
    if before:
        inventory.from_docker(lambda client: client.images.prune(filters={"dangling": True}), None)
    return sorted(before - dangling())


def _docker_each(names: list[str], remove: Callable[[Any, str], object]) -> None:
    # One by one, a refusal skipped, as `docker rm a b` goes on past a: callers re-list to learn
    # what went. An engine that stops answering ends the loop (from_docker swallows that too).
    def each(client: Any) -> None:
        import docker

        for name in names:
            try:
                remove(client, name)
            except docker.errors.APIError:
                pass

    inventory.from_docker(each, None)


def _registry_repositories(prefix: str) -> list[str]:
    from labkit.oci import registry

    repos = sorted(r for r in inventory.registry() if r.startswith(prefix))
    for repo in repos:
        registry.remove_repository(repo)
    return repos


def _pods(prefix: str) -> list[str]:
    if not config.CONTAINERD_SOCK.exists():
        return []
    from labkit.cri import CRI

    with CRI() as cri:
        pods = [p for p in cri.pods() if p.metadata.name.startswith(prefix)]
        for pod in pods:
            cri.remove_pod(pod.id)
    return [p.metadata.name for p in pods]


def _containerd(prefix: str) -> list[str]:
    # Docker's (moby) and the CRI's (k8s.io) are handled through their own APIs above.
    removed = []
    for ns in inventory.ctr("namespaces", "list", "-q").split():
        if ns in ("moby", config.K8S_NAMESPACE):
            continue
        if ns.startswith(prefix):      # a lesson's own namespace: everything in it goes
            from labkit.containerd import remove_namespace

            remove_namespace(ns)
            removed.append(f"{ns}/")
            continue
        for task in inventory.ctr("-n", ns, "tasks", "list", "-q").split():
            if task.startswith(prefix):
                inventory.ctr("-n", ns, "tasks", "delete", "--force", task)
        for cid in inventory.ctr("-n", ns, "containers", "list", "-q").split():
            if cid.startswith(prefix):
                inventory.ctr("-n", ns, "containers", "delete", cid)
                removed.append(f"{ns}/{cid}")
        _remove_empty_cgroup(ns)     # containerd made /<namespace> in each hierarchy
    return removed


def _remove_empty_cgroup(name: str) -> None:
    # Absent, or still in use by something that is not ours, it stays.
    for point, _fstype, _ctrls in cg.mounts():
        cg.remove_dir(os.path.join(point, name))


def _runtime_containers(prefix: str) -> list[str]:
    removed = []
    for runtime, root in (("runc", config.RUNC_ROOT), ("crun", config.RUN / "crun"),
                          (str(config.LABRUN), config.LABRUN_ROOT)):
        if not root.exists() or shutil.which(runtime) is None:
            continue
        ids = subprocess.run([runtime, "--root", str(root), "list", "-q"], capture_output=True, text=True).stdout
        for cid in ids.split():
            if cid.startswith(prefix):
                _quiet([runtime, "--root", str(root), "delete", "--force", cid])
                removed.append(f"{Path(runtime).name}/{cid}")
    return removed


def _processes(lesson: str | None) -> list[str]:
    pids = inventory.lab_owned_pids(lesson)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return [str(p) for p in pids]


def _cgroups(prefix: str) -> list[str]:
    names = owned.marked("cgroup", prefix)
    hierarchies = cg.mounts()
    groups = [(fstype, d) for point, fstype, _ in hierarchies for name in names
              for d in _tree(os.path.join(point, name))]
    # Thaw everywhere first: on v1 the freezer is its own hierarchy, and a frozen task holds
    # its memory and cpu directories too until it can act on SIGKILL.
    for _fstype, d in groups:
        _thaw(Path(d))
    removed = []
    for fstype, d in sorted(groups, key=lambda g: len(g[1]), reverse=True):   # children first
        _empty_cgroup(Path(d), fstype)
        try:
            os.rmdir(d)
            removed.append(d)
        except OSError:
            pass
    for name in names:
        if not any(os.path.isdir(os.path.join(point, name)) for point, _, _ in hierarchies):
            owned.unmark("cgroup", name)
    return removed


def _tree(top: str) -> list[str]:
    """`top` and every directory below it, if it exists."""
    if not os.path.isdir(top):
        return []
    return [top] + [os.path.join(root, d) for root, dirs, _ in os.walk(top) for d in dirs]


def _thaw(path: Path) -> None:
    for knob, value in (("cgroup.freeze", "0"), ("freezer.state", "THAWED")):
        if (path / knob).exists():
            _write(path / knob, value)


def _empty_cgroup(path: Path, fstype: str) -> None:
    if fstype == "cgroup2" and (path / "cgroup.kill").exists():
        _write(path / "cgroup.kill", "1")
    for _ in range(50):
        try:
            pids = (path / "cgroup.procs").read_text().split()
        except OSError:
            return
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError:
        pass


def _mounts(prefix: str) -> list[str]:
    # Only below the course's own directories (scratch, engine state), where lessons mount things.
    points = [p for p in inventory.mounts() for root in (config.RUN, config.STATE)
              if Path(p).is_relative_to(root) and any(part.startswith(prefix) for part in Path(p).relative_to(root).parts)]
    for point in sorted(points, key=len, reverse=True):
        _quiet(["umount", "--lazy", point])
    return points


def _remove_marked(kind: str, prefix: str, present: Callable[[], set[str]], delete: list[str]) -> list[str]:
    """Delete (`delete` + name) each marked `kind` that is present; forget the marks of what is
    gone; return only what really went."""
    marked = owned.marked(kind, prefix)
    names = sorted(marked & present())
    for name in names:
        _quiet([*delete, name])
    left = present()
    for name in marked - left:
        owned.unmark(kind, name)
    return [n for n in names if n not in left]


def _netns(prefix: str) -> list[str]:
    names = _remove_marked("netns", prefix, inventory.netns, ["ip", "netns", "delete"])
    # The first `ip netns add` bind-mounts /run/netns onto itself; undo that once it is empty.
    if "/run/netns" in inventory.mounts() and not inventory.netns():
        _quiet(["umount", "/run/netns"])
    return names


def _interfaces(prefix: str) -> list[str]:
    return _remove_marked("interface", prefix, inventory.interfaces, ["ip", "link", "delete"])


def _scratch(prefix: str) -> list[str]:
    if not config.SCRATCH.exists():
        return []
    gone = [p for p in config.SCRATCH.iterdir() if p.name.startswith(prefix)]
    for p in gone:
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() and not p.is_symlink() else p.unlink()
    return [str(p) for p in gone]


def _quiet(argv: list[str]) -> None:
    subprocess.run(argv, capture_output=True, timeout=60)
