"""Checkers for lesson 06 · The OCI runtime spec and runc."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from labkit import config
from labkit.check import Result, checker
from labkit.errors import LabError
from labkit.oci import spec
from labkit.oci.runtime import Runtime

PROBE = "lab-06-check-ro"          # the container the 06.2 checker runs
PROBE_SCRIPT = ("touch /lab-06-probe 2>/dev/null && echo root=writable || echo root=readonly; "
                "touch /tmp/lab-06-probe 2>/dev/null && echo tmp=writable || echo tmp=readonly")


@checker("06.1")
def stopped_container(answer: object) -> Result:
    """The id of a runc container (under the lab's --root) that is stopped but not deleted."""
    if not isinstance(answer, str):
        return Result(False, f"Answer with the container's id, a string; you gave {type(answer).__name__}.")
    if not answer.startswith("lab-06-"):
        return Result(False, f"Name the container lab-06-…: {answer!r} would escape `labkit.clean(\"06\")`.")
    runc = Runtime("runc")
    state = runc.state(answer)
    if state is None:
        if Runtime("runc", root="/run/runc").state(answer) is not None:
            return Result(False, f"runc knows {answer!r} under its default --root /run/runc, not the lab's: "
                                 f"run runc with --root {config.RUNC_ROOT}, where the lesson and `labkit clean` look.")
        known = [c["id"] for c in runc.list()]
        return Result(False, f"runc (--root {config.RUNC_ROOT}) knows no container {answer!r} (it knows "
                             f"{known or 'none'}). Did you delete it? A stopped container exists until `delete`.")
    status = state["status"]
    if status == "created":
        return Result(False, "It is created: `runc init` waits on exec.fifo and your program has not run. "
                             "`start` it, and let its program end.")
    if status in ("running", "paused"):
        return Result(False, f"It is {status}: its program still runs. Give it a program that ends by itself, "
                             "or end it from outside.")
    if status != "stopped":
        return Result(False, f"runc says {status!r}; the exercise wants 'stopped'.")
    return Result(True, f"Right: {answer} is stopped. Its process is gone, yet runc keeps its state in "
                        f"{config.RUNC_ROOT}/{answer} until `runc delete`.")


def _probe(cfg: dict, bundle: Path) -> tuple[str, str]:
    """Run the probe script under the learner's config (rootfs, mounts, readonly) and report."""
    cfg = json.loads(json.dumps(cfg))
    rootfs = Path(cfg["root"]["path"])
    rootfs = rootfs if rootfs.is_absolute() else (bundle / rootfs).resolve()
    cfg["root"]["path"] = str(rootfs)
    cfg["process"].update(args=["sh", "-c", PROBE_SCRIPT], terminal=False)
    cfg.pop("hooks", None)                   # the probe tests the filesystem, nothing else
    cfg.setdefault("linux", {})["cgroupsPath"] = f"/{PROBE}"
    probe_dir = config.SCRATCH / PROBE
    shutil.rmtree(probe_dir, ignore_errors=True)
    probe_dir.mkdir(parents=True)
    runc = Runtime("runc")
    try:
        spec.write_bundle(probe_dir, cfg)
        proc = runc.run(PROBE, probe_dir)
        return proc.stdout, proc.stderr
    finally:
        if runc.state(PROBE) is not None:
            runc.delete(PROBE, force=True)
        shutil.rmtree(probe_dir, ignore_errors=True)
        (rootfs / "lab-06-probe").unlink(missing_ok=True)      # in case / was writable after all


@checker("06.2")
def readonly_bundle(answer: object) -> Result:
    """A bundle whose rootfs is read-only while /tmp is a writable tmpfs; runc itself is the judge."""
    if not isinstance(answer, (str, Path)):
        return Result(False, f"Answer with the bundle's path (the directory holding config.json); you gave {answer!r}.")
    bundle = Path(answer)
    try:
        cfg = spec.load(bundle)
        spec.validate(cfg, bundle)
    except LabError as err:
        return Result(False, f"{err}")
    if cfg["root"].get("readonly") is not True:
        return Result(False, f"root.readonly is {cfg['root'].get('readonly')!r}: the runtime mounts the rootfs "
                             "read-only only when it is true.")
    tmp = [m for m in cfg.get("mounts", []) if m.get("destination") == "/tmp"]
    if not tmp or tmp[-1].get("type") != "tmpfs":
        return Result(False, "Nothing writable is mounted at /tmp: add a mount of type tmpfs with destination /tmp "
                             "(runc makes the directory if the rootfs lacks it).")
    if "ro" in tmp[-1].get("options", []):
        return Result(False, "Your /tmp mount has the option 'ro': a read-only tmpfs is no place to write.")
    out, err = _probe(cfg, bundle)
    if "root=readonly" not in out or "tmp=writable" not in out:
        why = out.strip() or err.strip()[-300:] or "no output"
        return Result(False, f"runc ran your config with a probe, and it said: {why}. "
                             "The probe needs / read-only and /tmp writable.")
    return Result(True, "Right: under your config runc refused a write to / and allowed one to /tmp. "
                        "Docker's --read-only --tmpfs /tmp writes the same two fields.")


WRONG_ANSWERS = {
    "06.1": [42, "lab-05-life", "lab-06-never-made", "not-a-lab-name"],
    "06.2": [7, "/nonexistent/bundle", str(config.SCRATCH / "lab-06-no-such-bundle")],
}
