"""The lab's own containerd: its own socket, root and state, the CRI plugin on."""
from __future__ import annotations

from pathlib import Path

from labkit import config
from labkit.engine.daemon import Daemon
from labkit.engine.probes import unix_accepts

CONFIG = config.ETC / "containerd.toml"

# Version 2 config of containerd 1.6. Notes on the choices:
# - restrict_oom_score_adj: a sandbox asks for oom_score_adj -998; without CAP_SYS_RESOURCE (a host
#   that is itself a container) runc then fails with "can't get final child's PID from pipe". Only
#   there is it on: it caps requested scores at containerd's own. A VM or a real node leaves it off.
# - sandbox_image: the lab's pause image, imported locally; nothing is pulled from the internet.
# - netns_mounts_under_state_dir: pod network namespaces stay under /run/labkit, not /run/netns.
# - runtimes.labrun: a RuntimeClass handler for the course's runtime, through the same runc shim.
TEMPLATE = """\
version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{root}-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  restrict_oom_score_adj = {restrict_oom}
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni_conf}"
  # Naming one runtime replaces containerd's default table, so runc (the default) is named too.
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.labrun]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.labrun.options]
    BinaryName = "{labrun}"
"""

# The pods' network: a bridge of the lab's own, no masquerading, addresses from a lab subnet.
CNI_CONFLIST = """\
{{
  "cniVersion": "0.4.0",
  "name": "labkit-pods",
  "plugins": [
    {{"type": "bridge", "bridge": "{bridge}", "isGateway": true, "ipMasq": false,
      "ipam": {{"type": "host-local", "ranges": [[{{"subnet": "{subnet}"}}]],
               "routes": [{{"dst": "{subnet}"}}]}}}},
    {{"type": "loopback"}}
  ]
}}
"""


def render_config() -> str:
    """containerd's config.toml for the lab."""
    return TEMPLATE.format(
        root=config.STATE / "containerd", state=config.RUN / "containerd",
        sock=config.CONTAINERD_SOCK, pause=config.PAUSE_IMAGE,
        cni_bin=config.CNI_BIN_DIR, cni_conf=config.CNI_CONF_DIR,
        restrict_oom="false" if may_lower_oom_scores() else "true", labrun=config.LABRUN,
    )


def may_lower_oom_scores() -> bool:
    """Whether containerd, started by us, may set an oom_score_adj below its own (CAP_SYS_RESOURCE)."""
    from labkit.kernel import caps

    return "CAP_SYS_RESOURCE" in caps.cap_get()["effective"]


def render_cni() -> str:
    """The CNI conflist the CRI plugin uses for pods with their own network namespace."""
    return CNI_CONFLIST.format(bridge=config.CNI_BRIDGE, subnet=config.CNI_SUBNET)


def configs() -> dict[Path, str]:
    """containerd's config and the pods' CNI config (the CRI plugin reads it at each pod)."""
    return {CONFIG: render_config(), config.CNI_CONF_DIR / "10-labkit.conflist": render_cni()}


def daemon() -> Daemon:
    """The containerd daemon of the lab engine."""
    return Daemon(
        name="containerd",
        argv=["containerd", "--config", str(CONFIG)],
        ready=lambda: unix_accepts(config.CONTAINERD_SOCK),
    )

