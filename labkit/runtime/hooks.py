"""OCI hooks: programs the runtime runs at points of the lifecycle, each given the container's state
as JSON on stdin (runtime spec, config.md "POSIX-platform Hooks"). Docker's prestart hook is how
its network reaches the container: `libnetwork-setkey` moves the veth into the new netns."""
from __future__ import annotations

import json
import subprocess

from labkit.runtime.errors import Refused


def run(spec: dict, point: str, state: dict) -> None:
    """Run every hook of `point` ('prestart', 'createRuntime', 'poststop', ...) in order; the first
    that fails or outlives its timeout stops the verb."""
    for hook in (spec.get("hooks") or {}).get(point) or []:
        run_one(hook, point, state)


def run_one(hook: dict, point: str, state: dict) -> None:
    """One hook: path, args (args[0] is its name), env, timeout in seconds."""
    path = hook.get("path", "")
    if not path.startswith("/"):
        raise Refused(f"{point} hook path {path!r} must be absolute")
    args = hook.get("args") or [path]
    try:
        done = subprocess.run(args, executable=path, input=json.dumps(state).encode(), capture_output=True,
                              env=dict(e.split("=", 1) for e in hook.get("env") or []), timeout=hook.get("timeout"),
                              close_fds=True)
    except subprocess.TimeoutExpired:
        raise Refused(f"{point} hook {path} did not finish within {hook.get('timeout')} s") from None
    except OSError as err:
        raise Refused(f"{point} hook {path} could not run: {err.strerror}") from None
    if done.returncode != 0:
        why = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        raise Refused(f"{point} hook {path} failed with status {done.returncode}: {why[-1] if why else 'no output'}")
