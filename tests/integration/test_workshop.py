"""The workshop image (labkit.workshop): Debian 13 with the course and the lab engine, one container
per learner. CI builds it, starts it privileged on the lab engine as an instructor would start it,
and checks what a learner gets: JupyterLab answering over HTTP on the host's loopback, a container
run by the engine inside, and every lesson passing nbval strict there with nothing left behind.
"""
from __future__ import annotations

import json
import secrets
import sys
import time
import urllib.error
import urllib.request

import pytest

from labkit import config, inventory, workshop
from tests.conftest import free_port, residue
from tests.platforms import lessons

pytestmark = pytest.mark.integration
NAME = "lab-workshop"
# The engine inside makes the lab's subnets (labkit.config) again: on the lab engine, the workshop
# container sits on a network of its own, or its eth0 would already hold the inner bridge's subnet.
NETWORK, SUBNET = "lab-workshop-net", "10.215.0.0/24"
READY_TIMEOUT = 900          # `./lab open` inside: the engine, then the lab images built from images/


# Straight to 127.0.0.1, whatever proxy the environment names (as the browser test does).
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str, timeout: float = 10) -> tuple[int, str]:
    try:
        with DIRECT.open(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, ""            # not serving yet: docker-proxy accepts, then finds nothing behind it


@pytest.fixture(scope="module")
def learner(engine):
    """One learner's workshop container, started as the README tells an instructor to."""
    from labkit.engine import docker_client

    start = time.monotonic()
    workshop.build(progress=lambda line: print(line, file=sys.stderr))
    print(f"workshop image ready in {time.monotonic() - start:.0f} s", file=sys.stderr)
    client = docker_client(timeout=120)
    before = inventory.snapshot()
    port, token = free_port(), secrets.token_hex(16)
    import docker.types

    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=SUBNET)])
    net = client.networks.create(NETWORK, driver="bridge", ipam=ipam)
    box = workshop.create(client, NAME, port, {"JUPYTER_TOKEN": token}, network=NETWORK)
    try:
        box.start()
        start = time.monotonic()
        url = f"http://127.0.0.1:{port}"
        while get(f"{url}/api/status?token={token}")[0] != 200:
            box.reload()
            assert box.status == "running", f"the workshop container exited:\n{box.logs().decode()[-3000:]}"
            assert time.monotonic() - start < READY_TIMEOUT, box.logs().decode()[-3000:]
            time.sleep(2)
        print(f"workshop JupyterLab up in {time.monotonic() - start:.0f} s", file=sys.stderr)
        yield box, url, token
    finally:
        box.remove(force=True, v=True)          # and its anonymous volume: the engine's state inside
        net.remove()
    assert residue(before) == {}


def inside(box, command: str, timeout: int = 60) -> tuple[int, str]:
    code, out = box.exec_run(["sh", "-c", command], demux=False)
    return code, out.decode(errors="replace")


def test_the_workshop_is_debian_13_with_python_3_13(learner):
    box, _, _ = learner
    code, out = inside(box, "cat /etc/debian_version; /course/.venv/bin/python -c 'import sys; print(sys.version_info[:2])'")
    assert code == 0 and out.startswith("13."), out
    assert "(3, 13)" in out, out


def test_the_workshop_serves_jupyterlab_to_its_token_only(learner):
    _, url, token = learner
    status, body = get(f"{url}/api/status?token={token}")
    assert status == 200 and "started" in json.loads(body)
    assert get(f"{url}/api/contents")[0] == 403            # no token, no server
    status, body = get(f"{url}/api/contents?token={token}")
    names = {item["name"] for item in json.loads(body)["content"]}
    assert "00-setup.ipynb" in names and "10-container-by-hand.ipynb" in names
    assert get(f"{url}/lab?token={token}")[0] == 200


def test_its_port_is_published_on_loopback_only(learner):
    box, _, _ = learner
    box.reload()
    bindings = box.attrs["NetworkSettings"]["Ports"]["8888/tcp"]
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}, bindings


def test_the_engine_inside_runs_a_container(learner):
    box, _, _ = learner
    code, out = inside(box, f"docker -H {config.DOCKER_HOST} run --rm --pull never labkit/busybox "
                            "sh -c 'echo hello from $(uname -n)'")
    assert code == 0 and out.startswith("hello from "), out
    code, out = inside(box, "/course/.venv/bin/labkit status")
    assert code == 0, out


def test_a_hub_can_start_it(learner):
    box, _, _ = learner
    code, out = inside(box, "/course/.venv/bin/jupyterhub-singleuser --version")
    assert code == 0 and out.strip()[0].isdigit(), out


def test_every_lesson_passes_inside_and_leaves_nothing(learner):
    box, _, _ = learner
    start = time.monotonic()
    code, out = inside(box, "cd /course && PATH=/course/.venv/bin:$PATH python -m tests.platforms.lessons 2>&1")
    status, left = lessons.read(out)
    assert status == 0, lessons.failures(out) or out[-6000:]
    assert left == {}, f"the lessons left this behind in the workshop: {left}"
    print(f"workshop lessons: {out.strip().splitlines()[-3]} ({time.monotonic() - start:.0f} s)", file=sys.stderr)
