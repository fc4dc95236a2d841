"""Each benchmark runs once at tiny size, so it cannot rot (no timing is asserted)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from bench.__main__ import MODULES, target_lines
from bench._timing import Row, Target

import optstate
from optstate.openai import RealtimeOptions


@pytest.mark.parametrize("name", MODULES)
def test_bench_module_runs(name: str) -> None:
    """Each registered benchmark produces rows with positive timings and ratios,
    and its targets can be evaluated on them (met or not: no timing is asserted)."""
    module = importlib.import_module(name)
    rows = module.run(quick=True)
    assert rows
    for row in rows:
        assert isinstance(row, Row)
        assert row.timing.median > 0
        assert row.base.median > 0
        assert row.ratio > 0
    for target in module.targets(rows):
        assert isinstance(target, Target)
        assert target.goal
        assert target.measured


def test_every_bench_module_is_registered() -> None:
    """Every bench/bench_*.py is in ``python -m bench``'s MODULES."""
    found = {f"bench.{p.stem}" for p in (Path(__file__).parent.parent / "bench").glob("bench_*.py")}
    assert found == set(MODULES)


def test_missed_targets_are_explained_with_a_profile() -> None:
    """A missed or close target's note and the top of its cProfile go into RESULTS.md;
    a target met with room to spare gets only its table row."""
    x = RealtimeOptions()
    missed = Target(
        "diff(x, x) ≤ 0 µs",
        "0.1 µs",
        False,
        note="Why.",
        profile=("diff(x, x)", {"diff": optstate.diff, "x": x}),
    )
    close = Target("close", "2", True, note="Near.", close=True)
    text = "\n".join(target_lines([missed, Target("met", "1", True, note="Hidden."), close]))
    assert "| diff(x, x) ≤ 0 µs | 0.1 µs | **missed** |" in text
    assert "| met | 1 | met |" in text
    assert "| close | 2 | met, within 10% |" in text
    assert "Why." in text
    assert "Near." in text
    assert "Hidden." not in text
    assert "ncalls" in text
    assert "(diff)" in text
