"""The namespace table against live processes: a held process, and a container of the lab dockerd."""
from __future__ import annotations

import os
import subprocess

import pytest

from labkit import config, ns
from labkit.kernel import CLONE_NEWNET, CLONE_NEWUTS
from labkit.widgets.ns_table import ns_table

pytestmark = pytest.mark.integration
NAME = "lab-07-t-table"


def test_a_held_process_differs_in_what_it_unshared(root):
    with ns.hold(flags=CLONE_NEWUTS | CLONE_NEWNET) as held:
        table = ns_table(os.getpid(), held.pid, names=("here", "held"))
        assert table.different == {"uts", "net"}
        assert next(r for r in table.rows if r.kind == "uts").right == ns.inode(held.pid, "uts")
        assert "DIFFERENT" in table.svg()


def test_a_docker_container_has_its_own_mnt_uts_ipc_net_and_pid(engine):
    docker = ["docker", "-H", config.DOCKER_HOST]
    subprocess.run([*docker, "rm", "-f", NAME], capture_output=True)
    subprocess.run([*docker, "run", "-d", "--name", NAME, "--pull", "never", "labkit/busybox", "sleep", "60"],
                   capture_output=True, check=True, env={**os.environ, config.OWNER_ENV: "07"})
    try:
        pid = int(subprocess.run([*docker, "inspect", "-f", "{{.State.Pid}}", NAME],
                                 capture_output=True, text=True, check=True).stdout)
        table = ns_table(os.getpid(), pid)
        assert {"mnt", "uts", "ipc", "net", "pid"} <= table.different
        assert "user" in table.same                      # no userns-remap in the lab dockerd
        assert ns.join(pid, lambda: open("/proc/1/cmdline").read().split("\0")[0], ["pid", "mnt"]) == "sleep"
    finally:
        subprocess.run([*docker, "rm", "-f", NAME], capture_output=True)
