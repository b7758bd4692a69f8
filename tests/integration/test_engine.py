"""The lab engine, for real: up, run through Docker and the CRI, down leaving nothing behind."""
from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import tarfile
import urllib.request
from pathlib import Path

import pytest

from labkit import config, engine, images, inventory
from labkit.cri import CRI
from labkit.errors import LabError

pytestmark = pytest.mark.integration
LABKIT = [str(Path(os.sys.executable).parent / "labkit")]


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "-H", config.DOCKER_HOST, *args], capture_output=True, text=True, check=check)


def labkit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(LABKIT + list(args), capture_output=True, text=True)


def test_docker_runs_a_lab_image(up):
    assert docker("run", "--rm", "--pull", "never", "labkit/busybox", "echo", "hi").stdout == "hi\n"


def test_web_image_serves_its_page_on_loopback(up):
    docker("run", "-d", "--name", "lab-test-web", "-p", "127.0.0.1:18080:80", "labkit/web")
    try:
        body = _get("http://127.0.0.1:18080/", tries=50)
        assert "Hello from labkit/web" in body
    finally:
        docker("rm", "-f", "lab-test-web")


def test_the_same_image_runs_through_the_cri(up):
    with CRI() as cri:
        assert cri.version().runtime_api_version == "v1"
        assert cri.image_status("docker.io/labkit/busybox:latest").image.id
        pod_cfg = cri.pod_config("test-cri")
        pod = cri.run_pod(pod_cfg)
        try:
            cid = cri.create_container(pod, pod_cfg, "echo", "docker.io/labkit/busybox:latest",
                                       ["sh", "-c", "echo hi; hostname"])
            cri.start(cid)
            status = cri.wait_exited(cid)
            assert status.exit_code == 0
            lines = Path(status.log_path).read_text().splitlines()
            # CRI log format: time, stream, P(artial)/F(ull), the line.
            assert [line.split(" ", 3)[1:] for line in lines] == [["stdout", "F", "hi"], ["stdout", "F", "lab-test-cri"]]
        finally:
            cri.remove_pod(pod)
        assert pod not in {p.id for p in cri.pods()}


def test_up_when_up_changes_nothing(up):
    before = [r.pid for r in engine.status().rows]
    assert engine.up().up
    assert [r.pid for r in engine.status().rows] == before


def test_images_rebuild_with_nothing_changed_does_nothing(up):
    lines: list[str] = []
    images.build(progress=lines.append)
    assert lines == [f"{n}: up to date (0.0 s)" for n in images.names()] or all("up to date" in x for x in lines)
    assert len(lines) == len(images.names())


def test_registry_serves_the_lab_images(up):
    catalog = json.loads(_get(f"http://{config.REGISTRY}/v2/_catalog"))
    assert {f"labkit/{n}" for n in images.names()} <= set(catalog["repositories"])


def test_nothing_of_the_engine_listens_beyond_loopback(up):
    daemons = {r.pid for r in engine.status().rows}
    for pid, local in _listeners():
        if pid in daemons:
            assert local.startswith("127.0.0.1:") or local.startswith("[::1]:"), (pid, local)


def test_a_port_published_the_usual_way_listens_on_loopback_only(up):
    # `-p PORT:80` with no address: dockerd's default would be 0.0.0.0 and [::].
    docker("run", "-d", "--name", "lab-test-publish", "-p", "18081:80", "labkit/web")
    try:
        assert "Hello from labkit/web" in _get("http://127.0.0.1:18081/", tries=50)
        bound = sorted(local for _pid, local in _listeners() if local.endswith(":18081"))
        assert bound == ["127.0.0.1:18081"], "docker-proxy or dockerd listens beyond loopback"
    finally:
        docker("rm", "-f", "lab-test-publish")


def test_lab_images_are_reproducible(up):
    # Each image is already in the form labkit.repro makes: normalizing it again changes no byte,
    # so its id is the sha256 of a config that depends only on images/ and the host files it copies.
    from labkit import repro

    for name in images.names():
        saved = subprocess.run(["docker", "-H", config.DOCKER_HOST, "save", f"labkit/{name}"],
                               capture_output=True, check=True).stdout
        normal = repro.normalize(saved)
        with tarfile.open(fileobj=io.BytesIO(normal)) as tar:
            config_name = json.load(tar.extractfile("manifest.json"))[0]["Config"]
            created = json.load(tar.extractfile(config_name))["created"]
        assert "sha256:" + config_name.removesuffix(".json") == images.inspect(f"labkit/{name}")["Id"], name
        assert created == repro.EPOCH_RFC3339


def test_up_restarts_a_daemon_whose_config_changed(up):
    # A learner who pulls a new version of the course gets daemons running its configs.
    from labkit.engine import dockerd

    before = {r.name: r.pid for r in engine.status().rows}
    dockerd.CONFIG.write_text(dockerd.CONFIG.read_text().replace('"ip": "127.0.0.1"', '"ip": "0.0.0.0"'))
    assert engine.up().up
    after = {r.name: r.pid for r in engine.status().rows}
    assert after["dockerd"] != before["dockerd"]
    assert after["containerd"] == before["containerd"] and after["registry"] == before["registry"]
    assert json.loads(dockerd.CONFIG.read_text())["ip"] == "127.0.0.1"


def test_the_engine_owns_its_cgroup_parents(up):
    from labkit import cgroups

    for point, _fstype, _ctrls in cgroups.mounts():
        for name in (config.CGROUP_PARENT, config.POD_CGROUP_PARENT):
            assert Path(point, name).is_dir(), f"{point}/{name} missing while the engine is up"


def test_not_root_gets_one_sentence(up, capsys):
    from labkit.cli import main

    os.seteuid(65534)          # the real uid stays 0, so the test can come back
    try:
        code = main(["up"])
    finally:
        os.seteuid(0)
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        "labkit: `labkit up` needs root: the lab engine makes mounts, bridges and cgroups. "
        "Run it as root, for example with `sudo`.")


def test_unknown_image_gets_one_sentence(up):
    proc = labkit("images", "build", "nginx")
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "no lab image named 'nginx'" in proc.stderr and "busybox, pause, web" in proc.stderr
    # And Docker never looks for it on the internet: --pull never.
    run = docker("run", "--rm", "--pull", "never", "nginx", check=False)
    assert run.returncode != 0 and "No such image" in run.stderr


def test_down_leaves_nothing_then_up_again(up):
    # Give down something to take apart: a running container and a pod with its own netns.
    docker("run", "-d", "--name", "lab-test-down", "labkit/busybox", "sleep", "600")
    with CRI() as cri:
        cri.run_pod(cri.pod_config("test-down"))
    engine.down()
    try:
        _assert_engine_gone()
        proc = labkit("images", "build")
        assert proc.returncode == 1
        assert proc.stderr.strip() == "labkit: The lab engine is not running. Start it with `labkit up` (or run the set-up notebook 00)."
    finally:
        engine.up()
    assert engine.status().up
    docker("rm", "-f", "lab-test-down")
    from labkit import cleanup

    cleanup.clean()


def test_a_daemon_that_cannot_start_is_named_and_nothing_is_left_half_up(up):
    engine.down()
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", 5000))
    squatter.listen()
    try:
        with pytest.raises(LabError) as err:
            engine.up()
        assert "registry cannot start: 127.0.0.1:5000 is already taken" in str(err.value)
        assert not any(r.pid for r in engine.status().rows)
        assert not Path(f"/sys/class/net/{config.BRIDGE}").exists()
    finally:
        squatter.close()
        engine.up()
    assert engine.status().up


def _assert_engine_gone() -> None:
    assert not any(r.pid for r in engine.status().rows)
    shims = [p for p in _cmdlines() if b"containerd-shim" in p and str(config.CONTAINERD_SOCK).encode() in p]
    assert shims == []
    below = (f"{config.RUN}/", f"{config.STATE}/")     # the state dir itself may be a disk of its own
    assert [m for m in inventory.mounts() if m.startswith(below) or m == str(config.RUN)] == []
    assert not Path(f"/sys/class/net/{config.BRIDGE}").exists()
    assert not Path(f"/sys/class/net/{config.CNI_BRIDGE}").exists()
    assert not config.RUN.exists()
    from labkit import cgroups

    parents = [Path(point, name) for point, _f, _c in cgroups.mounts()
               for name in (config.CGROUP_PARENT, config.POD_CGROUP_PARENT)]
    assert [p for p in parents if p.exists()] == []


def _cmdlines() -> list[bytes]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            out.append(open(f"/proc/{pid}/cmdline", "rb").read())
        except OSError:
            pass
    return out


def _listeners() -> list[tuple[int, str]]:
    """(pid, local address) of every listening TCP socket."""
    addresses: dict[int, str] = {}
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        for line in open(table).read().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A":                        # LISTEN
                addresses[int(f[9])] = _addr(f[1], v6)
    held = inventory.socket_holders(set(addresses))
    return [(pid, addresses[inode]) for pid, inodes in held.items() for inode in inodes]


def _addr(hexaddr: str, v6: bool) -> str:
    ip, port = hexaddr.split(":")
    if not v6:
        return f"{socket.inet_ntop(socket.AF_INET, bytes.fromhex(ip)[::-1])}:{int(port, 16)}"
    raw = b"".join(bytes.fromhex(ip[i:i + 8])[::-1] for i in range(0, 32, 8))
    return f"[{socket.inet_ntop(socket.AF_INET6, raw)}]:{int(port, 16)}"


def _get(url: str, tries: int = 1) -> str:
    import time

    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for i in range(tries):
        try:
            with direct.open(url, timeout=5) as resp:
                return resp.read().decode()
        except OSError:
            if i == tries - 1:
                raise
            time.sleep(0.1)
    return ""
