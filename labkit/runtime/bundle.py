"""A bundle's config.json, read and checked: whatever labrun does not do is refused by name, never ignored.

A field left at its zero value (0, false, "", [], {}) asks for nothing, as Docker sends
`cpu.shares: 0` and `blockIO.weight: 0`; any other value of a field not listed here is refused.
"""
from __future__ import annotations

import json
from pathlib import Path

from labkit.runtime.errors import Refused

ANY = None          # a leaf: any value, checked where it is used
# What labrun reads. A dict names the keys it understands below a key.
SUPPORTED: dict = {
    "ociVersion": ANY, "hostname": ANY, "domainname": ANY, "annotations": ANY, "mounts": ANY,
    "root": {"path": ANY, "readonly": ANY},
    "hooks": {"prestart": ANY, "createRuntime": ANY, "createContainer": ANY, "startContainer": ANY,
              "poststart": ANY, "poststop": ANY},
    "process": {"terminal": ANY, "consoleSize": ANY, "user": {"uid": ANY, "gid": ANY, "umask": ANY, "additionalGids": ANY},
                "args": ANY, "env": ANY, "cwd": ANY, "capabilities": ANY, "rlimits": ANY,
                "noNewPrivileges": ANY, "apparmorProfile": ANY, "oomScoreAdj": ANY, "selinuxLabel": ANY},
    "linux": {"namespaces": ANY, "uidMappings": ANY, "gidMappings": ANY, "devices": ANY, "cgroupsPath": ANY,
              "rootfsPropagation": ANY, "seccomp": ANY, "sysctl": ANY, "maskedPaths": ANY, "readonlyPaths": ANY,
              "resources": {"devices": ANY, "pids": {"limit": ANY},
                            "memory": {"limit": ANY, "swap": ANY, "disableOOMKiller": ANY},
                            "cpu": {"shares": ANY, "quota": ANY, "period": ANY}}},
}


def load(bundle: Path) -> dict:
    """config.json of `bundle`, checked against what labrun supports."""
    path = Path(bundle) / "config.json"
    try:
        spec = json.loads(path.read_text())
    except FileNotFoundError:
        raise Refused(f"no config.json in bundle {bundle}: make one with `runc spec`") from None
    except (OSError, ValueError) as err:
        raise Refused(f"cannot read {path}: {err}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("process"), dict) or not spec["process"].get("args"):
        raise Refused(f"{path} has no process.args: the container needs a program to run")
    check(spec)
    return spec


def check(spec: dict) -> None:
    """Refuse the first field, in document order, that labrun does not support."""
    for path in unsupported(spec, SUPPORTED):
        raise Refused(f"unsupported field {path} in config.json; remove it, or run this bundle with runc")


def unsupported(value: object, allowed: dict, prefix: str = "") -> list[str]:
    """Dotted paths of the set fields that `allowed` does not list."""
    found = []
    if not isinstance(value, dict):
        return found
    for key, sub in value.items():
        where = f"{prefix}{key}"
        if key not in allowed:
            if _set(sub):
                found.append(where)
        elif isinstance(allowed[key], dict):
            found += unsupported(sub, allowed[key], where + ".")
    return found


def _set(value: object) -> bool:
    if isinstance(value, dict):
        return any(_set(v) for v in value.values())
    return value not in (None, 0, False, "", [])
