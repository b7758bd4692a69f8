"""The lab containerd's config follows the machine: restrict_oom_score_adj only where containerd
cannot lower a score (no CAP_SYS_RESOURCE, as on a host that is itself a container)."""
import pytest

from labkit.engine import containerd
from labkit.kernel import caps


@pytest.mark.parametrize("effective, expected", [
    ({"CAP_SYS_ADMIN", "CAP_SYS_RESOURCE"}, "restrict_oom_score_adj = false"),
    ({"CAP_SYS_ADMIN"}, "restrict_oom_score_adj = true"),
])
def test_restrict_oom_score_adj_only_without_cap_sys_resource(monkeypatch, effective, expected):
    monkeypatch.setattr(caps, "cap_get", lambda pid=0: {"effective": effective, "permitted": effective,
                                                          "inheritable": set()})
    lines = [line.strip() for line in containerd.render_config().splitlines()]
    assert expected in lines and sum(line.startswith("restrict_oom_score_adj") for line in lines) == 1
