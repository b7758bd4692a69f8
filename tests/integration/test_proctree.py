"""labkit.widgets.proctree against the real /proc, with a real container under the lab engine."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import docker
import pytest

from labkit import config
from labkit.errors import LabError
from labkit.widgets import proctree as pt

pytestmark = pytest.mark.integration

NAME = "lab-01-itest-tree"


@pytest.fixture
def client(engine):
    c = docker.DockerClient(base_url=config.DOCKER_HOST)
    yield c
    c.close()


@pytest.fixture
def container(client):
    _remove(client, NAME)
    c = client.containers.create("labkit/busybox", ["sleep", "300"], name=NAME, network_mode="none",
                                 labels={config.LABEL: "01"})
    c.start()
    c.reload()
    yield c
    _remove(client, NAME)


def _remove(client, name):
    try:
        client.containers.get(name).remove(force=True)
    except docker.errors.NotFound:
        pass


def _containerd_pid() -> int:
    from labkit.engine import containerd

    pid = containerd.daemon().pid()
    assert pid is not None, "the lab containerd is not running"
    return pid


def test_snapshot_agrees_with_the_kernel_about_this_process():
    me = pt.snapshot()[os.getpid()]
    assert me.ppid == os.getppid()
    assert (me.pgid, me.sid) == (os.getpgid(0), os.getsid(0))
    assert me.exe == os.path.realpath(sys.executable) or os.path.basename(me.exe).startswith("python")
    assert me.nspid[0] == os.getpid()


def test_the_containers_process_is_pid_1_inside_and_the_shims_child(container):
    procs = pt.snapshot()
    pid = container.attrs["State"]["Pid"]
    proc = procs[pid]
    assert proc.comm == "sleep" and proc.inner_pid == 1
    shim = procs[proc.ppid]
    assert shim.name == "containerd-shim-runc-v2"
    assert shim.argv[shim.argv.index("-id") + 1] == container.id
    assert [p.name for p in pt.ancestors(procs, pid)][:1] == ["containerd-shim-runc-v2"]


def test_the_shim_was_reparented_away_from_containerd(container):
    procs = pt.snapshot()
    containerd = procs[_containerd_pid()]
    shim = procs[procs[container.attrs["State"]["Pid"]].ppid]
    assert shim.ppid != containerd.pid                  # `shim start` exited; the shim was adopted
    assert shim.sid == containerd.sid                   # ... but never left containerd's session
    assert shim.pgid == shim.pid                        # and got a process group of its own
    assert "start" not in shim.argv


def test_runc_has_exited_while_the_container_runs(container):
    runcs = pt.find(pt.snapshot(), lambda p: p.program == "runc" or p.comm.startswith("runc"))
    assert not [p for p in runcs if container.id in " ".join(p.argv)]
    task = config.RUN / "containerd" / "io.containerd.runtime.v2.task" / "moby" / container.id
    options = json.loads((task / "options.json").read_text())
    state = json.loads(subprocess.run(
        [options["binary_name"], "--root", f"{options['root']}/moby", "state", container.id],
        capture_output=True, text=True, check=True).stdout)
    assert state["status"] == "running" and state["pid"] == container.attrs["State"]["Pid"]


def test_process_tree_draws_the_live_chain(container):
    pid = container.attrs["State"]["Pid"]
    shim = pt.snapshot()[pid].ppid
    g = pt.process_tree([pid, _containerd_pid()], highlight=[pid], exited=["runc"],
                        calls=[(_containerd_pid(), shim, "shim start"), (shim, "runc", "create"),
                               ("runc", pid, "fork, exit")])
    src = g.source
    assert f"{pt.node_id(shim)} -> {pt.node_id(pid)}" in src
    assert "pid 1 inside" in src and "containerd-shim-runc-v2" in src
    assert "gone_runc" in src
    svg = g.pipe(format="svg").decode()
    assert "<svg" in svg and "sleep" in svg


def test_process_tree_refuses_a_process_that_has_ended(engine):
    child = subprocess.Popen(["true"])
    child.wait()                                         # reaped: its /proc entry is gone
    with pytest.raises(LabError, match=f"No process {child.pid}"):
        pt.process_tree(child.pid)


def test_the_shim_exits_with_its_container(client):
    _remove(client, NAME)
    c = client.containers.create("labkit/busybox", ["sleep", "300"], name=NAME, network_mode="none")
    c.start()
    c.reload()
    shim = pt.snapshot()[pt.snapshot()[c.attrs["State"]["Pid"]].ppid]
    c.remove(force=True)
    for _ in range(100):                                 # bounded: the shim exits after containerd deletes the task
        now = pt.read_process(shim.pid)
        if now is None or now.comm != shim.comm:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the shim {shim.pid} outlived its container")
