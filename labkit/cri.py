"""The kubelet's side of the CRI: gRPC to containerd's CRI plugin (CRI v1).

Thin on purpose: each method is one CRI call with the request spelled out, so a
lesson can show the same message the kubelet sends. The messages themselves are
built by plain functions (`pod_config`, `container_config`, `exec_request`) that
check their input before anything reaches the runtime.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

# gRPC's fork handlers restart its poller threads in every forked child (grpcio >= 1.81). A child
# that closes its fds before exec, as IPython's `!cmd` does, then prints "epoll_wait error: Bad
# file descriptor" into the cell (grpc/grpc#43055). labkit never uses a channel across a fork, so it
# turns that handling off; the variable is read once, when gRPC's core starts.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
import grpc  # noqa: E402  (after the variable above)
from cri_api.v1 import api_pb2 as pb
from cri_api.v1.api_pb2_grpc import ImageServiceStub, RuntimeServiceStub

from labkit import config
from labkit.errors import LabError

LOG_ROOT = config.RUN / "pods"     # where a kubelet would keep /var/log/pods
IMAGE_METHODS = {m.name for m in pb.DESCRIPTOR.services_by_name["ImageService"].methods}
RUNTIME_METHODS = {m.name for m in pb.DESCRIPTOR.services_by_name["RuntimeService"].methods}
# Calls that change nothing, or that the CRI requires to be idempotent (stop and remove of something
# already gone succeed): these are retried when a containerd restart cuts the connection.
RETRY_SAFE = {"Version", "Status", "ImageStatus", "ListImages", "ListPodSandbox", "PodSandboxStatus",
              "ListContainers", "ContainerStatus", "StopContainer", "StopPodSandbox", "RemoveContainer",
              "RemovePodSandbox"}

# A pod's name becomes its hostname: keep it a DNS label (RFC 1123), as Kubernetes does.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def lab_image(name: str) -> str:
    """The full reference of lab image `name` in containerd's k8s.io namespace."""
    if "/" in name or ":" in name:
        return name
    return f"docker.io/labkit/{name}:latest"


def timestamp(ns: int) -> str:
    """A CRI time (nanoseconds since the epoch) as RFC 3339 in UTC, as the kubelet logs it."""
    if not ns:
        return "-"
    when = datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{ns % 1_000_000_000:09d}Z"


def pod_name(name: str, lesson: str | None = None) -> str:
    """The lab name of a pod (`lab-NN-name`), checked to be a valid hostname."""
    full = config.lab_name(name, lesson)
    if len(full) > 63 or not _DNS_LABEL.match(full):
        raise LabError(f"{full!r} cannot name a pod",
                       "a pod's name is its hostname: at most 63 characters, lower-case letters, digits and '-'",
                       "Pick a short name such as 'web'")
    return full


def pod_config(name: str, namespace: str = "lab", host_network: bool = False,
               lesson: str | None = None, share_pid: bool = False) -> pb.PodSandboxConfig:
    """The PodSandboxConfig the kubelet would send for pod `name` (named `lab-[NN-]name`)."""
    full = pod_name(name, lesson)
    # As the kubelet: network and IPC for the pod, a PID namespace per container unless the
    # pod spec says shareProcessNamespace (the proto's zero value, POD, would share it).
    mode = pb.NamespaceOption(network=pb.NODE if host_network else pb.POD, ipc=pb.POD,
                              pid=pb.POD if share_pid else pb.CONTAINER)
    return pb.PodSandboxConfig(
        # The kubelet sends the Pod object's uid, a UUID; the lab's is derived from the name so it is the
        # same on every run and machine.
        metadata=pb.PodSandboxMetadata(name=full, namespace=namespace, attempt=0,
                                       uid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"labkit:{namespace}/{full}"))),
        # With the node's network namespace the pod shares the node's UTS namespace too:
        # runc refuses to set a hostname there ("unable to set hostname without a private UTS namespace").
        hostname="" if host_network else full,
        log_directory=str(LOG_ROOT / full),
        labels={config.LABEL: f"{int(lesson):02d}"} if lesson else {},
        # The kubelet's /kubepods; without it containerd files pods under /k8s.io in every hierarchy.
        linux=pb.LinuxPodSandboxConfig(cgroup_parent="/" + config.POD_CGROUP_PARENT,
                                       security_context=pb.LinuxSandboxSecurityContext(namespace_options=mode)),
    )


def container_config(name: str, image: str, command: list[str] | None = None,
                     args: list[str] | None = None, attempt: int = 0,
                     namespaces: pb.NamespaceOption | None = None,
                     labels: dict[str, str] | None = None) -> pb.ContainerConfig:
    """The ContainerConfig the kubelet would send: image, command, `name/attempt.log` for its log,
    the pod's namespace options (the runtime reads the PID mode from the container's), `labels`."""
    if not _DNS_LABEL.match(name) or len(name) > 63:
        raise LabError(f"{name!r} cannot name a container", "use lower-case letters, digits and '-'",
                       "Pick a short name such as 'web'")
    for what, argv in (("command", command), ("args", args)):
        if argv is not None and (isinstance(argv, str) or not all(isinstance(a, str) for a in argv)):
            raise LabError(f"The container's {what} must be a list of strings", f"got {argv!r}",
                           'Split it into argv words: ["sh", "-c", "echo hi"], not "sh -c \'echo hi\'"')
    return pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name, attempt=attempt),
        image=pb.ImageSpec(image=lab_image(image)),
        command=command or [],       # empty: the image's ENTRYPOINT
        args=args or [],             # empty: the image's CMD
        # The kubelet's layout: <pod log dir>/<container>/<restart count>.log
        log_path=f"{name}/{attempt}.log",
        labels=labels or {},
        linux=pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(
            namespace_options=namespaces or pb.NamespaceOption(network=pb.POD, ipc=pb.POD, pid=pb.CONTAINER))),
    )


def exec_request(container_id: str, cmd: list[str], timeout: int = 10) -> pb.ExecSyncRequest:
    """The ExecSyncRequest for running `cmd` (an argv list) in a container, with a timeout in seconds."""
    if isinstance(cmd, str) or not cmd or not all(isinstance(a, str) for a in cmd):
        raise LabError("ExecSync runs an argv list, not a shell line", f"got {cmd!r}",
                       'Pass ["cat", "/etc/hostname"], or ["sh", "-c", "..."] for shell syntax')
    if timeout <= 0:
        raise LabError("An ExecSync needs a timeout", "0 means: wait for ever",
                       "Give it a few seconds, as the kubelet does for exec probes")
    return pb.ExecSyncRequest(container_id=container_id, cmd=list(cmd), timeout=timeout)


class CRI:
    """A CRI client on the lab containerd's socket (use as a context manager)."""

    def __init__(self, socket: Path = config.CONTAINERD_SOCK, timeout: float = 30.0) -> None:
        self.socket = Path(socket)
        self.timeout = timeout
        self.channel = grpc.insecure_channel(f"unix://{socket}")
        self.runtime = RuntimeServiceStub(self.channel)
        self.images = ImageServiceStub(self.channel)

    def __enter__(self) -> "CRI":
        return self

    def __exit__(self, *exc: object) -> None:
        self.channel.close()

    def call(self, stub: object, method: str, request: object):
        """One CRI call; a gRPC error becomes a LabError with the runtime's own words."""
        for attempt in range(3):
            self._wait_for_socket()
            try:
                # wait_for_ready: a containerd that is restarting (lesson 03 does that) is waited for,
                # as the kubelet waits, instead of failing the call at once.
                return getattr(stub, method)(request, timeout=self.timeout, wait_for_ready=True)
            except grpc.RpcError as err:
                # A restart cut the call off: ask again, but only what is safe to ask twice.
                if err.code() != grpc.StatusCode.UNAVAILABLE or method not in RETRY_SAFE or attempt == 2:
                    self._raise(method, err)
                time.sleep(0.5)

    def _raise(self, method: str, err: grpc.RpcError) -> None:
        """Turn a gRPC error into a LabError carrying the runtime's own words."""
        if err.code() == grpc.StatusCode.UNAVAILABLE:
            raise LabError("The lab containerd does not answer on its CRI socket", err.details(),
                           "Start the engine with `labkit up`") from None
        if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            raise LabError(f"CRI {method} got no answer within {self.timeout:g} s", err.details(),
                           "Check that the engine is up with `labkit status`") from None
        if err.code() == grpc.StatusCode.NOT_FOUND:
            raise LabError(f"CRI {method}: no such object", err.details(),
                           "List what exists with ListPodSandbox / ListContainers") from None
        raise LabError(f"CRI {method} failed", err.details(), "Read the runtime's words above") from None

    def _wait_for_socket(self, grace: float = 5.0) -> None:
        # No socket at all: the engine is down (fail fast), unless it reappears within `grace` (a restart).
        deadline = time.monotonic() + grace
        while not self.socket.exists():
            if time.monotonic() > deadline:
                raise LabError("The lab containerd does not answer on its CRI socket", f"{self.socket} does not exist",
                               "Start the engine with `labkit up`")
            time.sleep(0.1)

    def rpc(self, method: str, request: object):
        """Call CRI method `method` by its name in the proto (RunPodSandbox, ImageStatus, ...)."""
        if method in IMAGE_METHODS:
            return self.call(self.images, method, request)
        if method in RUNTIME_METHODS:
            return self.call(self.runtime, method, request)
        raise LabError(f"The CRI has no method {method!r}", "",
                       f"RuntimeService: {', '.join(sorted(RUNTIME_METHODS))}. "
                       f"ImageService: {', '.join(sorted(IMAGE_METHODS))}")

    # -- the runtime and its images ------------------------------------------------------------

    def version(self) -> pb.VersionResponse:
        """Runtime name and version, and the CRI version it serves."""
        return self.call(self.runtime, "Version", pb.VersionRequest())

    def image_status(self, image: str) -> pb.ImageStatusResponse:
        """What the runtime knows of an image (empty when it has none by that name)."""
        return self.call(self.images, "ImageStatus", pb.ImageStatusRequest(image=pb.ImageSpec(image=image)))

    def need_image(self, image: str) -> str:
        """The image's id; a clear error (never a pull) when the runtime lacks it."""
        ref = lab_image(image)
        found = self.image_status(ref).image
        if not found.id:
            raise LabError(f"containerd's k8s.io namespace has no image {ref}",
                           "the CRI only runs images the node already holds; the lab never pulls from the internet",
                           "Build and import the lab images with `labkit images build`")
        return found.id

    # -- pods -------------------------------------------------------------------------------------

    def pods(self) -> list:
        """Every pod sandbox the runtime holds."""
        return list(self.call(self.runtime, "ListPodSandbox", pb.ListPodSandboxRequest()).items)

    def pod_config(self, name: str, namespace: str = "lab", host_network: bool = False,
                   lesson: str | None = None, share_pid: bool = False) -> pb.PodSandboxConfig:
        """The sandbox config the kubelet would send for a pod `name` (lab-prefixed)."""
        return pod_config(name, namespace, host_network, lesson, share_pid)

    def run_pod(self, cfg: pb.PodSandboxConfig, runtime_handler: str = "") -> str:
        """RunPodSandbox: the pause container and, unless on the node's network, a new netns.
        `runtime_handler` picks the runtime (a RuntimeClass's handler): "" is runc, "labrun" the course's."""
        log_dir = Path(cfg.log_directory)
        made = not log_dir.exists()
        log_dir.mkdir(parents=True, exist_ok=True)     # the kubelet makes the pod's log directory
        try:
            request = pb.RunPodSandboxRequest(config=cfg, runtime_handler=runtime_handler)
            return self.call(self.runtime, "RunPodSandbox", request).pod_sandbox_id
        except LabError:
            if made:
                shutil.rmtree(log_dir, ignore_errors=True)
            raise

    def pod_status(self, pod_id: str, verbose: bool = False) -> pb.PodSandboxStatusResponse:
        """PodSandboxStatus: state, IP, namespaces; `verbose` adds the runtime's own JSON in `info`."""
        return self.call(self.runtime, "PodSandboxStatus",
                         pb.PodSandboxStatusRequest(pod_sandbox_id=pod_id, verbose=verbose))

    def pod_info(self, pod_id: str) -> dict:
        """containerd's verbose view of a sandbox: pause pid, netns path, CNI result, OCI spec."""
        return json.loads(self.pod_status(pod_id, verbose=True).info.get("info", "{}"))

    def pod_ip(self, pod_id: str) -> str:
        """The pod's IP address, as the kubelet reads it from PodSandboxStatus."""
        return self.pod_status(pod_id).status.network.ip

    def find_pod(self, name: str) -> pb.PodSandbox | None:
        """The ready pod sandbox named `name`, if any."""
        ready = [p for p in self.pods() if p.metadata.name == name and p.state == pb.SANDBOX_READY]
        return ready[0] if ready else None

    def stop_pod(self, pod_id: str) -> None:
        """StopPodSandbox: stops every container and the pause, tears down the pod's network."""
        self.call(self.runtime, "StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=pod_id))

    def remove_pod(self, pod_id: str) -> None:
        """StopPodSandbox then RemovePodSandbox: containers, pause, netns all go; then its logs."""
        req = pb.PodSandboxStatusRequest(pod_sandbox_id=pod_id)
        name = self.call(self.runtime, "PodSandboxStatus", req).status.metadata.name
        self.call(self.runtime, "StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=pod_id))
        self.call(self.runtime, "RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id))
        # Log files belong to the kubelet (here: us), not to the runtime.
        shutil.rmtree(LOG_ROOT / name, ignore_errors=True)

    # -- containers -------------------------------------------------------------------------------

    def containers(self, pod_id: str | None = None) -> list:
        """ListContainers, of one pod when `pod_id` is given."""
        flt = pb.ContainerFilter(pod_sandbox_id=pod_id) if pod_id else None
        return list(self.call(self.runtime, "ListContainers", pb.ListContainersRequest(filter=flt)).containers)

    def create_container(self, pod_id: str, pod: pb.PodSandboxConfig, name: str, image: str,
                         command: list[str] | None = None, args: list[str] | None = None) -> str:
        """CreateContainer in a pod: image, command, and a log file under the pod's log dir."""
        cfg = container_config(name, image, command, args, labels=dict(pod.labels),
                               namespaces=pod.linux.security_context.namespace_options)
        self.need_image(cfg.image.image)
        # The kubelet makes the container's log directory before it asks for the container.
        (Path(pod.log_directory) / name).mkdir(parents=True, exist_ok=True)
        req = pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=cfg, sandbox_config=pod)
        return self.call(self.runtime, "CreateContainer", req).container_id

    def start(self, container_id: str) -> None:
        """StartContainer."""
        self.call(self.runtime, "StartContainer", pb.StartContainerRequest(container_id=container_id))

    def container_status(self, container_id: str) -> pb.ContainerStatus:
        """ContainerStatus: state, exit code, log path."""
        req = pb.ContainerStatusRequest(container_id=container_id)
        return self.call(self.runtime, "ContainerStatus", req).status

    def container_info(self, container_id: str) -> dict:
        """containerd's verbose view of a container: its pid, OCI spec, snapshot."""
        req = pb.ContainerStatusRequest(container_id=container_id, verbose=True)
        return json.loads(self.call(self.runtime, "ContainerStatus", req).info.get("info", "{}"))

    def container_pid(self, container_id: str) -> int:
        """The host pid of a running container's first process (0 when it is not running)."""
        return int(self.container_info(container_id).get("pid", 0))

    def exec_sync(self, container_id: str, cmd: list[str], timeout: int = 10) -> pb.ExecSyncResponse:
        """ExecSync: run `cmd` in the container, wait, return stdout, stderr and exit code."""
        return self.call(self.runtime, "ExecSync", exec_request(container_id, cmd, timeout))

    def stop_container(self, container_id: str, timeout: int = 10) -> None:
        """StopContainer: SIGTERM (or the image's stop signal), SIGKILL after `timeout` seconds."""
        self.call(self.runtime, "StopContainer", pb.StopContainerRequest(container_id=container_id, timeout=timeout))

    def remove_container(self, container_id: str) -> None:
        """RemoveContainer: the container and its writable layer go; its log file stays (the kubelet's)."""
        self.call(self.runtime, "RemoveContainer", pb.RemoveContainerRequest(container_id=container_id))

    def wait_exited(self, container_id: str, timeout: float = 10.0) -> pb.ContainerStatus:
        """Poll ContainerStatus until the container has exited (the kubelet polls too)."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.container_status(container_id)
            if st.state == pb.CONTAINER_EXITED or time.monotonic() > deadline:
                return st
            time.sleep(0.05)
