"""Lesson 11's checkers, judged on fakes: the runner of 11.1 and the probe output of 11.2 are made up here,
so each hint is seen to fire for its own mistake (tests/integration/test_security.py runs them for real)."""
from __future__ import annotations

import pytest

from labkit.check import check
from labkit.errors import BadInput
from labkit.exercises import security as ex

REFUSED = (2, "ip: SIOCSIFMTU: Operation not permitted")


class FakeDocker:
    """`docker run --cap-drop ALL --cap-add ...`: the task works exactly when NET_ADMIN is there."""

    def __init__(self) -> None:
        self.runs: list[list[str]] = []

    def __call__(self, caps: list[str]) -> tuple[int, str]:
        self.runs.append(list(caps))
        return (0, "") if "NET_ADMIN" in caps else REFUSED


@pytest.mark.parametrize("answer", ["NET_ADMIN", "CAP_NET_ADMIN", "net_admin", " cap_net_admin ", ["CAP_NET_ADMIN"],
                                    ("NET_ADMIN", "CAP_NET_ADMIN"), {"NET_ADMIN"}])
def test_11_1_accepts_the_capability_however_it_is_spelled(answer):
    run = FakeDocker()
    result = ex.judge_capabilities(answer, run)
    assert result.ok, result.message
    assert run.runs == [["NET_ADMIN"]]


def test_11_1_names_are_docker_names_sorted_once():
    assert ex.capability_names(["cap_sys_admin", "NET_ADMIN", "CAP_NET_ADMIN"]) == ["NET_ADMIN", "SYS_ADMIN"]
    assert ex.capability_names("all") == ["ALL"]
    with pytest.raises(BadInput, match="is no capability"):
        ex.capability_names("NET_ADMINISTRATOR")
    with pytest.raises(BadInput, match="you gave int 42"):
        ex.capability_names(42)


@pytest.mark.parametrize("answer, says", [
    ("SYS_ADMIN", "still fails (ip: SIOCSIFMTU: Operation not permitted)"),     # the big one, and still wrong
    (["NET_RAW"], "network administration"),
    ([], "With no capability"),
    ("ALL", "every capability"),
    (["CAP_NET_ADMIN", "ALL"], "every capability"),
    (["CAP_NET_ADMIN", "CAP_SYS_ADMIN"], "works without SYS_ADMIN too"),
    (["NET_ADMIN", "NET_RAW", "SYS_ADMIN"], "works without NET_RAW, SYS_ADMIN too"),
    ("NET_ADMINISTRATOR", "'NET_ADMINISTRATOR' is no capability"),
    (42, "a capability name such as 'CAP_CHOWN'"),
    (["NET_ADMIN", 7], "a capability name such as 'CAP_CHOWN'"),
])
def test_11_1_refuses_with_one_sentence_that_says_why(answer, says):
    result = ex.judge_capabilities(answer, FakeDocker())
    assert not result.ok
    assert says in result.message, result.message


def test_11_1_runs_nothing_for_an_answer_it_can_judge_by_reading():
    run = FakeDocker()
    for answer in ("ALL", [], 42, "NOPE"):
        ex.judge_capabilities(answer, run)
    assert run.runs == []


# -- 11.2 --------------------------------------------------------------------------------------------

CLOSED = "proc=ok\nend=ok\n"


def test_11_2_accepts_a_container_that_reaches_nothing():
    assert ex.judge_fd_probe(CLOSED).ok


@pytest.mark.parametrize("out, says", [
    ("proc=ok\nescaped=200\nescaped=7\nend=ok\n", "/proc/self/fd/7. Close every fd from 3 up"),
    ("proc=ok\nescaped=200\nend=ok\n", "leaks one at fd 200 too"),
    ("", "printed nothing"),
    ("step failed: OSError: [Errno 9] Bad file descriptor\n", "skip the ones that fail with EBADF"),
    ("step failed: NameError: name 'fd' is not defined\n", "Your function raised NameError"),
    ("end=ok\n", "leave the container's /proc mounted"),
    ("runtime failed: the container did not finish in time\n", "did not start"),
])
def test_11_2_says_what_the_probe_saw(out, says):
    result = ex.judge_fd_probe(out)
    assert not result.ok
    assert says in result.message, result.message


def test_11_2_refuses_what_it_cannot_call_before_running_anything(monkeypatch):
    monkeypatch.setattr(ex, "leaky_container", lambda *a, **k: pytest.fail("nothing should run"))
    assert "you gave str" in check("11.2", "os.closerange(3, 1024)").message
    assert "yours wants fd" in check("11.2", ex._needs_an_argument).message
    assert "No answer yet" in check("11.2", None).message


def test_11_2_probe_looks_through_every_fd_of_the_shell():
    assert "/proc/self/fd/*" in ex.PROBE and ex.MARKER in ex.PROBE
    assert min(ex.LEAKS) == 7 and max(ex.LEAKS) > 100       # where runc's was, and one a fixed range misses


def test_every_wrong_answer_listed_is_one_the_checkers_know():
    assert set(ex.WRONG_ANSWERS) == {"11.1", "11.2"}
    for answer in ex.WRONG_ANSWERS["11.1"]:
        assert not ex.judge_capabilities(answer, FakeDocker()).ok, answer
