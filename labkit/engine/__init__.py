"""The lab engine: the course's own containerd, dockerd and registry.

`up` starts what is not running and returns at once when all is up; `down` stops
everything and leaves no process, mount, socket or interface behind.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from labkit import config, marks
from labkit.engine import containerd, dockerd, registry
from labkit.engine.daemon import Daemon, differs, engine_lock, write_configs
from labkit.errors import LabError

if TYPE_CHECKING:
    import docker     # imported when a client is made: `import labkit` stays lean

BINARIES = ("containerd", "containerd-shim-runc-v2", "ctr", "runc", "dockerd", "docker-proxy", "docker-registry", "ip")


def daemons() -> list[Daemon]:
    """The engine's daemons in start order (dockerd needs containerd)."""
    return [containerd.daemon(), dockerd.daemon(), registry.daemon()]


def need_root(action: str) -> None:
    """Stop with one sentence when not root: the engine makes mounts, bridges and cgroups."""
    if os.geteuid() != 0:
        raise LabError(f"{action} needs root", "the lab engine makes mounts, bridges and cgroups",
                       "Run it as root, for example with `sudo`")


PARTS = (containerd, dockerd, registry)      # each writes its config and makes its daemon


def up() -> "Status":
    """Start the lab engine (a no-op when it is already up with today's configs); returns its status."""
    need_root("`labkit up`")
    if all(d.pid() and d.ready() for d in daemons()) and not _stale():
        return status()                     # the warm path: no lock, no writes
    with engine_lock():
        _restart_stale()
        _start_missing()
    return status()


def _stale() -> list[Daemon]:
    """Running daemons whose config on disk is not what this labkit writes (after an update)."""
    return [d for part, d in zip(PARTS, daemons())
            if d.pid() and any(differs(path, text) for path, text in part.configs().items())]


def _restart_stale() -> None:
    # Stopped here, started again with the new config by _start_missing (dockerd after containerd).
    for d in reversed(_stale()):
        d.stop(grace=30)


def _start_missing() -> None:
    todo = [d for d in daemons() if not (d.pid() and d.ready())]
    if not todo:
        return
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        raise LabError("The lab engine cannot start", f"missing programs: {', '.join(missing)}",
                       "Run the README's set-up command (`./lab open`) to install them")
    if len(todo) == len(daemons()):
        _clear_leftovers()       # a crash or a killed session may have left shims and mounts
    config.RUN.mkdir(parents=True, exist_ok=True)
    for part in PARTS:
        write_configs(part.configs())
    started: list[Daemon] = []
    try:
        dockerd.bridges_up()
        cgroup_parents(make=True)
        for d in todo:
            if d.name == "registry":
                registry.check_port_free()
            d.start()
            started.append(d)
    except BaseException:
        for d in reversed(started):     # never leave a half-started engine behind
            d.stop()
        if len(todo) == len(daemons()):
            dockerd.bridges_down()
        raise


def down() -> None:
    """Stop the lab engine and remove every process, mount, socket and interface it made."""
    need_root("`labkit down`")
    with engine_lock():
        _stop_all()


def _stop_all() -> None:
    cont, dock, reg = daemons()
    reg.stop()
    registry.garbage_collect()
    dock.stop(grace=30)        # dockerd stops its containers on the way out
    if cont.pid():
        _stop_workloads()
    cont.stop()
    _clear_leftovers()
    dockerd.bridges_down()
    cgroup_parents(make=False)


def cgroup_parents(make: bool) -> None:
    """Make (or remove, when empty) the engine's cgroup parents in every hierarchy.

    They belong to the engine, like its bridges: made at `up`, so that the first container or
    pod a lesson runs adds only its own group, and removed at `down`. runc enables the v2
    controllers along the path itself when it creates a container's group below them.
    """
    from labkit import cgroups

    for point, _fstype, _ctrls in cgroups.mounts():
        for name in (config.CGROUP_PARENT, config.POD_CGROUP_PARENT):
            path = os.path.join(point, name)
            if not make:
                cgroups.remove_dir(path)        # stays while something still runs below it
                continue
            try:
                os.mkdir(path)
            except FileExistsError:
                pass
            except OSError as err:
                raise LabError(f"Cannot make the lab's cgroup {path}", err.strerror,
                               "Run `labkit doctor`: it checks the cgroup hierarchy") from None


def _clear_leftovers() -> None:
    # Only when no daemon runs: what is left then belongs to no one.
    _kill_containers()
    _kill_shims()
    _unmount_under(str(config.RUN), str(config.STATE))
    shutil.rmtree(config.RUN, ignore_errors=True)


@dataclass
class Row:
    name: str
    pid: int | None
    ready: bool
    endpoint: str


@dataclass
class Status:
    """The engine's daemons: running, answering, where. Shown as a table in notebooks."""

    rows: list[Row]

    def __repr__(self) -> str:
        return str(self)

    @property
    def up(self) -> bool:
        return all(r.ready for r in self.rows)

    def __str__(self) -> str:
        lines = [f"{'daemon':<11} {'state':<10} endpoint"]
        for r in self.rows:
            state = "up" if r.ready else ("no answer" if r.pid else "down")
            lines.append(f"{r.name:<11} {state:<10} {r.endpoint}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><td>{r.name}</td><td>{marks.html(r.ready)} {'up' if r.ready else 'down'}</td><td><code>{r.endpoint}</code></td></tr>"
            for r in self.rows
        )
        return f"<table><tr><th>daemon</th><th>state</th><th>endpoint</th></tr>{cells}</table>"


def status() -> Status:
    """Which lab daemons are running and answering."""
    endpoints = [str(config.CONTAINERD_SOCK), str(config.DOCKER_SOCK), f"http://{config.REGISTRY}"]
    rows = []
    for d, ep in zip(daemons(), endpoints):
        pid = d.pid()
        rows.append(Row(d.name, pid, bool(pid) and _answers(d), ep))
    return Status(rows)


def _answers(d: Daemon, patience: float = 5.0) -> bool:
    """A running daemon's probe, asked again for a few seconds: on a loaded or emulated machine a
    daemon may take longer than one probe's timeout to answer, and that is not being down
    (`labkit clean` would start it again)."""
    deadline = time.monotonic() + patience
    while not d.ready():
        if time.monotonic() > deadline or not d.pid():
            return False
        time.sleep(0.25)
    return True


def ensure_up() -> None:
    """Raise one clear sentence when the engine is not up (for code that needs it)."""
    if not status().up:
        raise LabError("The lab engine is not running", "", "Start it with `labkit up` (or run the set-up notebook 00)")


def docker_client(timeout: int = 120) -> docker.DockerClient:
    """A Docker SDK client on the lab dockerd (`.api` is the low-level one); one clear error when
    the lab dockerd is not running. labkit's one way to its dockerd: close it when done
    (`contextlib.closing`, or `with docker_client().api as api`)."""
    import docker

    if not config.DOCKER_SOCK.exists():
        raise LabError("The lab dockerd is not running", f"no socket at {config.DOCKER_SOCK}",
                       "Start the engine with `labkit up` (or labkit.up())")
    return docker.DockerClient(base_url=config.DOCKER_HOST, version="auto", timeout=timeout)


def docker_errors() -> tuple[type[Exception], ...]:
    """What asking the lab dockerd raises when the answer is no: the engine down (LabError from
    docker_client), a refusal (docker.errors.APIError), a lost socket or a timeout (requests')."""
    import docker.errors
    import requests

    return (LabError, docker.errors.DockerException, requests.RequestException)


def container_pid(name: str, timeout: int = 30) -> int | None:
    """The host pid of the lab dockerd's container `name`; None when it is not running, does not
    exist, or the engine does not answer (checkers then say "start it", never a traceback)."""
    from contextlib import closing

    try:
        with closing(docker_client(timeout=timeout)) as client:
            pid = client.containers.get(name).attrs.get("State", {}).get("Pid")
    except docker_errors():
        return None
    # dockerd reports 0 for a container that is not running.
    return pid if isinstance(pid, int) and pid > 0 else None


def _ctr(*args: str) -> list[str]:
    from labkit.containerd import ctr

    return ctr(*args, check=False).split()


def _stop_workloads() -> None:
    # Pods first, through the CRI, so CNI takes down their network namespaces and veths.
    try:
        from labkit.cri import CRI

        with CRI() as cri:
            for pod in cri.pods():
                cri.remove_pod(pod.id)
    except (ImportError, LabError):
        pass
    for ns in _ctr("namespaces", "list", "-q"):
        for task in _ctr("-n", ns, "tasks", "list", "-q"):
            _ctr("-n", ns, "tasks", "delete", "--force", task)


def _kill_containers() -> None:
    # runc keeps each container's state in <root>/<id>/state.json; a killed shim leaves its
    # container running, and `runc delete --force` kills every process in its cgroup.
    for state in list(config.RUN.glob("**/state.json")):
        root, cid = state.parent.parent, state.parent.name
        subprocess.run(["runc", "--root", str(root), "delete", "--force", cid], capture_output=True)


def _kill_shims() -> None:
    # A shim outlives containerd by design (lesson 03); down must not leave one behind.
    from labkit import containerd as ctr       # the ctr-facing module, not the engine part above

    for pid in ctr.shims():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _unmount_under(*roots: str) -> None:
    # Strictly below each root: /var/lib/labkit itself may be a disk of its own, and a sibling
    # such as /var/lib/labkit-pythons is not the engine's.
    from labkit import inventory

    below = tuple(root.rstrip("/") + "/" for root in roots)
    for point in sorted(inventory.mounts(), key=len, reverse=True):
        if point.startswith(below):
            subprocess.run(["umount", "-l", point], capture_output=True)
