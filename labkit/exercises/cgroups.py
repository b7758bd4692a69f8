"""Checkers for lesson 08 · cgroups v1 and v2."""
from __future__ import annotations

import os
from pathlib import Path

from labkit import cgroups, config, engine
from labkit.cgroups import files
from labkit.check import Result, checker
from labkit.errors import LabError
from labkit.kernel import procfs

CONTAINER = "lab-08-limits"          # started by the lesson with --memory 64m --pids-limit 100 --cpus 0.5
FLAGS = {"memory_max": "256M", "pids_max": 200, "cpus": 1.5}    # docker run --memory 256m --pids-limit 200 --cpus 1.5
MINE = {"memory": 50 << 20, "pids": 10}                         # exercise 08.2: 50 MiB, 10 processes
SHARED = "lab-08-shared"             # exercise 08.4: two sleeps in it, one to be held to 40 MiB
ONE_OF_TWO = 40 << 20


def _wrong_paths() -> list:
    root = Path(cgroups.controllers().get("pids", "/sys/fs/cgroup"))
    return ["/sys/fs/cgroup/pids.max", str(root / "pids.max"), str(root / config.CGROUP_PARENT / "pids.max"),
            str(root / "memory.max"), "pids.max", 100]


def _wrong_groups() -> list:
    root = Path(cgroups.controllers().get("memory", "/sys/fs/cgroup"))
    return [str(root / SHARED), str(root / "lab-08-first"), "lab-08-first", str(root / SHARED / "lab-08-first"),
            40 << 20]


WRONG_ANSWERS = {
    "08.1": [{"memory.max": "256m", "pids.max": "200", "cpu.max": "150000 100000"},
             {"memory.max": "256000000", "pids.max": "200", "cpu.max": "150000 100000"},
             {"memory.max": str(256 << 20), "pids.max": "200", "cpu.max": "1.5"},
             {"memory.max": str(256 << 20), "pids.max": "200", "cpu.max": "150000"},
             {"memory.limit_in_bytes": str(256 << 20)}, "memory.max=256M"],
    "08.2": lambda: [os.getpid(), 1, "sleep", 10**7],
    "08.3": _wrong_paths,
    "08.4": _wrong_groups,
}


@checker("08.1")
def flags_to_v2_files(answer: object) -> Result:
    """Docker's --memory 256m --pids-limit 200 --cpus 1.5, as the lines the v2 files read back."""
    if not isinstance(answer, dict):
        return Result(False, f"Answer with a dict {{file name: value}}; you gave {type(answer).__name__}.")
    want = cgroups.plan(**FLAGS).v2()
    want = {k: want[k] for k in ("memory.max", "pids.max", "cpu.max")}
    got = {str(k): str(v).strip() for k, v in answer.items()}
    v1 = [k for k in got if k not in want and (k.startswith(("memory.", "cpu.cfs")) or k.endswith("_in_bytes"))]
    if v1:
        return Result(False, f"{', '.join(v1)}: {'that is a v1 name' if len(v1) == 1 else 'those are v1 names'}. "
                             "v2 has one file per knob, named memory.max, pids.max and cpu.max.")
    missing = [k for k in want if k not in got]
    if missing:
        return Result(False, f"Give a value for {', '.join(missing)} too.")
    if got["memory.max"] != want["memory.max"]:
        return Result(False, f"memory.max holds plain bytes, and Docker's 'm' means MiB (1024 × 1024 bytes); "
                             f"{got['memory.max']!r} is not 256 MiB written that way.")
    if got["pids.max"] != want["pids.max"]:
        return Result(False, f"pids.max holds the process count as given; {got['pids.max']!r} is not it.")
    if got["cpu.max"] != want["cpu.max"]:
        return Result(False, "cpu.max reads back as two numbers, 'quota period', both in microseconds; "
                             f"{got['cpu.max']!r} is not --cpus 1.5 over Docker's 100 ms period.")
    return Result(True, "Right: the kernel sees bytes, a count, and CPU time per period; Docker's flags are "
                        "just friendlier spellings of those three lines.")


@checker("08.2")
def contained_by_hand(answer: object) -> Result:
    """A `sleep` started in lab-08-mine, limited to 50 MiB and 10 processes, by writing the files."""
    if isinstance(answer, bool) or not isinstance(answer, int):
        return Result(False, f"Answer with the pid (an int) of the process you started; you gave {answer!r}.")
    if procfs.state(answer) is None:
        return Result(False, f"No process {answer} is running. Start `sleep 600` inside your group and give its pid.")
    cmd = next(iter(procfs.cmdline(answer)), "")    # its program; '' for a kernel thread
    group = cgroups.of(answer)
    names = {c: str(p.path) for c, p in group.parts.items() if c in MINE}
    outside = [c for c in MINE if not Path(names.get(c, "/")).name.startswith(config.lab_prefix("08"))]
    if outside:
        where = ", ".join(f"{c} in {names.get(c, '?')}" for c in outside)
        return Result(False, f"pid {answer} ({cmd}) is not in a lab-08-… group for {' and '.join(outside)} "
                             f"({where}). Write its pid into cgroup.procs of your group"
                             f"{' in each hierarchy: v1 has one per controller' if group.version != 'v2' else ''}.")
    limits = group.limits()
    if limits.get("memory_max") != MINE["memory"]:
        return Result(False, f"Its group's memory limit is {limits.get('memory_max')} bytes, not 50 MiB: "
                             "the file takes bytes (50 × 1024 × 1024).")
    if limits.get("pids_max") != MINE["pids"]:
        return Result(False, f"Its group's pids.max is {limits.get('pids_max')}, not 10.")
    return Result(True, f"Right: pid {answer} ({cmd}) lives in {Path(names['memory']).name}, held to 50 MiB and "
                        "10 processes by two files you wrote yourself.")


@checker("08.3")
def container_pids_file(answer: object) -> Result:
    """The file in which the kernel holds lab-08-limits' --pids-limit."""
    if not isinstance(answer, (str, Path)):
        return Result(False, f"Answer with a path (a str or a Path); you gave {type(answer).__name__} {answer!r}.")
    given = Path(answer)
    if not given.is_absolute():
        return Result(False, f"{str(answer)!r} is only a file name: give the absolute path, starting at /sys/fs/cgroup.")
    pid = engine.container_pid(CONTAINER)
    if pid is None:
        return Result(False, f"The container {CONTAINER} is not running: run the cell above that starts it, then look again.")
    real = cgroups.of(pid).path("pids") / "pids.max"
    if given == real:
        return Result(True, f"Right: {real.read_text().strip()} processes, in the container's own group below "
                            f"{config.CGROUP_PARENT}/, where the lab dockerd puts every container.")
    if not given.exists():
        return Result(False, f"{given} does not exist. Start from /proc/<pid>/cgroup of the container's process.")
    if given.name != "pids.max":
        return Result(False, f"{given.name} is not where a pids limit lives: look for pids.max.")
    if given.parent.name == config.CGROUP_PARENT:
        return Result(False, f"That is {config.CGROUP_PARENT}/ itself, the parent the lab dockerd gives every "
                             "container (--cgroup-parent): go one level down, to the container's own group.")
    return Result(False, f"{given} holds {given.read_text().strip()}: it is another group's pids.max. "
                         "Follow the container's pid in /proc/<pid>/cgroup.")


@checker("08.4")
def one_of_two(answer: object) -> Result:
    """A child group of lab-08-shared that holds one of its two sleeps to 40 MiB, the other unlimited."""
    if not isinstance(answer, (str, Path)):
        return Result(False, "Answer with the group's directory (a str or a Path); "
                             f"you gave {type(answer).__name__} {answer!r}.")
    memory_root = Path(cgroups.controllers().get("memory", "/sys/fs/cgroup"))
    return judge_one_of_two(Path(answer), memory_root / SHARED, "v2" if cgroups.mode() == "v2" else "v1")


def judge_one_of_two(given: Path, shared: Path, version: str) -> Result:
    """08.4 on the files alone: `shared` is lab-08-shared in the memory hierarchy, `version` its kind."""
    limit_file = "memory.max" if version == "v2" else "memory.limit_in_bytes"
    if not given.is_absolute():
        return Result(False, f"{str(given)!r} is only a name: give the absolute path, starting at {shared.parent}.")
    if not shared.is_dir():
        return Result(False, f"There is no {SHARED}: run the cell above that starts its two sleeps, then try again.")
    if given == shared:
        return Result(False, f"That is {SHARED} itself: a limit there holds both sleeps. Make a child group below it "
                             "for `first` alone.")
    if shared not in given.parents:
        return Result(False, f"{given} is not below {SHARED}: `first` must stay inside, in a child group of {SHARED}.")
    if not given.is_dir():
        return Result(False, f"{given} does not exist: make it with mkdir, below {SHARED}.")
    inside = _pids(given)
    if len(inside) != 1:
        return Result(False, f"{given.name} holds {len(inside)} processes: put exactly one, `first`, into its "
                             "cgroup.procs.")
    if not (given / limit_file).exists():
        return Result(False, f"{given.name} has no {limit_file}: {SHARED} does not give memory to its children yet. "
                             f"Write +memory into {SHARED}/cgroup.subtree_control; the kernel refuses that while "
                             f"{SHARED} itself holds a process, so move `second` down into a child group first.")
    limit = files.number(given / limit_file)
    if limit is None:
        return Result(False, f"{given.name}'s {limit_file} sets no limit yet: write 40 MiB into it; the file takes "
                             "bytes (40 × 1024 × 1024).")
    if limit != ONE_OF_TWO:
        return Result(False, f"{given.name}'s {limit_file} is {limit}, not 40 MiB: the file takes bytes "
                             "(40 × 1024 × 1024).")
    others = [(pid, d) for d in [shared, *(p for p in shared.rglob("*") if p.is_dir() and p != given)]
              for pid in _pids(d) if procfs.state(pid) is not None]
    if not others:
        return Result(False, f"`second` is no longer in {SHARED}: keep it inside (in {SHARED} or a group below it), "
                             "running.")
    for pid, d in others:
        held = [g for g in (d, *d.parents) if (g == shared or shared in g.parents) and (g / limit_file).exists()
                and files.number(g / limit_file) is not None]
        if held:
            return Result(False, f"pid {pid}, the other sleep, is held too, by {held[0].name}/{limit_file}: "
                                 "only `first` should have a limit.")
    return Result(True, f"Right: pid {inside[0]} is held to 40 MiB in {given.name}, and its sibling runs unlimited; "
                        f"both still sit below {SHARED}, one limit for one process.")


def _pids(group: Path) -> list[int]:
    try:
        return files.procs(group)
    except LabError:
        return []
