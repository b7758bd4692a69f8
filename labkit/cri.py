"""The kubelet's side of the CRI: gRPC to containerd's CRI plugin (CRI v1).

Thin on purpose: each method is one CRI call with the request spelled out, so a
lesson can show the same message the kubelet sends.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import grpc
from cri_api.v1 import api_pb2 as pb
from cri_api.v1.api_pb2_grpc import ImageServiceStub, RuntimeServiceStub

from labkit import config
from labkit.errors import LabError

LOG_ROOT = config.RUN / "pods"     # where a kubelet would keep /var/log/pods


class CRI:
    """A CRI client on the lab containerd's socket (use as a context manager)."""

    def __init__(self, socket: Path = config.CONTAINERD_SOCK, timeout: float = 30.0) -> None:
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
        try:
            return getattr(stub, method)(request, timeout=self.timeout)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.UNAVAILABLE:
                raise LabError("The lab containerd does not answer on its CRI socket", err.details(),
                               "Start the engine with `labkit up`") from None
            raise LabError(f"CRI {method} failed", err.details(), "Read the runtime's words above") from None

    def version(self) -> pb.VersionResponse:
        """Runtime name and version, and the CRI version it serves."""
        return self.call(self.runtime, "Version", pb.VersionRequest())

    def image_status(self, image: str) -> pb.ImageStatusResponse:
        """What the runtime knows of an image (empty when it has none by that name)."""
        return self.call(self.images, "ImageStatus", pb.ImageStatusRequest(image=pb.ImageSpec(image=image)))

    def pods(self) -> list:
        """Every pod sandbox the runtime holds."""
        return list(self.call(self.runtime, "ListPodSandbox", pb.ListPodSandboxRequest()).items)

    def pod_config(self, name: str, namespace: str = "lab", host_network: bool = False) -> pb.PodSandboxConfig:
        """The sandbox config the kubelet would send for a pod `name` (lab-prefixed)."""
        name = config.lab_name(name)
        mode = pb.NamespaceOption(network=pb.NODE if host_network else pb.POD)
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, namespace=namespace, uid=f"{namespace}-{name}", attempt=0),
            # With the node's network namespace the pod must not set a hostname.
            hostname="" if host_network else name,
            log_directory=str(LOG_ROOT / name),
            labels={config.LABEL: "1"},
            linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(namespace_options=mode)),
        )

    def run_pod(self, cfg: pb.PodSandboxConfig) -> str:
        """RunPodSandbox: the pause container and, unless on the node's network, a new netns."""
        Path(cfg.log_directory).mkdir(parents=True, exist_ok=True)
        return self.call(self.runtime, "RunPodSandbox", pb.RunPodSandboxRequest(config=cfg)).pod_sandbox_id

    def remove_pod(self, pod_id: str) -> None:
        """StopPodSandbox then RemovePodSandbox: containers, pause, netns all go; then its logs."""
        req = pb.PodSandboxStatusRequest(pod_sandbox_id=pod_id)
        name = self.call(self.runtime, "PodSandboxStatus", req).status.metadata.name
        self.call(self.runtime, "StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=pod_id))
        self.call(self.runtime, "RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id))
        # Log files belong to the kubelet (here: us), not to the runtime.
        shutil.rmtree(LOG_ROOT / name, ignore_errors=True)

    def create_container(self, pod_id: str, pod: pb.PodSandboxConfig, name: str, image: str,
                         command: list[str]) -> str:
        """CreateContainer in a pod: image, command, and a log file under the pod's log dir."""
        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name, attempt=0),
            image=pb.ImageSpec(image=image),
            command=command,
            log_path=f"{name}.log",
            labels={config.LABEL: "1"},
        )
        req = pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=cfg, sandbox_config=pod)
        return self.call(self.runtime, "CreateContainer", req).container_id

    def start(self, container_id: str) -> None:
        """StartContainer."""
        self.call(self.runtime, "StartContainer", pb.StartContainerRequest(container_id=container_id))

    def container_status(self, container_id: str) -> pb.ContainerStatus:
        """ContainerStatus: state, exit code, log path."""
        req = pb.ContainerStatusRequest(container_id=container_id)
        return self.call(self.runtime, "ContainerStatus", req).status

    def wait_exited(self, container_id: str, timeout: float = 10.0) -> pb.ContainerStatus:
        """Poll ContainerStatus until the container has exited (the kubelet polls too)."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.container_status(container_id)
            if st.state == pb.CONTAINER_EXITED or time.monotonic() > deadline:
                return st
            time.sleep(0.05)
