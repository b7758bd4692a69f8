"""Lesson 11's checkers against the real engine and kernel: right answers given another way than the
lesson's are accepted, plausible wrong ones are refused for the right reason, and nothing is left
behind (the notebook run proves the lesson's own solutions)."""
from __future__ import annotations

import os

import pytest

from labkit import config, fs, inventory
from labkit.check import check
from labkit.exercises import security as ex
from labkit.kernel import procfs
from tests.conftest import RUN_MARK, residue

pytestmark = pytest.mark.integration


def lab11(snapshot: dict[str, set[str]]) -> dict[str, set[str]]:
    # Others work on this machine too: judge what carries lesson 11's names or marks.
    def ours(kind: str, item: str) -> bool:
        if kind != "processes":
            return "lab-11-" in item
        env = procfs.environ(item.split()[0])
        return env.get(config.OWNER_ENV) == "11" or env.get(RUN_MARK) == os.environ[RUN_MARK]

    found = {kind: {x for x in items if ours(kind, x)} for kind, items in snapshot.items()}
    return {kind: items for kind, items in found.items() if items}


@pytest.fixture
def clean_after(engine):
    before = inventory.snapshot()
    yield
    assert lab11(residue(before)) == {}


def test_11_1_runs_the_task_for_real(clean_after):
    status, out = ex.run_task([])
    assert status != 0 and "Operation not permitted" in out
    assert ex.run_task(["NET_ADMIN"])[0] == 0


@pytest.mark.parametrize("answer", ["CAP_NET_ADMIN", ["net_admin"]])
def test_11_1_accepts_net_admin(clean_after, answer):
    result = check("11.1", answer)
    assert result.ok, result.message


@pytest.mark.parametrize("answer, says", [("SYS_ADMIN", "still fails"), (["NET_ADMIN", "NET_RAW"], "without NET_RAW")])
def test_11_1_refuses_too_little_and_too_much(clean_after, answer, says):
    result = check("11.1", answer)
    assert not result.ok and says in result.message, result.message


def _cloexec_everything() -> None:
    # The other half of runc's CloseExecFrom: mark, do not close; execve does the closing.
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 2:
            try:
                os.set_inheritable(int(name), False)
            except OSError:
                pass                       # listdir's own fd, closed by now


def _close_from_three() -> None:
    os.closerange(3, 1 << 20)


@pytest.mark.parametrize("step", [_close_from_three, _cloexec_everything])
def test_11_2_accepts_closing_or_marking_every_fd_above_two(clean_after, step):
    result = check("11.2", step)
    assert result.ok, result.message


@pytest.mark.parametrize("step, says", [
    (lambda: None, "/proc/self/fd/7"),
    (ex._close_a_few, "fd 200 too"),
    (ex._close_everything, "printed nothing"),
    (ex._close_listed, "EBADF"),
])
def test_11_2_refuses_what_leaves_a_way_out(clean_after, step, says):
    result = check("11.2", step)
    assert not result.ok and says in result.message, result.message


def test_the_leaky_container_really_leaks_both_fds(clean_after):
    root = fs.overlay("lab-11-test-root", fs.rootfs(ex.IMAGE))
    try:
        ex.HOST_DIR.mkdir(parents=True, exist_ok=True)
        (ex.HOST_DIR / ex.MARKER).write_text("a file on the host\n")
        out = ex.leaky_container(lambda: None, root).split()
    finally:
        root.remove()
        (ex.HOST_DIR / ex.MARKER).unlink(missing_ok=True)
        ex.HOST_DIR.rmdir()
    assert {f"escaped={fd}" for fd in ex.LEAKS} <= set(out) and "end=ok" in out
    assert not (config.SCRATCH / "lab-11-test-root").exists()
