"""The lab's own dockerd, on the lab's containerd, with its own socket, data, bridge."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import labkit
from labkit import config
from labkit.engine.daemon import Daemon
from labkit.engine.probes import http_ok
from labkit.errors import LabError

CONFIG = config.ETC / "docker" / "daemon.json"


def settings() -> dict:
    """daemon.json for the lab dockerd: isolated from any Docker the user runs."""
    return {
        "hosts": [config.DOCKER_HOST],
        "containerd": str(config.CONTAINERD_SOCK),
        "data-root": str(config.STATE / "docker"),
        "exec-root": str(config.RUN / "docker"),
        "pidfile": str(config.RUN / "docker" / "docker.pid"),
        # Our own bridge, made by `labkit up`; no iptables rules, no NAT, no forwarding:
        # containers reach the host and each other, and nothing leaves the machine.
        "bridge": config.BRIDGE,
        "iptables": False,
        "ip-masq": False,
        "ip-forward": False,
        # `-p 8080:80` publishes on this address unless the learner names another: loopback only,
        # as the README promises (dockerd's default, 0.0.0.0, would also bind [::]).
        "ip": "127.0.0.1",
        # Absolute: a relative parent is joined to dockerd's own cgroup (a login session's,
        # a JupyterLab's), which would put containers wherever the engine was started from.
        "cgroup-parent": "/" + config.CGROUP_PARENT,
        # cgroupfs, not systemd, on every host. On cgroup v2 with systemd as PID 1, dockerd would
        # pick the systemd driver, which needs a "*.slice" parent and makes each container a
        # transient unit over D-Bus; hosts without systemd (workshop containers, this course's CI)
        # have no such driver. cgroupfs puts containers at /labkit-docker/<id> everywhere, so a
        # lesson reads the same paths on every host. The engine is not a systemd service, so
        # systemd does not manage this subtree: the labkit-* parents are the engine's own.
        "exec-opts": ["native.cgroupdriver=cgroupfs"],
        "features": {"buildkit": False},
        # The course's own runtime, beside runc: `docker run --runtime labrun ...` (lesson 12).
        "runtimes": {"labrun": {"path": str(config.LABRUN)}},
        "shutdown-timeout": 3,          # lab containers: do not wait 15 s for each on `down`
    }


def configs() -> dict[Path, str]:
    """daemon.json and what it should hold, and labrun's launcher, which it names."""
    return {CONFIG: json.dumps(settings(), indent=2) + "\n", config.LABRUN: launcher()}


def launcher() -> str:
    """labrun as an executable for dockerd and containerd's shim: this venv's Python, isolated (-I:
    no PYTHONPATH, no user site, no current directory on sys.path) and without `site` (-S: no
    site-packages, so no .pth file of the venv runs code in the runtime), with labkit's own directory
    on sys.path, straight into the runtime, which needs nothing but the standard library."""
    source = str(Path(labkit.__file__).resolve().parent.parent)
    return (f"#!{sys.executable} -IS\n"
            "# labrun, the course's OCI runtime (labkit/runtime), written by `labkit up` for this venv.\n"
            f"import sys\nsys.path.insert(0, {source!r})\nfrom labkit.runtime.cli import main\nsys.exit(main())\n")


def daemon() -> Daemon:
    """The dockerd daemon of the lab engine."""
    return Daemon(
        name="dockerd",
        argv=["dockerd", "--config-file", str(CONFIG)],
        ready=lambda: http_ok("/_ping", unix=config.DOCKER_SOCK),
        timeout=30.0,
    )


def bridges_up() -> None:
    """Create the lab's bridges with their addresses, unless they are already there.

    dockerd uses ``labkit0``; the CNI bridge plugin would make ``labkit-cni0`` at the first
    pod, but made here it belongs to the engine from the start, not to a lesson.
    """
    for name, cidr in ((config.BRIDGE, config.BRIDGE_CIDR), (config.CNI_BRIDGE, config.CNI_GATEWAY)):
        if _ip("link", "show", name, check=False).returncode == 0:
            continue
        subnet = _network(cidr)
        for line in _ip("-4", "route", "show", "match", subnet).stdout.splitlines():
            if not line.startswith("default"):
                raise LabError(f"The lab subnet {subnet} is already in use on this machine", line.strip(),
                               "Change the lab's subnets in labkit/config.py to free ones")
        _ip("link", "add", name, "type", "bridge")
        _ip("addr", "add", cidr, "dev", name)
        _ip("link", "set", name, "up")


def bridges_down() -> None:
    """Delete the lab's bridges if present."""
    for name in (config.BRIDGE, config.CNI_BRIDGE):
        _ip("link", "del", name, check=False)


def _network(cidr: str) -> str:
    import ipaddress

    return str(ipaddress.ip_interface(cidr).network)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise LabError(f"`ip {' '.join(args)}` failed", proc.stderr, "Check that iproute2 is installed and you are root")
    return proc
