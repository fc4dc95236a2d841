"""The property-test harness: does a plugin's ``update_options`` do the right thing?

A :class:`Driver` adapts one realtime plugin: it creates a model and sessions,
calls model-level and session-level ``update_options(**kwargs)``, hands over
the client events each session put on the wire, and (optionally) feeds server
replies and forces reconnects. :class:`OptionsMachine` runs random programs of
writes over 1-3 sessions through it and, after every step, for every session, checks:

1. **server view** — the session's initial config with every captured
   ``session.update`` applied by optstate's reference ``apply`` — equals the
   state optstate's semantics expect (``model``-level writes reach every
   session, session-level writes one, a rejected update rolls back, and changes
   the live server refuses wait for a reconnect);
2. **no spurious update** — a write that changes nothing puts nothing on the wire;
3. **no clobbering** — a write changes no field it did not name;
4. **valid events** — every ``session.update`` validates against the schema of
   the driver's wire dialect (:data:`VALIDATORS`).

A wrong server view is reported as its own property when it needs a rejected
update or a reconnect (see ``optstate._harness.PROPERTIES``). The expected state
comes from optstate's own semantics, never from the plugin. On failure the
report names the property and session, shows expected vs the server's view,
and prints the shrunk program as runnable Python; :func:`check` goes on
searching and reports every distinct bug (property x option paths), each with
its own minimal program, most severe first.

Three ways to run it: :func:`check` (a :class:`CheckResult` with every bug and its
minimal program), :func:`assert_plugin_correct` (or the ``optstate_check`` pytest
fixture), and, as any Hypothesis state machine, a subclass's ``TestCase``::

    class MyPluginMachine(OptionsMachine):
        driver_factory = staticmethod(make_my_driver)

    TestMyPlugin = MyPluginMachine.TestCase

Imports Hypothesis (``pip install 'optstate[testing]'``).
"""

from __future__ import annotations

import functools
import sys
import time
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, NoReturn, TextIO

try:
    from hypothesis import HealthCheck, Phase, seed, settings
    from hypothesis import strategies as st
    from hypothesis.stateful import (
        RuleBasedStateMachine,
        invariant,
        precondition,
        rule,
        run_state_machine_as_test,
    )
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("optstate.testing needs Hypothesis: pip install 'optstate[testing]'") from e

from . import _patch
from ._errors import OptStateError, safe_repr
from ._harness import (
    NOOP,
    PROPERTIES,
    RECONNECT,
    REJECTION,
    SCHEMA,
    UNNAMED,
    VIEW,
    Bug,
    CheckResult,
    Driver,
    Key,
    Op,
    PropertyFailed,
    SessionModel,
    bug_of,
    changed_paths,
    default_render,
    diff_lines,
    error_reply,
    failure_keys,
    lacking,
    minimize,
    roll_back,
    same_bug,
)
from .openai import PLUGIN_KEYWORDS, Dialect, RealtimeOptions, decode_update, encode_session, refusals
from .openai._xai import validate_xai_event
from .strategies import leaf_paths, plugin_writes

__all__ = [
    "VALIDATORS",
    "Bug",
    "CheckResult",
    "Driver",
    "OptionsMachine",
    "PropertyFailed",
    "assert_plugin_correct",
    "check",
    "default_render",
    "lacking",
    "make_machine",
]


def _official(dialect: str) -> Callable[[dict[str, Any]], None]:
    def validate(event: dict[str, Any]) -> None:
        from .openai.official import validate_event  # needs the openai package: imported on use

        validate_event(event, dialect)

    return validate


#: How each wire dialect's ``session.update`` events are validated: dialect -> a
#: function raising :class:`~optstate.OptStateError` for an invalid event (``xai``: optstate's
#: own check, sources in :mod:`optstate.openai._xai`). A driver's ``dialect`` must be a key here
#: (checked when the checker starts); adding a dialect is one entry here and its codec.
VALIDATORS: dict[str, Callable[[dict[str, Any]], None]] = {
    "ga": _official("ga"), "beta": _official("beta"), "xai": validate_xai_event,
}  # fmt: skip


@functools.cache
def _writes(vocabulary: tuple[str, ...], dialect: str) -> st.SearchStrategy[dict[str, Any]]:
    return plugin_writes(vocabulary, dialect=dialect)


def _driver_of(machine: type[OptionsMachine]) -> Driver:
    """A new driver from ``machine.driver_factory``; TypeError if it is no Driver,
    ValueError if its ``dialect`` is not in :data:`VALIDATORS`."""
    factory = getattr(machine, "driver_factory", None)
    if factory is None:
        raise TypeError(f"{machine.__name__} has no driver_factory: set it to a function returning a Driver")
    driver = factory()
    if not isinstance(driver, Driver):
        raise TypeError(
            f"the driver factory must return a Driver (see optstate.testing.Driver); got {driver!r}"
        )
    dialect = getattr(driver, "dialect", machine.dialect)
    if dialect not in VALIDATORS:
        raise ValueError(f"driver dialect {dialect!r} is unknown to the harness; known: {sorted(VALIDATORS)}")
    return driver


class _EndProgram(Exception):
    """Raised by :meth:`OptionsMachine.failed` to end a program as passing (the
    runner does so for a bug it has already reported)."""


class OptionsMachine(RuleBasedStateMachine):
    """The checker as a Hypothesis state machine: one instance runs one program
    through one driver, checking every property after every step.

    Subclass it and set :attr:`driver_factory`; run it with ``.TestCase`` (pytest
    or unittest collect it) or ``hypothesis.stateful.run_state_machine_as_test``.
    The other class attributes are the knobs of what it generates and compares.
    Every broken property goes through :meth:`failed`, which raises it; the
    :class:`PropertyFailed` names the option paths it is about, so a runner
    can tell distinct bugs apart.
    """

    #: Makes the driver for one program (a plain function is wrapped in ``staticmethod``).
    driver_factory: ClassVar[Callable[[], Driver]]
    #: The keyword vocabulary writes are drawn from, each mapped to the option path it
    #: sets; a program uses the keywords both this and the driver's ``keywords`` name.
    keywords: ClassVar[Mapping[str, str]] = PLUGIN_KEYWORDS
    #: The option paths compared between the expected state and the server's view.
    paths: ClassVar[Sequence[str]] = tuple(leaf_paths(RealtimeOptions))
    #: The wire dialect when the driver has no ``dialect`` attribute.
    dialect: ClassVar[Dialect] = "ga"
    #: Whether every ``session.update`` is validated against the official schema.
    validate_events: ClassVar[bool] = True
    #: At most this many sessions per program.
    max_sessions: ClassVar[int] = 3

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        factory = cls.__dict__.get("driver_factory")
        if isinstance(factory, types.FunctionType):
            cls.driver_factory = staticmethod(factory)

    def __init__(self) -> None:
        super().__init__()
        self.driver = _driver_of(type(self))
        #: The dialect events are decoded and validated in (the driver's, else the class').
        self.wire: Dialect = getattr(self.driver, "dialect", self.dialect)
        self.has_model_level: bool = getattr(self.driver, "has_model_level", True)
        self.vocabulary = tuple(k for k in self.driver.keywords if k in self.keywords)
        self.ops: list[Op] = []
        self.sessions: list[SessionModel] = []
        #: Set when :meth:`failed` ended the program as passing: every later step is skipped.
        self.finished = False
        self.driver.start()
        self._log("start", None, {})
        self.defaults = RealtimeOptions()
        self.spelled: dict[str, Any] = {}
        try:
            self._open_session(first=True)
        except _EndProgram:
            self.finished = True

    # -- the program -----------------------------------------------------------

    def _log(self, op: str, index: int | None, kwargs: Mapping[str, Any]) -> None:
        self.ops.append((op, index, dict(kwargs)))

    def failed(self, failure: PropertyFailed) -> NoReturn:
        """Called with every broken property; raises it (a subclass may raise
        something else, but must raise: the program cannot go on). The runner of
        :func:`check` overrides it to let a bug it already reported end the
        program as passing, so that the search goes on for other bugs."""
        raise failure

    def _fail(self, prop: str, index: int | None, details: Sequence[str], paths: Sequence[str]) -> NoReturn:
        ops, render = list(self.ops), self.driver.render
        self.failed(PropertyFailed(prop, index, list(details), ops, render, paths=paths))

    def _change(self, kwargs: Mapping[str, Any]) -> _patch.Patch:
        return _patch.patch(RealtimeOptions, {self.keywords[k]: v for k, v in kwargs.items()})

    def _open_session(self, *, first: bool = False) -> None:
        index = self.driver.new_session()
        self._log("session", index, {})
        server = RealtimeOptions()
        for event in self._updates(self.driver.events(index), index):
            server = _patch.apply(server, decode_update(event["session"], self.wire))
            self._answer(index, server)
        if first:
            # The plugin's own defaults: what its first session was configured with.
            self.defaults = server
        session = SessionModel(expected=self.defaults, server=server, spelled=dict(self.spelled))
        self.sessions.append(session)
        self._check_view(index, session)

    def _updates(self, events: list[dict[str, Any]], index: int) -> list[dict[str, Any]]:
        updates = [e for e in events if isinstance(e, dict) and e.get("type") == "session.update"]
        if self.validate_events:
            validate = VALIDATORS[self.wire]
            for e in updates:
                try:
                    validate(e)
                except OptStateError as err:
                    self._fail(SCHEMA, index, [f"    {err}"], ())
        return updates

    def _answer(self, index: int, server: RealtimeOptions) -> None:
        if self.driver.can_reply:
            event = {"type": "session.updated", "session": encode_session(server, self.wire)}
            self.driver.reply(index, event)

    def _pump(self, named: set[str], targets: set[int], expected_before: list[RealtimeOptions]) -> None:
        """Collect what every session sent, play the server, check properties 2-3."""
        after_write = [s.expected for s in self.sessions]  # before any rollback
        for index, session in enumerate(self.sessions):
            before = session.server
            events = self._updates(self.driver.events(index), index)
            changes: list[_patch.Patch] = []
            for event in events:
                change = decode_update(event["session"], self.wire)
                changes.append(change)
                if session.reject_next:
                    session.reject_next = False
                    session.rejected.update(change.paths())
                    roll_back(session, change)
                    self.driver.reply(index, error_reply(event))
                    continue
                session.server = _patch.apply(session.server, change)
                self._answer(index, session.server)
            # a clobber is the more severe of the two, so it is checked first
            moved = set(_patch.diff(before, session.server).paths())
            allowed = named if index in targets else set()
            if not moved <= allowed:
                self._fail(
                    UNNAMED,
                    index,
                    [
                        f"    named: {sorted(allowed) or 'nothing (another session was written)'}",
                        f"    changed on the server: {sorted(moved - allowed)}",
                    ],
                    sorted(moved - allowed),
                )
            unchanged = after_write[index] == expected_before[index]
            if events and unchanged and before == after_write[index]:
                self._fail(
                    NOOP,
                    index,
                    [f"    sent: {safe_repr(e.get('session'))}" for e in events],
                    changed_paths(changes),
                )

    def _check_view(self, index: int, session: SessionModel) -> None:
        gap = _patch.diff(session.server, session.expected)
        waiting = {r.path for r in refusals(session.server, gap, audio_started=False)}
        lines = diff_lines(session.expected, session.server, self.paths)
        wrong = [p for p in lines if p not in waiting]
        if wrong:
            prop = VIEW
            if session.rejected.intersection(wrong):
                prop = REJECTION
            elif session.reconnected:
                prop = RECONNECT
            self._fail(prop, index, [lines[p] for p in wrong], wrong)

    # -- one step; rules draw its arguments, replay calls it directly ------------

    def do(self, op: str, index: int | None, kwargs: dict[str, Any]) -> None:
        """Run one step of a program and check every property after it (nothing
        once the program is :attr:`finished`)."""
        if self.finished:
            return
        try:
            self._do(op, index, kwargs)
        except _EndProgram:
            self.finished = True

    def _do(self, op: str, index: int | None, kwargs: dict[str, Any]) -> None:
        if op == "session":
            self._open_session()
        elif op == "model":
            assert self.has_model_level, "a driver without a model level gets no model-level writes"
            self._log(op, None, kwargs)
            self.driver.update_model(**kwargs)
            change = self._change(kwargs)
            self.defaults = _patch.apply(self.defaults, change)
            self.spelled.update(kwargs)
            before = [s.expected for s in self.sessions]
            for s in self.sessions:
                s.expected = _patch.apply(s.expected, change)
                s.spelled.update(kwargs)
            self._pump({self.keywords[k] for k in kwargs}, set(range(len(self.sessions))), before)
        elif op == "update":
            assert index is not None
            self._log(op, index, kwargs)
            self.driver.update_session(index, **kwargs)
            before = [s.expected for s in self.sessions]
            session = self.sessions[index]
            session.expected = _patch.apply(session.expected, self._change(kwargs))
            session.spelled.update(kwargs)
            self._pump({self.keywords[k] for k in kwargs}, {index}, before)
        elif op == "reject":
            assert index is not None
            self._log(op, index, {})
            prepare = getattr(self.driver, "reject_next", None)
            if prepare is not None and not self.sessions[index].reject_next:
                prepare(index)  # a real server: tell it now, once per pending rejection
            self.sessions[index].reject_next = True
        elif op == "reconnect":
            assert index is not None
            self._log(op, index, {})
            self.driver.reconnect(index)
            session = self.sessions[index]
            session.server = RealtimeOptions()
            session.reject_next = False
            session.reconnected = True
            for event in self._updates(self.driver.events(index), index):
                session.server = _patch.apply(session.server, decode_update(event["session"], self.wire))
                self._answer(index, session.server)
        self.server_view_matches()

    def writes(self) -> st.SearchStrategy[dict[str, Any]]:
        """The ``update_options`` keyword arguments a write step draws: one or more
        keywords of :attr:`vocabulary` with neutral JSON-like values its dialect takes."""
        return _writes(self.vocabulary, self.wire)

    def _pick(self, data: st.DataObject) -> int:
        return data.draw(st.integers(0, max(len(self.sessions) - 1, 0)), label="session")

    # -- rules -------------------------------------------------------------------

    @precondition(lambda self: len(self.sessions) < self.max_sessions)
    @rule()
    def new_session(self) -> None:
        """Open another session."""
        self.do("session", None, {})

    @precondition(lambda self: self.has_model_level)
    @rule(data=st.data())
    def model_update(self, data: st.DataObject) -> None:
        """A model-level write."""
        self.do("model", None, data.draw(self.writes(), label="kwargs"))

    @rule(data=st.data())
    def session_update(self, data: st.DataObject) -> None:
        """A session-level write to one session."""
        kwargs = data.draw(self.writes(), label="kwargs")
        self.do("update", self._pick(data), kwargs)

    @precondition(lambda self: any(s.spelled for s in self.sessions))
    @rule(data=st.data())
    def same_value_again(self, data: st.DataObject) -> None:
        """Repeat on one session a write of the value it has, spelled as it was
        written (a no-op: nothing may go on the wire)."""
        candidates = [
            (i, k)
            for i, s in enumerate(self.sessions)
            for k, v in sorted(s.spelled.items())
            if _patch.get(s.expected, self.keywords[k])
            == _patch.get(_patch.set(s.expected, self.keywords[k], v), self.keywords[k])
        ]
        if candidates:
            index, keyword = data.draw(st.sampled_from(candidates), label="repeat")
            self.do("update", index, {keyword: self.sessions[index].spelled[keyword]})

    @precondition(lambda self: self.driver.can_reply)
    @rule(data=st.data())
    def reject_next_update(self, data: st.DataObject) -> None:
        """The server will reject one session's next update."""
        self.do("reject", self._pick(data), {})

    @precondition(lambda self: self.driver.can_reconnect)
    @rule(data=st.data())
    def reconnect(self, data: st.DataObject) -> None:
        """One session's connection drops."""
        self.do("reconnect", self._pick(data), {})

    # -- the property checked after every step -----------------------------------

    @invariant()
    def server_view_matches(self) -> None:
        """Property 1, for every session."""
        if self.finished:
            return
        try:
            for index, session in enumerate(self.sessions):
                self._check_view(index, session)
        except _EndProgram:
            self.finished = True

    def teardown(self) -> None:
        """Close the driver."""
        self.driver.close()


def make_machine(driver_factory: Callable[[], Driver], *, validate: bool = True) -> type[OptionsMachine]:
    """An :class:`OptionsMachine` subclass running ``driver_factory``'s drivers (use
    ``.TestCase`` in pytest). Makes one driver at once, to raise TypeError here if
    the factory returns no :class:`Driver`."""
    attributes = {"driver_factory": staticmethod(driver_factory), "validate_events": validate}
    machine = type("PluginChecker", (OptionsMachine,), attributes)
    _driver_of(machine).close()
    return machine


def check(
    driver_factory: Callable[[], Driver],
    *,
    examples: int = 100,
    seed_value: int = 0,
    steps: int = 20,
    max_bugs: int = 5,
    progress: TextIO | None = None,
) -> CheckResult:
    """Run random programs through a driver; return the result (never raises for
    a property failure: the report is in the result).

    After a failure the search goes on, for ``examples`` programs in all, and
    reports up to ``max_bugs`` distinct bugs (property x option paths), each with
    its own minimal program, most severe first. How: Hypothesis runs until a
    program breaks a property with a key not yet known; that failure is shrunk
    (Hypothesis, then :func:`~optstate._harness.minimize` by replay, keeping the
    property and a subset of its still-unknown paths) and recorded; Hypothesis
    then runs again (seed ``seed_value + n`` for the n-th run, with the programs
    not yet spent) with the known bugs ending a program as passing, until a run
    finds nothing new, ``max_bugs`` are found or the budget is spent."""
    if examples < 1 or max_bugs < 1:
        raise ValueError(f"examples and max_bugs must be at least 1 (got {examples}, {max_bugs})")
    machine = make_machine(driver_factory)
    return _check_machine(
        machine, examples=examples, seed_value=seed_value, steps=steps, max_bugs=max_bugs, progress=progress
    )


def _check_machine(
    machine: type[OptionsMachine],
    *,
    examples: int,
    seed_value: int,
    steps: int,
    progress: TextIO | None,
    max_bugs: int = 5,
) -> CheckResult:
    """:func:`check` for any :class:`OptionsMachine` subclass."""
    started = time.monotonic()
    probe = _driver_of(machine)
    lacks = lacking(probe)
    not_applicable = tuple(p.column for p in PROPERTIES if p.needs and not getattr(probe, p.needs, False))
    probe.close()
    known: set[Key] = set()
    bugs: list[Bug] = []
    spent = ran = 0  # programs that counted against the budget / run in all
    run = 0
    while len(bugs) < max_bugs and spent < examples:
        count, found_at, seen_at, failure = _one_run(
            machine, known, examples - spent, seed_value + run, steps, progress
        )
        run += 1
        ran += count
        if failure is None:
            spent += count
            break
        spent += found_at
        if progress is not None:
            print(f"\n  failure found after {spent} programs; minimising", file=progress, flush=True)
        smallest = minimize(failure, functools.partial(_replay, machine), functools.partial(same_bug, known))
        if not failure_keys(smallest) <= known:
            bugs.append(bug_of(smallest, spent, seen_at - started))
        known |= failure_keys(smallest) | failure_keys(failure)
    if progress is not None:
        print(file=progress)
    rank = {p.name: i for i, p in enumerate(PROPERTIES)}
    bugs.sort(key=lambda b: rank[b.property])  # stable: discovery order within a property
    report = ""
    if bugs:
        parts = [f"{len(bugs)} distinct bug{'s' if len(bugs) > 1 else ''} found, most severe first"]
        if lacks:
            parts.append("not generated (the driver lacks them): " + ", ".join(lacks))
        report = "\n\n".join(["\n".join(parts), *(b.report for b in bugs)])
    seconds = time.monotonic() - started
    return CheckResult(
        not bugs, ran, seed_value, seconds, report, examples, tuple(bugs), lacks, not_applicable
    )


def _one_run(
    machine: type[OptionsMachine],
    known: set[Key],
    budget: int,
    seed_value: int,
    steps: int,
    progress: TextIO | None,
) -> tuple[int, int, float, PropertyFailed | None]:
    """One Hypothesis run in which the ``known`` bugs end a program as passing: the
    programs it ran, how many when the first new failure was seen, the moment
    (``time.monotonic()``) it was seen, and that failure (shrunk by Hypothesis), or
    ``0, 0.0, None`` for the last three when every program passed."""
    count = [0]
    found_at = [0]
    seen_at = [0.0]

    class Runner(machine):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            count[0] += 1
            if progress is not None and count[0] % 50 == 0:
                tty = progress.isatty()
                line = f"  {count[0]} programs run (target: {budget} valid examples)"
                print("\r" + line if tty else line, end="" if tty else "\n", file=progress, flush=True)
            super().__init__()

        def failed(self, failure: PropertyFailed) -> NoReturn:
            if failure_keys(failure) <= known:
                raise _EndProgram
            if not found_at[0]:
                found_at[0], seen_at[0] = count[0], time.monotonic()
            raise super().failed(failure)  # failed() raises; `raise` tells mypy so

    Runner.__name__ = Runner.__qualname__ = machine.__name__
    options = settings(
        max_examples=budget,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
    )
    try:
        run_state_machine_as_test(seed(seed_value)(Runner), settings=options)
    except PropertyFailed as e:
        return count[0], found_at[0] or count[0], seen_at[0] or time.monotonic(), e
    return count[0], 0, 0.0, None


def _replay(machine: type[OptionsMachine], ops: list[Op]) -> PropertyFailed | None:
    """Run a recorded program again; the failure it ends in, if any."""
    try:
        m = machine()
    except PropertyFailed as e:
        return e
    try:
        for op, index, kwargs in ops[2:]:  # ops[0:2]: the model and s0, made by __init__
            if op != "session" and index is not None and index >= len(m.sessions):
                return None  # the program no longer makes sense (its session was dropped)
            m.do(op, index, kwargs)
    except PropertyFailed as e:
        return e
    finally:
        m.teardown()
    return None


def assert_plugin_correct(
    driver_factory: Callable[[], Driver], *, examples: int = 50, seed_value: int = 0
) -> None:
    """Run :func:`check` and fail (``AssertionError`` with the report) if a property breaks.
    The one-line way to check your plugin from a test."""
    result = check(driver_factory, examples=examples, seed_value=seed_value, progress=sys.stderr)
    if not result.ok:
        raise AssertionError(result.report)
