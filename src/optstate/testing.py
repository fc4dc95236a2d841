"""The property-test harness: does a plugin's ``update_options`` do the right thing?

A :class:`Driver` adapts one realtime plugin: it creates a model and sessions,
calls model-level and session-level ``update_options(**kwargs)``, hands over
the client events each session put on the wire, and (optionally) feeds server
replies and forces reconnects. :func:`check` runs random programs of writes
over 1-3 sessions through it and, after every step, for every session, checks:

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

Imports Hypothesis (``pip install 'optstate[testing]'``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TextIO, runtime_checkable

import attrs

try:
    from hypothesis import HealthCheck, Phase, seed, settings
    from hypothesis import strategies as st
    from hypothesis.stateful import (
        RuleBasedStateMachine,
        get_state_machine_test,
        invariant,
        precondition,
        rule,
    )
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("optstate.testing needs Hypothesis: pip install 'optstate[testing]'") from e

from . import _patch
from ._errors import OptStateError, safe_repr
from .openai import PLUGIN_KEYWORDS as KEYWORDS
from .openai import RealtimeOptions, decode_update, refusals
from .strategies import plugin_writes

__all__ = [
    "CheckResult",
    "Driver",
    "PropertyFailed",
    "assert_plugin_correct",
    "check",
    "default_render",
    "make_machine",
]


@runtime_checkable
class Driver(Protocol):
    """Adapts one realtime plugin to the harness. Methods are synchronous: an
    async plugin runs its own loop (see ``optstate.testing_livekit``).

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


Op = tuple[str, "int | None", dict[str, Any]]


class PropertyFailed(AssertionError):
    """A harness property does not hold. ``prop`` names it, ``session`` the session,
    ``details`` show expected vs the server's view, ``ops`` is the program."""

    def __init__(
        self,
        prop: str,
        session: int | None,
        details: list[str],
        ops: list[Op],
        render: Callable[[str, int | None, Mapping[str, Any]], str],
    ) -> None:
        self.prop, self.session, self.details = prop, session, details
        self.ops, self.render = ops, render
        super().__init__(self.report())

    def report(self) -> str:
        """The property, the evidence and the program as runnable Python."""
        program = [self.render(op, index, kwargs) for op, index, kwargs in self.ops]
        where = f" (session s{self.session})" if self.session is not None else ""
        lines = [f"property broken: {self.prop}{where}", *self.details, "", "minimal program:"]
        return "\n".join(lines + ["    " + line for line in program])


@attrs.define
class _Session:
    expected: RealtimeOptions
    server: RealtimeOptions
    reject_next: bool = False
    # keyword -> the value as last written (model or session level), for no-op repeats
    spelled: dict[str, Any] = attrs.Factory(dict)


def _leaves(state: RealtimeOptions) -> dict[str, Any]:
    return {p: _patch.get(state, p) for p in _PATHS}


def _paths() -> list[str]:
    from .strategies import leaf_paths

    return leaf_paths(RealtimeOptions)


_PATHS = _paths()


def _diff_lines(expected: RealtimeOptions, actual: RealtimeOptions) -> list[str]:
    e, a = _leaves(expected), _leaves(actual)
    return [
        f"    {p}: expected {safe_repr(e[p])}, server has {safe_repr(a[p])}" for p in _PATHS if e[p] != a[p]
    ]


def make_machine(
    driver_factory: Callable[[], Driver], *, validate: bool = True
) -> type[RuleBasedStateMachine]:
    """The checker as a ``RuleBasedStateMachine`` class (use ``.TestCase`` in pytest)."""
    if validate:
        from .openai.official import validate_event
    else:  # pragma: no cover - openai is a test dependency

        def validate_event(event: dict[str, Any], dialect: str = "ga") -> None:
            return None

    probe = driver_factory()
    if not isinstance(probe, Driver):
        raise TypeError(
            f"the driver factory must return a Driver (see optstate.testing.Driver); got {probe!r}"
        )
    keywords = [k for k in probe.keywords if k in KEYWORDS]
    can_reply, can_reconnect = probe.can_reply, probe.can_reconnect
    probe.close()

    class PluginChecker(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.driver = driver_factory()
            self.ops: list[Op] = []
            self.sessions: list[_Session] = []
            self.driver.start()
            self._log("start", None, {})
            self.defaults = RealtimeOptions()
            self.spelled: dict[str, Any] = {}
            self._open_session(first=True)

        # -- the program -----------------------------------------------------------

        def _log(self, op: str, index: int | None, kwargs: Mapping[str, Any]) -> None:
            self.ops.append((op, index, dict(kwargs)))

        def _fail(self, prop: str, index: int | None, details: Sequence[str]) -> None:
            raise PropertyFailed(prop, index, list(details), list(self.ops), self.driver.render)

        def _open_session(self, *, first: bool = False) -> None:
            index = self.driver.new_session()
            self._log("session", index, {})
            server = RealtimeOptions()
            events = self.driver.events(index)
            for event in self._updates(events, index):
                server = _patch.apply(server, decode_update(event["session"]))
                self._answer(index, server)
            if first:
                # The plugin's own defaults: what its first session was configured with.
                self.defaults = server
            session = _Session(expected=self.defaults, server=server, spelled=dict(self.spelled))
            self.sessions.append(session)
            self._check_view(index, session)

        def _updates(self, events: list[dict[str, Any]], index: int) -> list[dict[str, Any]]:
            updates = [e for e in events if isinstance(e, dict) and e.get("type") == "session.update"]
            for e in updates:
                try:
                    validate_event(e)
                except OptStateError as err:
                    self._fail("every event validates against the official schema", index, [f"    {err}"])
            return updates

        def _answer(self, index: int, server: RealtimeOptions) -> None:
            if can_reply:
                from .openai import encode_session

                self.driver.reply(index, {"type": "session.updated", "session": encode_session(server)})

        def _pump(self, named: set[str], targets: set[int], expected_before: list[RealtimeOptions]) -> None:
            """Collect what every session sent, play the server, check properties 2-3."""
            after_write = [s.expected for s in self.sessions]  # before any rollback
            for index, session in enumerate(self.sessions):
                before = session.server
                events = self._updates(self.driver.events(index), index)
                for event in events:
                    change = decode_update(event["session"])
                    if session.reject_next:
                        session.reject_next = False
                        self._reject(index, session, event, change)
                        continue
                    session.server = _patch.apply(session.server, change)
                    self._answer(index, session.server)
                unchanged = after_write[index] == expected_before[index]
                if events and unchanged and before == after_write[index]:
                    self._fail(
                        "a write that changes nothing puts nothing on the wire",
                        index,
                        [f"    sent: {safe_repr(e.get('session'))}" for e in events],
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
                    )

        def _reject(self, index: int, session: _Session, event: dict[str, Any], change: _patch.Patch) -> None:
            # Reference semantics: the rejected fields of the expected state return
            # to what the server holds, where they still hold the refused value.
            back = {
                p: _patch.get(session.server, p)
                for p, v in change.paths().items()
                if _patch.get(session.expected, p) == v and _patch.get(session.server, p) != v
            }
            if back:
                session.expected = _patch.apply(session.expected, _patch.patch(RealtimeOptions, back))
            self.driver.reply(
                index,
                {
                    "type": "error",
                    "event_id": "event_optstate_harness",
                    "error": {
                        "type": "invalid_request_error",
                        "code": "rejected_by_harness",
                        "message": "rejected by the optstate harness",
                        "param": None,
                        "event_id": event.get("event_id"),
                    },
                },
            )

        def _check_view(self, index: int, session: _Session) -> None:
            gap = _patch.diff(session.server, session.expected)
            waiting = {r.path for r in refusals(session.server, gap, audio_started=False)}
            diff_lines = [
                line
                for line in _diff_lines(session.expected, session.server)
                if line.split(":")[0].strip() not in waiting
            ]
            if diff_lines:
                self._fail("the server's view equals the expected state", index, diff_lines)

        # -- one step; rules draw its arguments, replay calls it directly ------------

        def do(self, op: str, index: int | None, kwargs: dict[str, Any]) -> None:
            """Run one step of a program and check every property after it."""
            if op == "session":
                self._open_session()
            elif op == "model":
                self._log(op, None, kwargs)
                self.driver.update_model(**kwargs)
                change = _patch.patch(RealtimeOptions, {KEYWORDS[k]: v for k, v in kwargs.items()})
                self.defaults = _patch.apply(self.defaults, change)
                self.spelled.update(kwargs)
                before = [s.expected for s in self.sessions]
                for s in self.sessions:
                    s.expected = _patch.apply(s.expected, change)
                    s.spelled.update(kwargs)
                self._pump({KEYWORDS[k] for k in kwargs}, set(range(len(self.sessions))), before)
            elif op == "update":
                assert index is not None
                self._log(op, index, kwargs)
                self.driver.update_session(index, **kwargs)
                change = _patch.patch(RealtimeOptions, {KEYWORDS[k]: v for k, v in kwargs.items()})
                before = [s.expected for s in self.sessions]
                session = self.sessions[index]
                session.expected = _patch.apply(session.expected, change)
                session.spelled.update(kwargs)
                self._pump({KEYWORDS[k] for k in kwargs}, {index}, before)
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
                    session.server = _patch.apply(session.server, decode_update(event["session"]))
                    self._answer(index, session.server)
            self.server_view_matches()

        def _pick(self, data: st.DataObject) -> int:
            return data.draw(st.integers(0, len(self.sessions) - 1), label="session")

        # -- rules -------------------------------------------------------------------

        @precondition(lambda self: len(self.sessions) < 3)
        @rule()
        def new_session(self) -> None:
            self.do("session", None, {})

        @rule(kwargs=plugin_writes(keywords))
        def model_update(self, kwargs: dict[str, Any]) -> None:
            self.do("model", None, kwargs)

        @rule(data=st.data(), kwargs=plugin_writes(keywords))
        def session_update(self, data: st.DataObject, kwargs: dict[str, Any]) -> None:
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
                if _patch.get(s.expected, KEYWORDS[k])
                == _patch.get(_patch.set(s.expected, KEYWORDS[k], v), KEYWORDS[k])
            ]
            if candidates:
                index, keyword = data.draw(st.sampled_from(candidates), label="repeat")
                self.do("update", index, {keyword: self.sessions[index].spelled[keyword]})

        @precondition(lambda self: can_reply)
        @rule(data=st.data())
        def reject_next_update(self, data: st.DataObject) -> None:
            self.do("reject", self._pick(data), {})

        @precondition(lambda self: can_reconnect)
        @rule(data=st.data())
        def reconnect(self, data: st.DataObject) -> None:
            self.do("reconnect", self._pick(data), {})

        # -- the property checked after every step -----------------------------------

        @invariant()
        def server_view_matches(self) -> None:
            for index, session in enumerate(self.sessions):
                self._check_view(index, session)

        def teardown(self) -> None:
            self.driver.close()

    PluginChecker.__name__ = PluginChecker.__qualname__ = "PluginChecker"
    return PluginChecker


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
    machine = make_machine(driver_factory)
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

    test = get_state_machine_test(
        Counting,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            database=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
            print_blob=False,
        ),
    )
    try:
        seed(seed_value)(test)()
    except PropertyFailed as e:
        if progress is not None:
            print(f"\n  failure found after {count[0]} programs; minimising", file=progress, flush=True)
        failure = _minimize(machine, e)
        return CheckResult(
            False, count[0], seed_value, time.monotonic() - started, failure.report(), examples
        )
    if progress is not None:
        print(file=progress)
    return CheckResult(True, count[0], seed_value, time.monotonic() - started, "", examples)


def _replay(machine: type[Any], ops: list[Op]) -> PropertyFailed | None:
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


def _minimize(machine: type[Any], failure: PropertyFailed) -> PropertyFailed:
    """Delta debugging on top of Hypothesis' shrinking: drop steps, then keywords,
    while the same property still breaks. Replays are deterministic, so the
    printed program reproduces on its own."""
    best = failure
    improved = True
    while improved:
        improved = False
        ops = best.ops
        candidates = [ops[:i] + ops[i + 1 :] for i in range(len(ops) - 1, 1, -1)]
        for i, (op, index, kwargs) in enumerate(ops):
            if len(kwargs) > 1:
                for key in kwargs:
                    smaller = {k: v for k, v in kwargs.items() if k != key}
                    candidates.append([*ops[:i], (op, index, smaller), *ops[i + 1 :]])
        for candidate in candidates:
            found = _replay(machine, candidate)
            if found is not None and found.prop == best.prop and len(found.ops) <= len(ops):
                best, improved = found, True
                break
    return best


def assert_plugin_correct(
    driver_factory: Callable[[], Driver], *, examples: int = 50, seed_value: int = 0
) -> None:
    """Run :func:`check` and fail (``AssertionError`` with the report) if a property breaks.
    The one-line way to check your plugin from a test."""
    result = check(driver_factory, examples=examples, seed_value=seed_value, progress=sys.stderr)
    if not result.ok:
        raise AssertionError(result.report)
