"""The logic under lesson 08's v2 sections, without a v2 kernel: PSI parsing, the v2-only guard,
what a refused write says, and how a group with child groups is taken apart."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from labkit import cgroups
from labkit.cgroups import cgroup, files, pressure, v2
from labkit.errors import LabError

# Recorded mount tables: a pure v2 machine, and a v1 one with (HYBRID) or without the cgroup2 mount.
V2 = "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
V1 = ("25 24 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
      "26 25 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
HYBRID = V1 + "29 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"

# As the kernel writes them (6.1): a v2 group's memory.pressure, and /proc/pressure/cpu, whose
# "full" line is undefined machine-wide and printed as zeros since 5.13.
MEMORY = ("some avg10=6.15 avg60=1.11 avg300=0.23 total=1117373\n"
          "full avg10=6.15 avg60=1.11 avg300=0.23 total=1117373\n")
CPU = ("some avg10=0.52 avg60=0.31 avg300=0.08 total=8612345\n"
       "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")


def test_a_pressure_file_parses_into_some_and_full():
    stalls = pressure.parse(MEMORY)
    assert set(stalls) == {"some", "full"}
    assert stalls["some"] == pressure.Stall(avg10=6.15, avg60=1.11, avg300=0.23, total=1117373)
    assert pressure.parse(CPU)["full"].total == 0


def test_a_kernel_before_5_13_has_no_cpu_full_line_and_that_is_fine():
    assert set(pressure.parse(CPU.splitlines()[0])) == {"some"}


@pytest.mark.parametrize("text", ["some avg10=0.00 total=3", "partial avg10=0 avg60=0 avg300=0 total=0", "max 5"])
def test_what_is_not_a_pressure_line_is_a_lab_error(text):
    with pytest.raises(LabError, match="not a pressure line"):
        pressure.parse(text)


def test_reading_a_missing_pressure_file_says_psi_may_be_off(tmp_path):
    with pytest.raises(LabError, match="PSI is off") as err:
        pressure.read(tmp_path / "memory.pressure")
    assert "psi=1" in err.value.fix
    (tmp_path / "memory.pressure").write_text(MEMORY)
    assert pressure.read(tmp_path / "memory.pressure")["full"].avg60 == 1.11


def test_machine_wide_pressure_is_only_for_cpu_memory_and_io():
    with pytest.raises(LabError, match="Use one of: cpu, memory, io"):
        pressure.system("disk")


def test_needs_v2_is_silent_on_v2_and_says_why_in_one_line_elsewhere(capsys):
    assert cgroups.needs_v2(V2) is True
    assert capsys.readouterr().out == ""
    for text, name in ((HYBRID, "hybrid"), (V1, "v1")):
        assert cgroups.needs_v2(text) is False
        out = capsys.readouterr().out
        assert out.count("\n") == 1 and f"mounts cgroups as {name}" in out and "needs cgroup v2" in out


def test_attempt_returns_ok_or_the_errno_name_instead_of_raising(tmp_path):
    knob = tmp_path / "cgroup.subtree_control"
    knob.write_text("")
    assert files.attempt(knob, "+memory") == "ok"
    assert knob.read_text() == "+memory"
    assert files.attempt(tmp_path / "no-group" / "cgroup.procs", 1) == "ENOENT"
    assert files.attempt(tmp_path, "x") == "EISDIR"


class Refusing:
    """os, as files.py sees it, except that write(2) fails with `code` (as the kernel's cgroup files do)."""

    def __init__(self, code: int) -> None:
        self.code = code

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, fd, data):
        raise OSError(self.code, os.strerror(self.code))


def test_a_refusal_explains_the_v2_rules_behind_ebusy_and_eacces(tmp_path, monkeypatch):
    knob = tmp_path / "cgroup.subtree_control"
    knob.write_text("")
    monkeypatch.setattr(files, "os", Refusing(errno.EBUSY))
    with pytest.raises(LabError, match="no internal processes"):
        files.write(knob, "+memory")
    assert files.attempt(knob, "+memory") == "EBUSY"
    monkeypatch.setattr(files, "os", Refusing(errno.EACCES))
    with pytest.raises(LabError, match="common ancestor"):
        files.write(knob, 42)


def fake_group(tmp_path: Path, pids: dict[str, str]) -> cgroup.Cgroup:
    """A v2-shaped group in a temporary directory: each key is a directory below it, with its cgroup.procs."""
    top = tmp_path / "lab-08-fake"
    for rel, procs in pids.items():
        (top / rel).mkdir(parents=True, exist_ok=True)
        (top / rel / "cgroup.procs").write_text(procs)
    return cgroup.Cgroup("lab-08-fake", {"memory": cgroup.Part("memory", "v2", top, v2.CONTROLLERS["memory"])})


def test_a_groups_members_include_its_child_groups_processes(tmp_path):
    cg = fake_group(tmp_path, {".": "", "lab-08-leaf": "41\n", "lab-08-leaf/deeper": "42\n43\n"})
    assert cg.procs() == []                  # cgroup.procs of the group itself: nobody
    assert cg._members() == [41, 42, 43]


def test_remove_takes_child_groups_deepest_first(tmp_path, monkeypatch):
    cg = fake_group(tmp_path, {".": "", "a": "", "a/b": "", "c": ""})
    removed = []
    monkeypatch.setattr(cgroup, "_rmdir", lambda d, **kw: removed.append(d.relative_to(tmp_path / "lab-08-fake")))
    monkeypatch.setattr(cgroup.owned, "unmark", lambda kind, name: None)
    cg.remove()
    assert removed[0] == Path("a/b") and removed[-1] == Path(".")
    assert set(removed) == {Path("a/b"), Path("a"), Path("c"), Path(".")}


def test_popen_waits_for_a_pid_in_every_directory_of_the_group(tmp_path):
    cg = fake_group(tmp_path, {".": "7\n"})
    assert cg._holds(7) and not cg._holds(8)
    other = tmp_path / "v1-pids" / "lab-08-fake"
    other.mkdir(parents=True)
    (other / "cgroup.procs").write_text("")
    cg.parts["pids"] = cgroup.Part("pids", "v1", other, None)
    assert not cg._holds(7)                  # joined the memory hierarchy, not yet the pids one
