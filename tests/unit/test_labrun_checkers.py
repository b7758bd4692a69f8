"""Lesson 12's checker for 12.1 (the order of a runtime's steps) is pure logic: judged here on
orders made up for the purpose. 12.2 runs both runtimes: tests/integration/test_labrun.py."""
from __future__ import annotations

from labkit.exercises import labrun as ex


def moved(step: str, after: str) -> list[str]:
    """The right order with `step` taken out and put back just after `after`."""
    order = [s for s in ex.STEPS if s != step]
    order.insert(order.index(after) + 1, step)
    return order


def test_the_order_the_lesson_gives_as_its_solution_passes():
    assert ex.judge_order(list(ex.STEPS)).ok


def test_seccomp_may_go_either_side_of_the_fifo():
    assert ex.judge_order(moved("load the seccomp filter", "wait on exec.fifo")).ok


def test_an_import_after_the_pivot_is_named():
    verdict = ex.judge_order(moved("import every module", "pivot_root"))
    assert not verdict.ok and "planted" in verdict.message and "'import every module'" in verdict.message


def test_capabilities_dropped_before_the_pivot_are_named():
    verdict = ex.judge_order(moved("pivot_root", "drop capabilities"))
    assert not verdict.ok and "CAP_SYS_ADMIN" in verdict.message


def test_hooks_after_the_pivot_cite_the_spec():
    verdict = ex.judge_order(moved("run the createRuntime hooks", "pivot_root"))
    assert not verdict.ok and "before the pivot_root" in verdict.message


def test_a_typo_a_missing_step_and_a_repeat_are_told_apart():
    assert "not one of the steps" in ex.judge_order([*ex.STEPS[:-1], "exec"]).message
    assert "missing 'execve the program'" in ex.judge_order(list(ex.STEPS[:-1])).message
    assert "twice 'pivot_root'" in ex.judge_order([*ex.STEPS, "pivot_root"]).message
    assert "list of the step names" in ex.judge_order("pivot_root").message


def test_every_wrong_answer_listed_is_refused():
    for answer in ex.WRONG_ANSWERS["12.1"]:
        assert not ex.judge_order(answer).ok, answer


def test_every_rule_names_two_real_steps_and_the_solution_keeps_them():
    for before, after, why in ex.RULES:
        assert before in ex.STEPS and after in ex.STEPS and why
        assert not ex.judge_order(moved(before, after)).ok, (before, after)
