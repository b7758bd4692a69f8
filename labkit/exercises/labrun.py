"""Checkers for lesson 12 · labrun: the order of a runtime's steps, and a field refused rather than ignored."""
from __future__ import annotations

import copy
import json
import shutil
from typing import Callable

from labkit import config, owned
from labkit.check import Result, checker

# -- 12.1 · which side of the pivot ------------------------------------------------------------------

# The steps, as the lesson lists them (shuffled there); each rule below is (before, after, why).
STEPS = ("join the cgroup", "unshare the namespaces", "mount the container's filesystems",
         "import every module", "run the createRuntime hooks", "pivot_root", "drop capabilities",
         "set no_new_privs", "load the seccomp filter", "wait on exec.fifo", "execve the program")

_READY = ("`create` must report every failure, and a container waiting on exec.fifo is ready: nothing may be "
          "left to do but execve")
RULES: tuple[tuple[str, str, str], ...] = (
    ("join the cgroup", "unshare the namespaces",
     "a new cgroup namespace is rooted at the group the process is in when it unshares "
     "(cgroup_namespaces(7)), and every process forked before the join escapes the limits"),
    ("unshare the namespaces", "mount the container's filesystems",
     "a mount made before the new mount namespace exists is made in the host's, for every process to see"),
    ("mount the container's filesystems", "run the createRuntime hooks",
     "the runtime spec runs createRuntime hooks once the container's environment is made (config.md, "
     "\"createRuntime Hooks\"): they may look at its mounts"),
    ("run the createRuntime hooks", "pivot_root",
     "the runtime spec calls createRuntime hooks \"before the pivot_root or any equivalent operation\""),
    ("mount the container's filesystems", "pivot_root",
     "a bind mount's source is a host path: after pivot_root the host's tree is out of reach"),
    ("import every module", "pivot_root",
     "after pivot_root, `import` reads the container's files: a module planted there would run as the "
     "runtime, as root, before any limit applies"),
    ("pivot_root", "drop capabilities",
     "pivot_root(2) and mount(2) need CAP_SYS_ADMIN: dropped first, they fail with EPERM"),
    ("set no_new_privs", "load the seccomp filter",
     "without no_new_privs, loading a filter needs CAP_SYS_ADMIN (seccomp(2)), which is gone by then; with "
     "it, any process may load one"),
    ("drop capabilities", "load the seccomp filter",
     "every call the runtime makes after the filter must pass it: load it late, or Docker's profile would "
     "have to allow capset and prctl to the container too"),
    ("drop capabilities", "wait on exec.fifo", _READY),
    ("pivot_root", "wait on exec.fifo", _READY),
    ("wait on exec.fifo", "execve the program", "the program must not run before `start`"),
    ("load the seccomp filter", "execve the program", "a filter loaded after execve is one the program chose"),
)


def judge_order(answer: object) -> Result:
    """The verdict on an order of STEPS: every step once, and no rule broken."""
    if not isinstance(answer, (list, tuple)) or not all(isinstance(step, str) for step in answer):
        return Result(False, f"Give a list of the step names (strings); you gave {type(answer).__name__}.")
    unknown = [step for step in answer if step not in STEPS]
    if unknown:
        return Result(False, f"{unknown[0]!r} is not one of the steps: copy the names from STEPS.")
    missing = [step for step in STEPS if step not in answer]
    if missing or len(answer) != len(STEPS):
        twice = sorted({step for step in answer if answer.count(step) > 1})
        return Result(False, f"Every step exactly once: {'missing ' + repr(missing[0]) if missing else 'twice ' + repr(twice[0])}.")
    at = {step: i for i, step in enumerate(answer)}
    for before, after, why in RULES:
        if at[before] > at[after]:
            return Result(False, f"{after!r} comes before {before!r} in yours, but it cannot: {why}.")
    return Result(True, "Right: the host's side (cgroup, namespaces, mounts, imports, hooks) before pivot_root, "
                        "the process's side (capabilities, no_new_privs, seccomp) after it, and nothing but "
                        "execve after exec.fifo opens. labkit/runtime/init.py keeps this order.")


@checker("12.1")
def order(answer: object) -> Result:
    return judge_order(answer)


# -- 12.2 · refused, not ignored ---------------------------------------------------------------------

CHECK_ID = "lab-12-check"


def _edited(edit: Callable[[dict], object]) -> tuple[dict, bool]:
    """`runc spec`'s config for a busybox bundle, edited by `edit`; and whether the edit changed it."""
    from labkit import fs

    cfg = fs.runc_spec()
    cfg["process"].update(terminal=False, args=["true"], env=["PATH=/bin", f"{config.OWNER_ENV}=12"])
    cfg["linux"]["cgroupsPath"] = f"/{CHECK_ID}"
    edited = copy.deepcopy(cfg)
    edit(edited)
    return edited, edited == cfg


def _created(runtime: str, path) -> str | None:
    """None when `runtime` creates the container (then deleted), else its error in its words."""
    from labkit.errors import LabError
    from labkit.oci.runtime import Runtime

    rt = Runtime(runtime)
    try:
        rt.create(CHECK_ID, path)
    except LabError as err:
        return err.why or err.what
    finally:
        if rt.state(CHECK_ID) is not None:
            rt.delete(CHECK_ID, force=True)
    return None


def judge_refusal(edit: object) -> Result:
    """The verdict on `edit(cfg)`, a change to config.json that runc takes and labrun refuses."""
    if not callable(edit):
        return Result(False, f"Give a function that changes a config dict in place; you gave {type(edit).__name__}.")
    try:
        cfg, unchanged = _edited(edit)
    except Exception as err:                        # noqa: BLE001  (the learner's function failed)
        return Result(False, f"Your function raised {type(err).__name__}: {err}. Try it on `fs.runc_spec()` first.")
    if unchanged:
        return Result(False, "Your function left the config as it was: both runtimes run that.")
    from labkit import fs

    root = fs.overlay(CHECK_ID, fs.rootfs("labkit/busybox"))
    path = config.SCRATCH / f"{CHECK_ID}-bundle"
    try:
        path.mkdir()
        if isinstance(cfg.get("root"), dict) and "path" in cfg["root"]:
            cfg["root"]["path"] = str(root.merged)
        owned.mark("cgroup", f"/{CHECK_ID}")        # what a runtime leaves, `labkit clean` may take
        (path / "config.json").write_text(json.dumps(cfg))     # as given: spec.validate would refuse first
        refused = _created("labrun", path)
        ran = _created("runc", path)
        leftover = (config.LABRUN_ROOT / CHECK_ID).exists()
    finally:
        root.remove()
        shutil.rmtree(path, ignore_errors=True)
    if ran is not None:
        return Result(False, f"runc refuses that config too ({ran}): pick a field runc takes, and labrun's "
                             "bundle.SUPPORTED does not list.")
    if refused is None:
        return Result(False, "labrun took it: it supports (or ignores at its zero value) what you changed. "
                             "Compare labkit/runtime/bundle.py's SUPPORTED with the runtime spec's config.md.")
    if "unsupported field" not in refused:
        return Result(False, f"labrun refused it, but not as unsupported: {refused}. Change a field, not its shape.")
    if leftover:
        return Result(False, "labrun refused it but left its state behind: that is labrun's bug; tell the course.")
    field = refused.split("unsupported field ", 1)[1].split(" in config.json")[0]
    return Result(True, f"Right: runc created it, labrun refused {field} in one sentence and left nothing. "
                        "A runtime that ignored it would run a container you did not ask for.")


@checker("12.2")
def refusal(answer: object) -> Result:
    return judge_refusal(answer)


def _wrong_field(cfg: dict) -> None:
    cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20}}            # both support it


def _broken(cfg: dict) -> None:
    del cfg["process"]["args"]                                              # both refuse it


def _raises(cfg: dict) -> None:
    cfg["nope"]["deeper"] = 1


WRONG_ANSWERS = {
    "12.1": [list(STEPS[::-1]), [*STEPS[:5], STEPS[6], STEPS[5], *STEPS[7:]],
             [STEPS[0], STEPS[1], STEPS[2], STEPS[4], STEPS[5], STEPS[3], *STEPS[6:]],
             [*STEPS[:6], STEPS[6], STEPS[8], STEPS[7], *STEPS[9:]], list(STEPS[:-1]), "pivot_root", None],
    "12.2": [None, lambda cfg: None, _wrong_field, _broken, _raises, "linux.personality"],
}
