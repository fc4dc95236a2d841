"""The harness catches the original report's mistake in a toy plugin and passes the fix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
from examples.toy_plugin import ToyDriver, ToySession
from hypothesis import HealthCheck, seed, settings

from optstate._harness import COLUMNS, NOOP, VIEW
from optstate.testing import VALIDATORS, Driver, OptionsMachine, PropertyFailed, check, make_machine

QUICK = settings(
    max_examples=40,
    stateful_step_count=10,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


class TestToy:
    def test_driver_satisfies_the_protocol(self) -> None:
        """The README's toy driver is a Driver."""
        assert isinstance(ToyDriver(broken=False), Driver)

    def test_broken_toy_fails_with_one_model_write(self) -> None:
        """The broken toy fails, shrunk to a single model-level write of one option."""
        result = check(lambda: ToyDriver(broken=True), examples=200, seed_value=1)
        assert not result.ok
        report = result.report
        assert "property broken: the server's view equals the expected state" in report
        report = result.bugs[0].report  # the most severe of the bugs found
        program = report.split("minimal program:")[1].strip().splitlines()
        assert program[0].strip() == "model = make_model()"
        assert program[1].strip() == "s0 = model.session()"
        assert len(program) == 3, report
        assert program[2].strip().startswith("model.update_options(")
        assert program[2].count("=") == 1, "one option"
        assert "expected" in report
        assert "server has" in report

    @pytest.mark.parametrize("seed_value", [0, 7])
    def test_fixed_toy_passes(self, seed_value: int) -> None:
        """The fixed toy passes every property."""
        result = check(lambda: ToyDriver(broken=False), examples=150, seed_value=seed_value)
        assert result.ok, result.report
        assert result.examples >= 150

    def test_same_seed_same_report(self) -> None:
        """A failure is reproducible by seed."""
        a = check(lambda: ToyDriver(broken=True), examples=50, seed_value=3)
        b = check(lambda: ToyDriver(broken=True), examples=50, seed_value=3)
        assert a.report == b.report


@QUICK
class FixedToyMachine(OptionsMachine):
    """The README's subclassing example, on the fixed toy."""

    driver_factory = staticmethod(lambda: ToyDriver(broken=False))


#: Collected by pytest as a unittest TestCase: the fixed toy passes the machine.
TestFixedToyMachine = FixedToyMachine.TestCase


class RecordingToy(ToyDriver):
    """The fixed toy, remembering every keyword it was asked to write."""

    written: ClassVar[set[str]] = set()

    def update_model(self, **kw: Any) -> None:
        self.written.update(kw)
        super().update_model(**kw)

    def update_session(self, index: int, **kw: Any) -> None:
        self.written.update(kw)
        super().update_session(index, **kw)


class TestSubclassing:
    def test_a_broken_toy_subclass_fails(self) -> None:
        """A subclass whose factory is a plain function runs via .TestCase and fails on the broken toy."""

        @seed(0)
        @QUICK
        class BrokenToyMachine(OptionsMachine):
            def driver_factory() -> ToyDriver:  # type: ignore[misc]  # wrapped in staticmethod
                return ToyDriver(broken=True)

        with pytest.raises(PropertyFailed, match="the server's view equals the expected state") as info:
            BrokenToyMachine.TestCase().runTest()
        toy_paths = {"audio.output.voice", "audio.output.speed", "audio.input.turn_detection"}
        assert info.value.paths, "the failure names the option paths it is about"
        assert set(info.value.paths) <= toy_paths

    def test_the_vocabulary_is_a_class_attribute(self) -> None:
        """A subclass narrowing ``keywords`` writes only those keywords, through the driver's names."""

        @seed(1)
        @QUICK
        class SpeedOnly(OptionsMachine):
            driver_factory = staticmethod(lambda: RecordingToy(broken=False))
            keywords: ClassVar[Mapping[str, str]] = {"speed": "audio.output.speed"}

        RecordingToy.written.clear()
        SpeedOnly.TestCase().runTest()
        assert RecordingToy.written == {"speed"}

    def test_make_machine_is_a_subclass(self) -> None:
        """make_machine returns an OptionsMachine subclass holding the factory."""
        machine = make_machine(lambda: ToyDriver(broken=False))
        assert issubclass(machine, OptionsMachine)
        assert isinstance(machine.driver_factory(), ToyDriver)

    def test_a_machine_without_a_factory_says_so(self) -> None:
        """Forgetting driver_factory is a TypeError that says what to set."""

        class NoDriver(OptionsMachine):
            pass

        with pytest.raises(TypeError, match="no driver_factory"):
            NoDriver()


def test_the_pytest_fixture_checks_a_driver(optstate_check: Any) -> None:
    """The plugin's one-line fixture passes the fixed toy and fails the broken one."""
    optstate_check(lambda: ToyDriver(broken=False), examples=30)
    with pytest.raises(AssertionError, match="minimal program"):
        optstate_check(lambda: ToyDriver(broken=True), examples=100)


def test_readme_shows_the_driver_the_tests_run() -> None:
    """The README's toy driver is the one in examples/ (docs cannot drift), under 50 lines."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    source = (root / "examples" / "toy_plugin.py").read_text()
    driver = source[source.index("class ToyDriver:") :]
    assert driver in (root / "README.md").read_text()
    assert len(driver.strip().splitlines()) < 50


def test_cli_rejects_a_factory_that_is_no_driver(capsys: pytest.CaptureFixture[str]) -> None:
    """`optstate check --driver os:getcwd` says what is wrong and exits 2, no traceback."""
    from optstate.__main__ import main

    assert main(["check", "--driver", "os:getcwd", "--examples", "5"]) == 2
    err = capsys.readouterr().err
    assert "must return a Driver" in err
    assert "Traceback" not in err


class TwoBugSession(ToySession):
    """A session that sends its voice even when it is unchanged (a spurious update)."""

    def update_options(self, **kw: Any) -> None:
        changed = {k: v for k, v in kw.items() if self.opts[k] != v or k == "voice"}
        self.opts.update(kw)
        if changed:
            self.send(changed)


class TwoBugToy(ToyDriver):
    """The fixed toy with two independent bugs: a model-level ``speed`` never
    reaches the sessions, and a session resends an unchanged ``voice``."""

    def new_session(self) -> int:
        self.model.sessions.append(TwoBugSession(self.model))
        return len(self.model.sessions) - 1

    def update_model(self, **kw: Any) -> None:
        self.model.opts.update(kw)
        for s in self.model.sessions:
            s.update_options(**{k: v for k, v in kw.items() if k != "speed"})


class SessionOnlyToy(ToyDriver):
    """The fixed toy as a framework without a model level."""

    has_model_level = False

    def update_model(self, **kw: Any) -> None:
        raise AssertionError("a driver without a model level gets no model-level writes")


class TestEveryBug:
    def test_two_independent_bugs_give_two_reports(self) -> None:
        """A toy with two independent bugs yields both, each with its own minimal program
        and when it was first seen (programs run, seconds into the check)."""
        result = check(lambda: TwoBugToy(broken=False), examples=300, seed_value=0)
        assert not result.ok
        found = [(b.property, b.paths) for b in result.bugs]
        assert found == [(VIEW, ("audio.output.speed",)), (NOOP, ("audio.output.voice",))], result.report
        view, noop = result.bugs
        assert view.program[-1].startswith("model.update_options(speed=")
        assert "update_options(voice=" in noop.program[-1]
        assert result.report.count("minimal program:") == 2
        assert view.found_after > 0
        assert noop.found_after > 0
        assert 0 < view.found_after_seconds < result.seconds
        assert 0 < noop.found_after_seconds < result.seconds
        first, second = sorted(result.bugs, key=lambda b: b.found_after)
        assert first.found_after_seconds < second.found_after_seconds
        assert result.cells()["server's view"] == view.first_line
        assert result.cells()["no-op sends nothing"] == noop.first_line

    def test_max_bugs_bounds_the_search(self) -> None:
        """max_bugs=1 stops at the first bug."""
        result = check(lambda: TwoBugToy(broken=False), examples=300, seed_value=0, max_bugs=1)
        assert len(result.bugs) == 1
        assert result.report.count("minimal program:") == 1

    def test_bad_budgets_are_value_errors(self) -> None:
        """examples or max_bugs below 1 are refused up front."""
        with pytest.raises(ValueError, match="at least 1"):
            check(TwoBugToy, examples=0)
        with pytest.raises(ValueError, match="at least 1"):
            check(TwoBugToy, max_bugs=0)


class TestCapabilities:
    def test_no_model_level_means_no_model_writes(self) -> None:
        """A driver without a model level passes, its update_model never called, and
        the report's cells mark what it cannot exercise."""
        result = check(lambda: SessionOnlyToy(broken=False), examples=100, seed_value=0)
        assert result.ok, result.report
        assert result.lacks == ("model-level writes", "rejections (no server replies)", "reconnects")
        cells = result.cells()
        assert set(cells) == set(COLUMNS)
        assert cells["rejection rollback"] == cells["reconnect"] == "n/a"
        assert cells["server's view"] == "holds"

    def test_lacking_steps_are_named_in_the_report(self) -> None:
        """A failing driver's report says in one line which steps were not generated."""
        result = check(lambda: ToyDriver(broken=True), examples=50, seed_value=0, max_bugs=1)
        lacks = "not generated (the driver lacks them): rejections (no server replies), reconnects"
        assert lacks in result.report

    def test_the_driver_dialect_decides_validation(self) -> None:
        """A driver declaring the beta dialect has its GA-shaped events checked as beta: invalid."""

        class BetaToy(ToyDriver):
            dialect = "beta"

        result = check(lambda: BetaToy(broken=False), examples=20, seed_value=0, max_bugs=1)
        assert result.bugs[0].property == "every event validates against the official schema"
        assert "the schema does not define: ['audio', 'type']" in result.report

    def test_an_unknown_dialect_fails_at_start(self) -> None:
        """An unknown dialect is a ValueError naming the known ones, before any program runs."""

        class Klingon(ToyDriver):
            dialect = "klingon"

        with pytest.raises(ValueError, match=r"'klingon'.*known: \['beta', 'ga', 'xai'\]"):
            check(lambda: Klingon(broken=False), examples=5)
        assert {"ga", "beta"} <= set(VALIDATORS)
