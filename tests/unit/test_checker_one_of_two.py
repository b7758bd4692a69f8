"""Exercise 08.4's checker on fake cgroup directories, v1- and v2-shaped: the mistakes people make
when they limit one process of two (the limit on the shared group, the first write refused on v2,
the wrong unit, a sibling limited too) each get their own hint; the right layout passes on both."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from labkit.exercises.cgroups import judge_one_of_two

FIRST, SECOND = os.getpid(), os.getppid()           # two live processes stand in for the two sleeps
MIB40 = str(40 << 20)


def tree(tmp_path: Path, version: str, layout: dict[str, dict[str, str]]) -> Path:
    """lab-08-shared in a fake memory hierarchy; `layout` maps a directory below it to its files."""
    limit = "memory.max" if version == "v2" else "memory.limit_in_bytes"
    unlimited = "max" if version == "v2" else "9223372036854771712"
    shared = tmp_path / "memory" / "lab-08-shared"
    for rel, found in layout.items():
        d = shared / rel
        d.mkdir(parents=True, exist_ok=True)
        (d / "cgroup.procs").write_text(found.get("procs", ""))
        if found.get("limit", unlimited) is not None:
            (d / limit).write_text(found.get("limit", unlimited))
    return shared


def v2_right(tmp_path: Path) -> Path:
    return tree(tmp_path, "v2", {".": {}, "lab-08-first": {"procs": f"{FIRST}\n", "limit": MIB40},
                                 "lab-08-second": {"procs": f"{SECOND}\n"}})


def test_the_right_layout_passes_on_v2_and_on_v1_with_the_same_words(tmp_path):
    shared = v2_right(tmp_path / "a")
    ok2 = judge_one_of_two(shared / "lab-08-first", shared, "v2")
    shared1 = tree(tmp_path / "b", "v1", {".": {"procs": f"{SECOND}\n"},
                                          "lab-08-first": {"procs": f"{FIRST}\n", "limit": MIB40}})
    ok1 = judge_one_of_two(shared1 / "lab-08-first", shared1, "v1")
    assert ok2.ok and ok1.ok
    assert ok1.message == ok2.message and f"pid {FIRST} is held to 40 MiB in lab-08-first" in ok1.message


def test_a_name_or_a_missing_setup_is_refused_first(tmp_path):
    shared = tmp_path / "memory" / "lab-08-shared"
    assert "only a name" in judge_one_of_two(Path("lab-08-first"), shared, "v2").message
    assert "run the cell above" in judge_one_of_two(shared / "lab-08-first", shared, "v2").message


def test_the_shared_group_itself_would_hold_both(tmp_path):
    shared = v2_right(tmp_path)
    assert "lab-08-shared itself" in judge_one_of_two(shared, shared, "v2").message


def test_a_group_outside_lab_08_shared_moved_first_out(tmp_path):
    shared = v2_right(tmp_path)
    outside = shared.parent / "lab-08-first"
    outside.mkdir()
    assert "not below lab-08-shared" in judge_one_of_two(outside, shared, "v2").message


def test_a_group_that_was_never_made_or_holds_the_wrong_number(tmp_path):
    shared = v2_right(tmp_path)
    assert "does not exist" in judge_one_of_two(shared / "lab-08-other", shared, "v2").message
    (shared / "lab-08-second" / "cgroup.procs").write_text("")
    (shared / "lab-08-first" / "cgroup.procs").write_text(f"{FIRST}\n{SECOND}\n")
    assert "holds 2 processes" in judge_one_of_two(shared / "lab-08-first", shared, "v2").message


def test_on_v2_a_child_without_memory_files_gets_the_no_internal_process_hint(tmp_path):
    shared = tree(tmp_path, "v2", {".": {"procs": f"{SECOND}\n"},
                                   "lab-08-first": {"procs": f"{FIRST}\n", "limit": None}})
    message = judge_one_of_two(shared / "lab-08-first", shared, "v2").message
    assert "+memory" in message and "move `second` down" in message


@pytest.mark.parametrize("wrong", ["40000000", "41943040000", "max"])
def test_the_limit_is_in_bytes(tmp_path, wrong):
    shared = v2_right(tmp_path)
    (shared / "lab-08-first" / "memory.max").write_text(wrong)
    assert "takes bytes" in judge_one_of_two(shared / "lab-08-first", shared, "v2").message


def test_second_must_stay_inside_and_unlimited(tmp_path):
    shared = v2_right(tmp_path)
    (shared / "lab-08-second" / "memory.max").write_text(MIB40)
    assert "is held too, by lab-08-second/memory.max" in judge_one_of_two(shared / "lab-08-first", shared, "v2").message
    (shared / "lab-08-second" / "cgroup.procs").write_text("")
    assert "no longer in lab-08-shared" in judge_one_of_two(shared / "lab-08-first", shared, "v2").message


def test_on_v1_a_limit_on_the_shared_group_holds_second_too(tmp_path):
    shared = tree(tmp_path, "v1", {".": {"procs": f"{SECOND}\n", "limit": MIB40},
                                   "lab-08-first": {"procs": f"{FIRST}\n", "limit": MIB40}})
    message = judge_one_of_two(shared / "lab-08-first", shared, "v1").message
    assert "held too, by lab-08-shared/memory.limit_in_bytes" in message
