"""labkit.kernel's pure parts: flag names in errors, capability names, errno hints."""
import errno

import pytest

from labkit.errors import BadInput, LabError
from labkit.kernel import CLONE_NEWNET, CLONE_NEWUTS, KernelError, cap_value, unshare
from labkit.kernel.namespaces import flag_names


def test_flags_are_shown_by_their_c_names():
    assert flag_names(CLONE_NEWUTS | CLONE_NEWNET) == "CLONE_NEWUTS|CLONE_NEWNET"
    assert flag_names(CLONE_NEWUTS | 0x1) == "CLONE_NEWUTS|0x1"
    assert flag_names(0) == "0"


def test_capabilities_by_name_and_number():
    assert cap_value("CAP_SYS_ADMIN") == 21 == cap_value("sys_admin")
    with pytest.raises(BadInput, match="Unknown capability 'CAP_FLY'"):
        cap_value("CAP_FLY")


def test_kernel_error_names_the_call_the_errno_and_a_hint():
    err = KernelError("mount('none', '/x', 'tmpfs', 0, None)", errno.EPERM)
    assert isinstance(err, LabError) and isinstance(err, OSError)
    assert err.errno == errno.EPERM
    assert str(err).startswith("mount('none', '/x', 'tmpfs', 0, None) failed: EPERM (Operation not permitted). ")
    assert "CAP_SYS_ADMIN" in str(err)


def test_bad_flags_are_refused_before_the_call():
    with pytest.raises(BadInput, match="CLONE_NEW\\* flags as an int"):
        unshare("uts")
