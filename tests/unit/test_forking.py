"""labkit.ns's children on every Python: a child's error comes back with its traceback."""
from __future__ import annotations

import pytest

from labkit import ns


def test_a_childs_exception_comes_back_with_its_traceback_as_a_note():
    with pytest.raises(ZeroDivisionError) as err:
        ns.in_child(lambda: 1 / 0)
    assert err.value.__notes__[0].startswith("In the child process:\nTraceback")
