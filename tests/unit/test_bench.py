"""labkit.bench's measuring logic, with a fake workload: runtimes alternate round by round."""
from __future__ import annotations

from labkit import bench


def test_the_runtimes_take_turns_and_each_gets_its_median():
    calls = []
    rows = bench._interleaved(calls.append, rounds=3)
    assert calls == ["runc", "labrun"] * 3
    assert set(rows) == set(bench.RUNTIMES) and all(t >= 0 for t in rows.values())
