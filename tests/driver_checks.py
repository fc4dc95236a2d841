"""Running the checker on a framework driver, for the tests/test_drivers_*.py files."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

import pytest

from optstate import testing
from optstate.openai import Dialect


def program_of(report: str) -> list[str]:
    """The minimal program of a report, one stripped line per step."""
    return [line.strip() for line in report.split("minimal program:")[1].strip().splitlines()]


def check_driver(factory: Callable[[], Any], *, examples: int) -> testing.CheckResult:
    """``check(factory, examples=examples, seed_value=0)``; skips a driver whose
    dialect optstate does not speak yet."""
    dialect = getattr(factory(), "dialect", "ga")
    if dialect not in typing.get_args(Dialect):
        pytest.skip(f"optstate has no {dialect!r} dialect yet")
    return testing.check(factory, examples=examples, seed_value=0)
