"""The host's platform under its OCI names: architectures as Go's GOARCH spells them (amd64, arm64).

Image configs and index entries say which machine an image runs on, and containerd unpacks only
the images whose platform matches its own, so an image built here must name this machine.
"""
from __future__ import annotations

import os
import sys

from labkit.errors import LabError

# uname's machine -> (GOARCH, variant, bits of its processes), normalized as containerd's
# platforms package does (aarch64 is arm64 with no variant: v8 is its default).
MACHINES: dict[str, tuple[str, str, int]] = {
    "x86_64": ("amd64", "", 64),
    "aarch64": ("arm64", "", 64),
    "armv7l": ("arm", "v7", 32),
    "ppc64le": ("ppc64le", "", 64),
    "s390x": ("s390x", "", 64),
    "riscv64": ("riscv64", "", 64),
}


def platform_of(machine: str, bits: int = 64) -> dict[str, str]:
    """The OCI platform of a `bits`-bit process on `machine` (uname -m): {"os", "architecture"[, "variant"]}."""
    goarch, variant, word = MACHINES.get(machine, ("", "", 0))
    if word != bits:
        # A 32-bit userland on a 64-bit kernel (armhf on aarch64) runs other images than the kernel's name says.
        abi = repr(machine) if machine not in MACHINES else f"a {bits}-bit process on {machine!r}"
        raise LabError(f"labkit has no OCI architecture name for {abi}",
                       "images name their machine as Go's GOARCH does, and containerd runs only its own",
                       "Give the image's 'architecture' yourself, or add the name to labkit/oci/arch.py")
    return {"os": "linux", "architecture": goarch, **({"variant": variant} if variant else {})}


def host_platform() -> dict[str, str]:
    """This process's OCI platform: the machine from uname, the word size from this Python."""
    return platform_of(os.uname().machine, 64 if sys.maxsize > 2**32 else 32)
