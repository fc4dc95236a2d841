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
4. **valid events** — every ``session.update`` validates against the official
   ``openai`` schema.

The expected state comes from optstate's own semantics, never from the plugin.
On failure the report names the property and session, shows expected vs the
server's view, and prints the shrunk program as runnable Python.

Three ways to run it: :func:`check` (a :class:`CheckResult` with the minimal
program), :func:`assert_plugin_correct` (or the ``optstate_check`` pytest
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
from typing import Any, ClassVar, NoReturn, Protocol, TextIO, runtime_checkable

import attrs

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
from ._harness import Op, SessionModel, changed_paths, diff_lines, error_reply, minimize, roll_back
from .openai import PLUGIN_KEYWORDS, Dialect, RealtimeOptions, decode_update, encode_session, refusals
from .strategies import leaf_paths, plugin_writes

__all__ = [
    "CheckResult",
    "Driver",
    "OptionsMachine",
    "PropertyFailed",
    "assert_plugin_correct",
    "check",
    "default_render",
    "make_machine",
]


@runtime_checkable
class Driver(Protocol):
    """Adapts one realtime plugin to the harness. Methods are synchronous: an
    async plugin runs its own event loop (as the shipped livekit drivers do).

    Values passed to ``update_model``/``update_session`` are neutral JSON-like
    values (``1.5``, ``"marin"``, ``None``, ``{"type": "server_vad", ...}``);
    the driver converts them to what its plugin accepts.
    """

    #: Keywords (from ``optstate.openai.PLUGIN_KEYWORDS``) this plugin's update_options accepts.
    keywords: Sequence[str]
    #: Whether :meth:`reply` reaches the plugin (enables rejections in programs).
    can_reply: bool
    #: Whether :meth:`reconnect` is supported.
    can_reconnect: bool

    def start(self) -> None:
        """Create the model (no session yet)."""

    def new_session(self) -> int:
        """Create a session; return its index (0, 1, 2 in order)."""

    def update_model(self, **kwargs: Any) -> None:
        """Call the model-level ``update_options(**kwargs)``."""

    def update_session(self, index: int, **kwargs: Any) -> None:
        """Call ``update_options(**kwargs)`` on session ``index``."""

    def events(self, index: int) -> list[dict[str, Any]]:
        """The client events session ``index`` sent since the last call (JSON dicts),
        after letting any pending I/O happen."""

    def reply(self, index: int, event: dict[str, Any]) -> None:
        """Deliver a server event (``session.updated``, ``error``) to session ``index``.
        A driver whose plugin talks to a real server may ignore it, and instead
        define ``reject_next(index)``, called when the harness decides that the
        session's next ``session.update`` is rejected."""

    def reconnect(self, index: int) -> None:
        """Drop session ``index``'s connection; the plugin reconnects."""

    def close(self) -> None:
        """Release everything (called once per program)."""

    def render(self, op: str, index: int | None, kwargs: Mapping[str, Any]) -> str:
        """One line of Python for a step, against the plugin's public API."""


def default_render(op: str, index: int | None, kwargs: Mapping[str, Any]) -> str:
    """Render a step as ``model.update_options(speed=1.5)``-style Python."""
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    if op == "start":
        return "model = make_model()"
    if op == "session":
        return f"s{index} = model.session()"
    if op == "model":
        return f"model.update_options({args})"
    if op == "update":
        return f"s{index}.update_options({args})"
    if op == "reject":
        return f"# the server rejects s{index}'s next session.update"
    if op == "reconnect":
        return f"# s{index}'s connection drops; the plugin reconnects"
    return f"# {op}"


class PropertyFailed(AssertionError):
    """A harness property does not hold. ``prop`` names it, ``session`` the session,
    ``details`` show expected vs the server's view, ``ops`` is the program and
    ``paths`` the option paths the failure is about (empty when it names none)."""

    def __init__(
        self,
        prop: str,
        session: int | None,
        details: list[str],
        ops: list[Op],
        render: Callable[[str, int | None, Mapping[str, Any]], str],
        *,
        paths: Sequence[str] = (),
    ) -> None:
        self.prop, self.session, self.details = prop, session, details
        self.ops, self.render = ops, render
        self.paths = tuple(paths)
        super().__init__(self.report())

    def report(self) -> str:
        """The property, the evidence and the program as runnable Python."""
        program = [self.render(op, index, kwargs) for op, index, kwargs in self.ops]
        where = f" (session s{self.session})" if self.session is not None else ""
        lines = [f"property broken: {self.prop}{where}", *self.details, "", "minimal program:"]
        return "\n".join(lines + ["    " + line for line in program])


@functools.cache
def _writes(vocabulary: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return plugin_writes(vocabulary)


def _driver_of(machine: type[OptionsMachine]) -> Driver:
    """A new driver from ``machine.driver_factory``; TypeError if it is no Driver."""
    factory = getattr(machine, "driver_factory", None)
    if factory is None:
        raise TypeError(f"{machine.__name__} has no driver_factory: set it to a function returning a Driver")
    driver = factory()
    if not isinstance(driver, Driver):
        raise TypeError(
            f"the driver factory must return a Driver (see optstate.testing.Driver); got {driver!r}"
        )
    return driver


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
    #: The wire dialect the plugin speaks: how its events are decoded and validated.
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
        self.vocabulary = tuple(k for k in self.driver.keywords if k in self.keywords)
        self.ops: list[Op] = []
        self.sessions: list[SessionModel] = []
        self.driver.start()
        self._log("start", None, {})
        self.defaults = RealtimeOptions()
        self.spelled: dict[str, Any] = {}
        self._open_session(first=True)

    # -- the program -----------------------------------------------------------

    def _log(self, op: str, index: int | None, kwargs: Mapping[str, Any]) -> None:
        self.ops.append((op, index, dict(kwargs)))

    def failed(self, failure: PropertyFailed) -> NoReturn:
        """Called with every broken property; raises it (a subclass may raise
        something else, but must raise: the program cannot go on)."""
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
            server = _patch.apply(server, decode_update(event["session"], self.dialect))
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
            from .openai.official import validate_event

            for e in updates:
                try:
                    validate_event(e, self.dialect)
                except OptStateError as err:
                    prop = "every event validates against the official schema"
                    self._fail(prop, index, [f"    {err}"], ())
        return updates

    def _answer(self, index: int, server: RealtimeOptions) -> None:
        if self.driver.can_reply:
            event = {"type": "session.updated", "session": encode_session(server, self.dialect)}
            self.driver.reply(index, event)

    def _pump(self, named: set[str], targets: set[int], expected_before: list[RealtimeOptions]) -> None:
        """Collect what every session sent, play the server, check properties 2-3."""
        after_write = [s.expected for s in self.sessions]  # before any rollback
        for index, session in enumerate(self.sessions):
            before = session.server
            events = self._updates(self.driver.events(index), index)
            changes: list[_patch.Patch] = []
            for event in events:
                change = decode_update(event["session"], self.dialect)
                changes.append(change)
                if session.reject_next:
                    session.reject_next = False
                    roll_back(session, change)
                    self.driver.reply(index, error_reply(event))
                    continue
                session.server = _patch.apply(session.server, change)
                self._answer(index, session.server)
            unchanged = after_write[index] == expected_before[index]
            if events and unchanged and before == after_write[index]:
                self._fail(
                    "a write that changes nothing puts nothing on the wire",
                    index,
                    [f"    sent: {safe_repr(e.get('session'))}" for e in events],
                    changed_paths(changes),
                )
            moved = set(_patch.diff(before, session.server).paths())
            allowed = named if index in targets else set()
            if not moved <= allowed:
                self._fail(
                    "a write changes no field it did not name",
                    index,
                    [
                        f"    named: {sorted(allowed) or 'nothing (another session was written)'}",
                        f"    changed on the server: {sorted(moved - allowed)}",
                    ],
                    sorted(moved - allowed),
                )

    def _check_view(self, index: int, session: SessionModel) -> None:
        gap = _patch.diff(session.server, session.expected)
        waiting = {r.path for r in refusals(session.server, gap, audio_started=False)}
        lines = diff_lines(session.expected, session.server, self.paths)
        wrong = [p for p in lines if p not in waiting]
        if wrong:
            self._fail("the server's view equals the expected state", index, [lines[p] for p in wrong], wrong)

    # -- one step; rules draw its arguments, replay calls it directly ------------

    def do(self, op: str, index: int | None, kwargs: dict[str, Any]) -> None:
        """Run one step of a program and check every property after it."""
        if op == "session":
            self._open_session()
        elif op == "model":
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
            for event in self._updates(self.driver.events(index), index):
                session.server = _patch.apply(session.server, decode_update(event["session"], self.dialect))
                self._answer(index, session.server)
        self.server_view_matches()

    def writes(self) -> st.SearchStrategy[dict[str, Any]]:
        """The ``update_options`` keyword arguments a write step draws: one or more
        keywords of :attr:`vocabulary` with neutral JSON-like values."""
        return _writes(self.vocabulary)

    def _pick(self, data: st.DataObject) -> int:
        return data.draw(st.integers(0, len(self.sessions) - 1), label="session")

    # -- rules -------------------------------------------------------------------

    @precondition(lambda self: len(self.sessions) < self.max_sessions)
    @rule()
    def new_session(self) -> None:
        """Open another session."""
        self.do("session", None, {})

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
        for index, session in enumerate(self.sessions):
            self._check_view(index, session)

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


@attrs.frozen
class CheckResult:
    """The outcome of :func:`check`: ``ok``; ``examples``, the programs run (Hypothesis
    also runs programs it then discards, so this is at least the valid examples);
    ``target``, the valid examples asked for; the ``seed``; and on failure the
    ``report`` (property, session, expected vs server view, minimal program)."""

    ok: bool
    examples: int
    seed: int
    seconds: float
    report: str = ""
    target: int = 0

    def summary(self) -> str:
        """One line: passed/failed, examples, seed and time."""
        verdict = "passed" if self.ok else "FAILED"
        asked = f" for {self.target} examples" if self.target else ""
        return f"{verdict}: {self.examples} programs run{asked}, seed {self.seed}, {self.seconds:.1f}s"


def check(
    driver_factory: Callable[[], Driver],
    *,
    examples: int = 100,
    seed_value: int = 0,
    steps: int = 20,
    progress: TextIO | None = None,
) -> CheckResult:
    """Run random programs through a driver; return the result (never raises for
    a property failure: the report is in the result)."""
    return _check_machine(
        make_machine(driver_factory), examples=examples, seed_value=seed_value, steps=steps, progress=progress
    )


def _check_machine(
    machine: type[OptionsMachine], *, examples: int, seed_value: int, steps: int, progress: TextIO | None
) -> CheckResult:
    """:func:`check` for any :class:`OptionsMachine` subclass."""
    count = [0]
    started = time.monotonic()

    class Counting(machine):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            count[0] += 1
            if progress is not None and count[0] % 50 == 0:
                tty = progress.isatty()
                line = f"  {count[0]} programs run (target: {examples} valid examples)"
                print("\r" + line if tty else line, end="" if tty else "\n", file=progress, flush=True)
            super().__init__()

    Counting.__name__ = Counting.__qualname__ = machine.__name__
    options = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
    )
    try:
        run_state_machine_as_test(seed(seed_value)(Counting), settings=options)
    except PropertyFailed as e:
        if progress is not None:
            print(f"\n  failure found after {count[0]} programs; minimising", file=progress, flush=True)
        failure = minimize(e, functools.partial(_replay, machine), _same_property)
        seconds = time.monotonic() - started
        return CheckResult(False, count[0], seed_value, seconds, failure.report(), examples)
    if progress is not None:
        print(file=progress)
    return CheckResult(True, count[0], seed_value, time.monotonic() - started, "", examples)


def _same_property(found: PropertyFailed, best: PropertyFailed) -> bool:
    return found.prop == best.prop


def _replay(machine: type[OptionsMachine], ops: list[Op]) -> PropertyFailed | None:
    """Run a recorded program again; the failure it ends in, if any."""
    m = machine()
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
