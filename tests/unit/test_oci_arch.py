"""labkit.oci.arch: uname's machine names as OCI/Go architectures."""
import os

import pytest

from labkit.errors import LabError
from labkit.oci import arch


@pytest.mark.parametrize("machine, bits, platform", [
    ("x86_64", 64, {"os": "linux", "architecture": "amd64"}),
    ("aarch64", 64, {"os": "linux", "architecture": "arm64"}),
    ("armv7l", 32, {"os": "linux", "architecture": "arm", "variant": "v7"}),
    ("ppc64le", 64, {"os": "linux", "architecture": "ppc64le"}),
    ("s390x", 64, {"os": "linux", "architecture": "s390x"}),
    ("riscv64", 64, {"os": "linux", "architecture": "riscv64"}),
])
def test_machines_get_their_go_names(machine, bits, platform):
    assert arch.platform_of(machine, bits) == platform


def test_an_unknown_machine_is_refused_in_one_clear_sentence():
    with pytest.raises(LabError) as err:
        arch.platform_of("mips")
    assert str(err.value) == (
        "labkit has no OCI architecture name for 'mips': images name their machine as Go's GOARCH does, "
        "and containerd runs only its own. Give the image's 'architecture' yourself, or add the name to "
        "labkit/oci/arch.py.")


@pytest.mark.parametrize("machine, bits", [("aarch64", 32), ("x86_64", 32), ("armv7l", 64)])
def test_a_process_of_the_other_word_size_is_refused(machine, bits):
    # An armhf userland on an aarch64 kernel runs arm images, whatever uname says.
    with pytest.raises(LabError, match=f"a {bits}-bit process on '{machine}'"):
        arch.platform_of(machine, bits)


def test_the_host_platform_is_this_machines():
    assert arch.host_platform() == arch.platform_of(os.uname().machine)

