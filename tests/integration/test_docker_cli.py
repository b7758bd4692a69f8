"""Lesson 01's checkers against real containers: each accepts the truth and rejects near misses.

tests/unit/test_check.py proves they reject WRONG_ANSWERS with nothing set up; here the
containers the exercises ask about exist, so the interesting branches run.
"""
from __future__ import annotations

import json
import os
from urllib.parse import quote

import docker
import pytest

from labkit import config
from labkit.check import check
from labkit.exercises import docker_cli

pytestmark = pytest.mark.integration

RAW = "lab-01-raw"


@pytest.fixture
def client(engine):
    c = docker.DockerClient(base_url=config.DOCKER_HOST)
    for name in (docker_cli.WEB, RAW):
        try:
            c.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
    yield c
    for name in (docker_cli.WEB, RAW):
        try:
            c.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
    c.close()


@pytest.fixture
def web(client):
    c = client.containers.create("labkit/web", name=docker_cli.WEB, network_mode="none")
    c.start()
    c.reload()
    return c


@pytest.fixture
def raw(client):
    c = client.containers.create("labkit/busybox", ["sh", "-c", "exit 7"], name=RAW, network_mode="none")
    c.start()
    c.wait(timeout=30)
    return c


def path(filters: dict) -> str:
    return "/containers/json?filters=" + quote(json.dumps(filters))


def test_01_1_accepts_the_filter_and_rejects_near_misses(web, raw):
    assert check("01.1", path({"name": ["lab-01-"], "status": ["exited"]})).ok
    assert check("01.1", "/v1.41" + path({"name": ["lab-01-"], "status": ["exited"]})).ok
    running = check("01.1", path({"name": ["lab-01-"]}))          # all states but only running listed
    assert not running.ok
    missing = check("01.1", path({"name": ["lab-01-web"], "status": ["exited"]}))
    assert not missing.ok and "misses lab-01-raw" in missing.message
    assert "lab-01-web" in check("01.1", "/containers/json?all=1&" + path({"name": ["lab-01-"]}).split("?")[1]).message
    assert "dockerd answered" in check("01.1", path({"nosuchfilter": ["x"]})).message


def test_01_1_says_when_nothing_has_exited_yet(web):
    assert "No container of this lesson has exited" in check("01.1", path({"status": ["exited"]})).message


def test_01_2_accepts_the_host_pid_only(web):
    pid = web.attrs["State"]["Pid"]
    result = check("01.2", pid)
    assert result.ok and "pid 1 inside" in result.message
    assert "inside its own PID namespace" in check("01.2", 1).message
    with open(f"/proc/{pid}/stat") as f:
        shim = int(f.read().rsplit(")", 1)[1].split()[1])
    assert "shim" in check("01.2", shim).message
    assert not check("01.2", os.getpid()).ok
    assert not check("01.2", str(pid)).ok


def test_01_3_reads_the_exit_code_only_once_stopped(web):
    assert "still running" in check("01.3", 137).message
    web.stop(timeout=1)                                   # httpd is PID 1 and ignores SIGTERM: SIGKILL follows
    web.reload()
    assert web.attrs["State"]["ExitCode"] == 137
    assert check("01.3", 137).ok
    assert not check("01.3", 0).ok and not check("01.3", 143).ok and not check("01.3", "137").ok


def test_checkers_say_what_to_run_when_the_container_is_missing(client):
    assert "not running" in check("01.2", 12345).message
    assert f"no {docker_cli.WEB}" in check("01.3", 137).message
