"""Timing helpers: median and spread per call, in the same process as the baseline.

A benchmark is a statement string run by :mod:`timeit` in a namespace (so no
lambda call is timed with it) or a callable. :func:`interleaved` calibrates each
one once, then times them in alternation, round after round, so that machine
noise (two shared cores) hits the measured code and its baseline alike.
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable
from typing import Any

import attrs

Bench = str | Callable[[], Any]


@attrs.frozen
class Timing:
    """Per-call seconds: the median over rounds and the spread (max - min)."""

    median: float
    spread: float
    rounds: tuple[float, ...] = ()

    def us(self) -> str:
        """``median µs ± half-spread``."""
        return f"{self.median * 1e6:.3f} µs ± {self.spread * 1e6 / 2:.3f}"


@attrs.frozen
class Row:
    """One result line: ``timing`` of optstate against ``base`` (the baseline's own
    timing, measured in the same run); ``ratio`` is optstate ÷ baseline (see :func:`ratio`).
    ``unit`` is ``"s"`` for per-call seconds, ``"B"`` when both hold bytes, or ``"/s"``
    when both hold rates (calls per second)."""

    scenario: str
    timing: Timing
    baseline: str
    base: Timing
    ratio: float
    unit: str = "s"

    def shown(self, t: Timing) -> str:
        """``t`` in this row's unit."""
        if self.unit == "/s":
            return f"{t.median:.1f}/s ± {t.spread / 2:.1f}"
        if self.unit == "B":
            return f"{t.median:.0f} B"
        if t.median >= 0.1:  # a whole check, a time to failure: seconds read better
            return f"{t.median:.3f} s ± {t.spread / 2:.3f}"
        return t.us()


@attrs.frozen
class Target:
    """A stated goal, what was measured, and whether it was met.

    ``close`` says the measurement is within 10% of the limit, so that machine
    noise may flip it between runs. ``note`` says what the time is spent on,
    for a missed or close target; ``profile`` is the statement (with its
    namespace) that ``python -m bench`` profiles to show it.
    """

    goal: str
    measured: str
    met: bool
    note: str = ""
    profile: tuple[str, dict[str, Any]] | None = None
    close: bool = False


def within(value: float, limit: float, tolerance: float = 0.1) -> bool:
    """Whether ``value`` is within ``tolerance`` (relative) of ``limit``, either side."""
    return abs(value / limit - 1) <= tolerance


def _timer(fn: Bench, namespace: dict[str, Any] | None) -> timeit.Timer:
    if isinstance(fn, str):
        return timeit.Timer(fn, globals=dict(namespace or {}))
    return timeit.Timer(fn)


def _calibrate(timer: timeit.Timer, min_time: float) -> int:
    """A loop count that makes one timed run last about ``min_time``."""
    number = 1
    while True:
        t = timer.timeit(number)
        if t >= min_time / 10 or number >= 10**7:
            return max(1, round(number * min_time / max(t, 1e-9)))
        number *= 10


def measure(
    fn: Bench, *, repeat: int = 7, min_time: float = 0.05, namespace: dict[str, Any] | None = None
) -> Timing:
    """Time ``fn`` per call: calibrate a loop count to ``min_time``, then repeat."""
    timer = _timer(fn, namespace)
    number = _calibrate(timer, min_time)
    runs = [t / number for t in timer.repeat(repeat=repeat, number=number)]
    return Timing(statistics.median(runs), max(runs) - min(runs), tuple(runs))


def interleaved(
    fns: dict[str, Bench],
    *,
    rounds: int = 5,
    min_time: float = 0.02,
    namespace: dict[str, Any] | None = None,
) -> dict[str, Timing]:
    """Time several benchmarks in alternation, so machine noise hits them alike.

    Each round runs every benchmark three times for ``min_time`` and keeps the
    best of the three (noise only ever adds time); the result is the median over
    rounds and their spread. ``Timing.rounds`` keeps the per-round times, so
    that :func:`ratio` can pair each round with its baseline.
    """
    timers = {k: _timer(fn, namespace) for k, fn in fns.items()}
    numbers = {k: _calibrate(t, min_time) for k, t in timers.items()}
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, timer in timers.items():
            n = numbers[name]
            samples[name].append(min(timer.repeat(repeat=3, number=n)) / n)
    return {k: Timing(statistics.median(v), max(v) - min(v), tuple(v)) for k, v in samples.items()}


def ratio(ours: Timing, base: Timing) -> float:
    """optstate ÷ baseline: the median of the per-round ratios when both were timed
    in the same rounds (paired, so a slow round slows both), else of the medians."""
    if ours.rounds and len(ours.rounds) == len(base.rounds):
        return statistics.median(a / b for a, b in zip(ours.rounds, base.rounds, strict=True))
    return ours.median / base.median


def settings(quick: bool) -> dict[str, Any]:
    """``interleaved`` keyword arguments for a quick (smoke) or a full run."""
    return {"rounds": 2, "min_time": 0.001} if quick else {"rounds": 15, "min_time": 0.02}
