"""Timing helpers: median and spread per call, in the same process as the baseline."""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable
from typing import Any

import attrs


@attrs.frozen
class Timing:
    """Per-call seconds: the median over ``repeat`` runs and the spread (max - min)."""

    median: float
    spread: float

    def us(self) -> str:
        return f"{self.median * 1e6:.3f} µs ± {self.spread * 1e6 / 2:.3f}"


def measure(fn: Callable[[], Any], *, repeat: int = 7, min_time: float = 0.05) -> Timing:
    """Time ``fn`` per call: calibrate a loop count to ``min_time``, then repeat."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    number = max(1, int(number * min_time / 0.2))
    runs = [t / number for t in timer.repeat(repeat=repeat, number=number)]
    return Timing(statistics.median(runs), max(runs) - min(runs))


def interleaved(
    fns: dict[str, Callable[[], Any]], *, rounds: int = 5, min_time: float = 0.02
) -> dict[str, Timing]:
    """Time several functions in alternation, so machine noise hits them alike."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t = measure(fn, repeat=3, min_time=min_time)
            samples[name].append(t.median)
    return {k: Timing(statistics.median(v), max(v) - min(v)) for k, v in samples.items()}
