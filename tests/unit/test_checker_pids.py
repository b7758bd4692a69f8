"""Checkers that take a pid read it through labkit.kernel.procfs: a pid that is gone gets "no process",
a live one gets a hint about what it runs. (The wrong answers on the live lab: tests/unit/test_check.py.)"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from labkit.exercises import by_hand, setup
from labkit.exercises import cgroups as lesson_08
from labkit.kernel import procfs


@pytest.fixture(scope="module")
def vanished() -> int:
    child = subprocess.Popen(["true"])
    child.wait()                            # reaped: /proc/<pid> is gone
    return child.pid


@pytest.fixture
def lab_containerd(monkeypatch):
    from labkit.engine import containerd

    monkeypatch.setattr(containerd, "daemon", lambda: SimpleNamespace(pid=lambda: 1))


def test_00_1_tells_a_vanished_pid_from_another_program(lab_containerd, vanished):
    assert setup.containerd_pid(vanished).message.startswith(f"No process {vanished} exists now")
    me = setup.containerd_pid(os.getpid())
    assert not me.ok and f"runs {' '.join(procfs.cmdline())!r}" in me.message     # argv joined by spaces


def test_08_2_tells_a_vanished_pid(vanished):
    assert lesson_08.contained_by_hand(vanished).message.startswith(f"No process {vanished} is running")


def test_10_1_reads_nspid_and_name_from_status(vanished):
    assert by_hand.container_pid_one(vanished).message.startswith(f"No process {vanished} exists now")
    me = by_hand.container_pid_one(os.getpid())
    assert not me.ok and "No process" not in me.message       # this pid exists: the hint is about its NSpid


def _step(name: str, ran: Path):
    def step():                          # leaves a trace even when it runs in a forked child
        (ran / name).touch()
    step.__name__ = name
    return step


@pytest.mark.parametrize("order, why", [
    (["set_hostname", "new_namespaces", "pivot", "lock_down"], "out of order"),       # would rename the host
    (["writable_tmp", "new_namespaces", "pivot", "lock_down"], "before new_namespaces"),  # would mount on the host
    (["new_namespaces", "pivot", "lock_down"], "add one of your own"),
    (["pivot", "lock_down", "writable_tmp"], "new_namespaces is missing"),
    (["new_namespaces", "lock_down", "pivot", "writable_tmp"], "out of order"),
    (["new_namespaces", "pivot", "lock_down", "writable_tmp"], "after lock_down"),   # /tmp may exist already
])
def test_10_2_refuses_a_dangerous_or_empty_order_before_running_anything(order, why, tmp_path):
    result = by_hand.writable_tmp([_step(n, tmp_path) for n in order])
    assert not result.ok and why in result.message, result.message
    assert list(tmp_path.iterdir()) == []             # no step ran, in this process or a child
