"""Each benchmark runs once at tiny size, so it cannot rot (no timing is asserted)."""

from __future__ import annotations

import bench.bench_diff


def test_bench_diff_runs() -> None:
    """bench_diff produces rows with a positive ratio against its baseline."""
    rows = bench.bench_diff.run(quick=True)
    assert rows
    for _name, timing, _base, ratio in rows:
        assert timing.median > 0
        assert ratio > 0
