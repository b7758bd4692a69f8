"""The lab's own dockerd, on the lab's containerd, with its own socket, data, bridge."""
from __future__ import annotations

import json
import subprocess

from labkit import config
from labkit.engine.daemon import Daemon, write_if_changed
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
        "cgroup-parent": config.CGROUP_PARENT,
        "features": {"buildkit": False},
        "shutdown-timeout": 3,          # lab containers: do not wait 15 s for each on `down`
    }


def write_configs() -> None:
    """Write daemon.json (only when it changed)."""
    write_if_changed(CONFIG, json.dumps(settings(), indent=2) + "\n")


def daemon() -> Daemon:
    """The dockerd daemon of the lab engine."""
    return Daemon(
        name="dockerd",
        argv=["dockerd", "--config-file", str(CONFIG)],
        ready=lambda: http_ok("/_ping", unix=config.DOCKER_SOCK),
        timeout=30.0,
    )


def bridge_up() -> None:
    """Create the lab bridge with its address, unless it is already there."""
    if _ip("link", "show", config.BRIDGE, check=False).returncode == 0:
        return
    subnet = _network(config.BRIDGE_CIDR)
    taken = _ip("-4", "route", "show", "match", subnet).stdout
    for line in taken.splitlines():
        if not line.startswith("default"):
            raise LabError(
                f"The lab subnet {subnet} is already in use on this machine",
                line.strip(),
                f"Change BRIDGE_CIDR in labkit/config.py to a free subnet",
            )
    _ip("link", "add", config.BRIDGE, "type", "bridge")
    _ip("addr", "add", config.BRIDGE_CIDR, "dev", config.BRIDGE)
    _ip("link", "set", config.BRIDGE, "up")


def bridge_down() -> None:
    """Delete the lab bridge (and the pods' CNI bridge) if present."""
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
