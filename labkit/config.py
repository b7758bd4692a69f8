"""Where the lab engine lives, and the names the lab gives to what it makes.

Two name spaces, kept apart on purpose:
- ``labkit*`` belongs to the engine itself (bridge ``labkit0``, cgroup parent ``labkit-docker``).
- ``lab-*`` is what lessons make (containers, pods, netns, interfaces, cgroups); ``labkit clean``
  removes exactly those.
"""
from __future__ import annotations

import os
from pathlib import Path

RUN = Path("/run/labkit")           # sockets, pid files, daemon state: gone at reboot
STATE = Path("/var/lib/labkit")     # images, snapshots, registry blobs: kept
ETC = Path("/etc/labkit")           # generated daemon configs
LABRUN = STATE / "bin" / "labrun"   # the course's runtime, as the engine calls it (written by `labkit up`)
LOG = STATE / "log"

CONTAINERD_SOCK = RUN / "containerd" / "containerd.sock"
DOCKER_SOCK = RUN / "docker.sock"
DOCKER_HOST = f"unix://{DOCKER_SOCK}"
REGISTRY = "127.0.0.1:5000"
REGISTRY_ROOT = STATE / "registry"  # the registry's filesystem storage
CNI_CONF_DIR = ETC / "cni" / "net.d"
CNI_BIN_DIR = Path("/usr/lib/cni")

BRIDGE = "labkit0"                  # the lab dockerd's bridge (the user's Docker keeps docker0)
BRIDGE_CIDR = "10.213.0.1/24"
CNI_BRIDGE = "labkit-cni0"          # pods' bridge, made by the CNI bridge plugin
CNI_SUBNET = "10.214.0.0/24"
CNI_GATEWAY = "10.214.0.1/24"
CGROUP_PARENT = "labkit-docker"     # the lab dockerd's containers: /labkit-docker/<id>
POD_CGROUP_PARENT = "labkit-pods"   # CRI pods' containers (the kubelet's kubepods): /labkit-pods/<id>

PREFIX = "lab-"                     # every object a lesson makes starts with this
LABEL = "org.labkit.lesson"         # and carries this label where the API has labels

PAUSE_IMAGE = "docker.io/labkit/pause:latest"
K8S_NAMESPACE = "k8s.io"

# The course's repository (images/, notebooks/) for an editable install.
REPO = Path(os.environ.get("LABKIT_REPO", Path(__file__).resolve().parent.parent))
IMAGES_DIR = REPO / "images"


def lab_prefix(lesson: str | None = None) -> str:
    """``lab-`` for everything lessons make, ``lab-NN-`` for what lesson NN makes."""
    return PREFIX if lesson is None else f"{PREFIX}{int(lesson):02d}-"


def lab_name(slug: str, lesson: str | None = None) -> str:
    """The name a lesson gives to something it makes, so `labkit clean` can find it."""
    prefix = lab_prefix(lesson)
    return slug if slug.startswith(prefix) else prefix + slug

RUNC_ROOT = RUN / "runc"            # state of containers a lesson runs with runc/crun directly
LABRUN_ROOT = RUN / "labrun"        # and with labrun, the course's own runtime
SCRATCH = RUN / "scratch"           # bundles, rootfs copies, mount points made by lessons
OWNER_ENV = "LABKIT_LESSON"         # set in the environment of every process a lesson spawns
