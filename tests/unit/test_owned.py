"""labkit.owned: the marks of what the course made on the host."""
from __future__ import annotations

import pytest

from labkit import owned


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    monkeypatch.setattr(owned, "LEDGER", tmp_path / "owned")
    return tmp_path / "owned"


def test_a_mark_is_found_by_its_prefix_and_forgotten_when_unmarked(ledger):
    owned.mark("netns", "lab-07-a")
    owned.mark("netns", "lab-08-b")
    assert owned.marked("netns") == {"lab-07-a", "lab-08-b"}
    assert owned.marked("netns", "lab-07-") == {"lab-07-a"}
    owned.unmark("netns", "lab-07-a")
    assert owned.marked("netns") == {"lab-08-b"}


def test_a_cgroup_path_is_one_mark_with_or_without_its_leading_slash(ledger):
    owned.mark("cgroup", "/lab-06-life")
    owned.mark("cgroup", "lab-06-life")
    owned.mark("cgroup", "lab-10-box/inner")
    assert owned.marked("cgroup") == {"lab-06-life", "lab-10-box/inner"}
    assert len(list((ledger / "cgroup").iterdir())) == 2


def test_nothing_marked_is_an_empty_set_and_an_unknown_kind_an_error(ledger):
    assert owned.marked("interface") == set()
    owned.unmark("interface", "lab-01-x")          # forgetting what was never marked is no error
    with pytest.raises(ValueError):
        owned.mark("volume", "lab-01-x")
