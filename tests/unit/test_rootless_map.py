"""Exercise 07.3's logic, with a fake kernel that holds whatever it is given: newuidmap's rule, the
kernel's overlap rule, and the verdict on the map. (The real kernel: tests/integration/test_rootless_map.py.)"""
from __future__ import annotations

import os

import pytest

from labkit import ns
from labkit.check import check
from labkit.errors import BadInput, LabError
from labkit.exercises import namespaces as ex

RIGHT = "0 1000 1\n1 100000 65536"


@pytest.fixture
def kernel(monkeypatch):
    """A fake kernel_takes: records each map it is asked to write and holds it as written."""
    written = []

    def takes(uid_map: str) -> list[ns.IdRange]:
        written.append(uid_map)
        return ns.parse_id_map(uid_map)

    monkeypatch.setattr(ex, "kernel_takes", takes)
    return written


def test_the_rootless_map_is_right(kernel):
    result = check("07.3", RIGHT)
    assert result.ok and "uid 1000" in result.message
    assert kernel == [RIGHT]


def test_the_same_ids_in_another_order_are_right_too(kernel):
    assert check("07.3", "1 100000 65535\n0 1000 1\n65536 165535 1\n").ok


@pytest.mark.parametrize("answer, says", [
    ("0 100000 65536", "userns-remap"),                          # 07.2's map
    ("1 100000 65536", "Root inside is not mapped"),              # the user's own uid left out
    ("0 1000 1", "Only root is mapped"),
    ("0 1000 1\n1 100000 65535", "1 of inside uids 1 to 65536"),  # one id short
])
def test_maps_newuidmap_writes_but_a_rootless_container_cannot_use(kernel, answer, says):
    result = check("07.3", answer)
    assert not result.ok and says in result.message
    assert kernel == [answer], "the kernel is asked: newuidmap would write these"


@pytest.mark.parametrize("answer, says", [
    ("0 1000 2\n1 100000 65536", "its line has count 1"),         # own uid one id too long, over inside uid 1
    ("1000 0 1\n1 100000 65536", "the host's root"),              # the user's uid in the inside column
    ("0 1000 1\n100000 1 65536", "did you swap them?"),
    ("0 1000 1\n1 100000 65537", "past the end of the range"),    # one id past the range
    ("0 1000 1\n1 100001 65536", "past the end of the range"),
])
def test_maps_newuidmap_refuses_never_reach_the_kernel(kernel, answer, says):
    result = check("07.3", answer)
    assert not result.ok and "newuidmap refuses" in result.message and says in result.message
    assert kernel == []


def test_overlapping_lines_are_the_kernels_einval(kernel):
    result = check("07.3", "0 1000 1\n0 100000 65536")
    assert not result.ok and "EINVAL" in result.message and "0 is in both" in result.message
    assert kernel == []


@pytest.mark.parametrize("answer", [1000, None, "", "0:1000:1\n1:100000:65536", "0 1000"])
def test_what_is_not_a_map_is_said_so(kernel, answer):
    result = check("07.3", answer)
    assert not result.ok and result.message
    assert kernel == []


def test_a_kernel_refusal_is_passed_on(monkeypatch):
    def refuses(uid_map: str) -> list[ns.IdRange]:
        raise LabError("Cannot write '0 1000 1' to /proc/42/uid_map", "Operation not permitted", "")

    monkeypatch.setattr(ex, "kernel_takes", refuses)
    result = check("07.3", RIGHT)
    assert not result.ok and "The kernel refused it: Operation not permitted" in result.message


def test_newuidmap_allows_the_own_uid_once_and_ids_inside_the_range():
    allowed = ns.parse_id_map("0 1000 1\n1 100000 10\n11 100010 65526")
    assert ex.newuidmap_refuses(allowed, 1000, 100000, 65536) is None
    assert ex.newuidmap_refuses(ns.parse_id_map("0 1001 1"), 1000, 100000, 65536) is not None
    assert ex.newuidmap_refuses(ns.parse_id_map("0 99999 2"), 1000, 100000, 65536) is not None


def test_every_wrong_answer_listed_for_the_shared_test_is_wrong_here_too(kernel):
    for answer in ex.WRONG_ANSWERS["07.3"]:
        assert not check("07.3", answer).ok, answer


@pytest.mark.parametrize("uid", [-1, "1000", True, 1.5, 2**32 - 1])
def test_become_user_refuses_what_is_no_uid_before_it_changes_anything(uid):
    def attempt():
        ns.become_user(uid)
        return os.getuid()          # not reached

    with pytest.raises(BadInput):
        ns.in_child(attempt)        # a child, so that even a bug could not drop this process's root
