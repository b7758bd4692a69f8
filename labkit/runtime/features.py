"""`labrun features`: what this runtime supports, in the OCI runtime spec's features.md format."""
from __future__ import annotations

from labkit.kernel import CAPS
from labkit.runtime import mounts, seccomp
from labkit.runtime.init import CLONE
from labkit.runtime.store import OCI_VERSION


def features() -> dict:
    """The features document (no container needed, no global flags used)."""
    return {
        "ociVersionMin": "1.0.0", "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": sorted([*mounts.FLAGS, *mounts.PROPAGATION]),
        "linux": {
            "namespaces": sorted(CLONE), "capabilities": CAPS,
            "cgroup": {"v1": True, "v2": True, "systemd": True, "systemdUser": False},
            "seccomp": {"enabled": True, "actions": sorted(seccomp.ACTIONS), "operators": sorted(seccomp.OPS)},
            "apparmor": {"enabled": True}, "selinux": {"enabled": True},
        },
        "annotations": {"org.labkit.runtime": "labrun"},
    }
