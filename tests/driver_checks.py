"""Running the checker on a framework driver, for the tests/test_drivers_*.py files.

:func:`check_driver` is :func:`optstate.testing.check` once the checker reads a
driver's ``has_model_level`` and ``dialect`` itself (the same change gives ``check``
its ``max_bugs``); until then it makes the checker's machine honour them here.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

import pytest

from optstate import testing
from optstate.openai import Dialect

#: Whether the checker reads has_model_level/dialect from the driver itself.
CHECKER_READS_DRIVERS = "max_bugs" in inspect.signature(testing.check).parameters


def program_of(report: str) -> list[str]:
    """The minimal program of a report, one stripped line per step."""
    return [line.strip() for line in report.split("minimal program:")[1].strip().splitlines()]


def check_driver(factory: Callable[[], Any], *, examples: int) -> testing.CheckResult:
    """``check(factory, examples=examples, seed_value=0)`` for a driver that may lack a
    model level or speak another dialect; skips when the checker has no such dialect."""
    driver = factory()
    dialect = getattr(driver, "dialect", "ga")
    if dialect not in typing.get_args(Dialect):
        pytest.skip(f"the checker has no {dialect!r} dialect yet")
    if CHECKER_READS_DRIVERS:
        return testing.check(factory, examples=examples, seed_value=0)
    attributes: dict[str, Any] = {"dialect": dialect}
    if not getattr(driver, "has_model_level", True):
        attributes["model_update"] = None  # no model-level rule
    machine = type("FrameworkChecker", (testing.make_machine(factory),), attributes)
    return testing._check_machine(machine, examples=examples, seed_value=0, steps=20, progress=None)
