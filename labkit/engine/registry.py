"""The lab registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1:5000 only."""
from __future__ import annotations

import subprocess
from pathlib import Path

from labkit import config
from labkit.engine.daemon import Daemon
from labkit.engine.probes import http_ok, tcp_in_use
from labkit.errors import LabError

CONFIG = config.ETC / "registry.yml"
PORT = int(config.REGISTRY.rsplit(":", 1)[1])

TEMPLATE = """\
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: {addr}
"""


def configs() -> dict[Path, str]:
    """The registry's config file and what it should hold."""
    return {CONFIG: TEMPLATE.format(root=config.REGISTRY_ROOT, addr=config.REGISTRY)}


def daemon() -> Daemon:
    """The registry daemon of the lab engine."""
    return Daemon(
        name="registry",
        argv=["docker-registry", "serve", str(CONFIG)],
        ready=lambda: http_ok("/v2/", port=PORT),
    )


def garbage_collect() -> None:
    """Drop blobs no manifest references (lessons delete their repositories); registry stopped."""
    if CONFIG.exists():
        subprocess.run(["docker-registry", "garbage-collect", "--delete-untagged", str(CONFIG)],
                       capture_output=True, timeout=120)


def check_port_free() -> None:
    """Fail early, with the fix, when something else already holds 127.0.0.1:5000."""
    if tcp_in_use(PORT):
        raise LabError(
            f"The lab registry cannot start: {config.REGISTRY} is already taken by another program",
            "",
            f"Find it with `ss -ltnp 'sport = :{PORT}'` and stop it (Debian's docker-registry "
            "service: `systemctl disable --now docker-registry`), then run `labkit up` again",
        )
