"""The harness' reference bookkeeping, apart from the state machine that drives it.

:mod:`optstate.testing` runs programs of writes through a plugin; this module holds
what does not depend on Hypothesis or on a driver: one step of a program (:data:`Op`),
the reference model of one session (:class:`SessionModel`), the reference semantics of a
rejected update (:func:`roll_back`), the evidence lines of a report
(:func:`diff_lines`), delta debugging over recorded programs (:func:`minimize`), the
properties the checker checks (:data:`PROPERTIES`, most severe first), one distinct bug
(:class:`Bug`) and the drivers x properties matrix (:func:`render_matrix`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs

from . import _patch
from ._errors import safe_repr
from .openai import RealtimeOptions

__all__ = [
    "COLUMNS",
    "NOOP",
    "PROPERTIES",
    "RECONNECT",
    "REJECTION",
    "SCHEMA",
    "UNNAMED",
    "VIEW",
    "Bug",
    "CheckResult",
    "Driver",
    "Key",
    "Op",
    "Program",
    "Property",
    "PropertyFailed",
    "SessionModel",
    "base_property",
    "bug_of",
    "changed_paths",
    "default_render",
    "diff_lines",
    "error_reply",
    "failure_keys",
    "lacking",
    "minimize",
    "property_named",
    "render_matrix",
    "roll_back",
    "same_bug",
]

#: One step of a program: the operation (``start``, ``session``, ``model``, ``update``,
#: ``reject``, ``reconnect``), the session index it addresses, and its keyword arguments.
Op = tuple[str, "int | None", dict[str, Any]]


@attrs.define
class SessionModel:
    """What the harness knows of one session: the state optstate's semantics
    expect, the state the server holds (every captured update applied), whether
    its next update is to be rejected, each keyword as it was last written
    (model or session level), so that a write can be repeated as spelled, the
    option paths of every update the server rejected, and whether the session
    has reconnected (the last two classify a wrong server view, see :data:`PROPERTIES`)."""

    expected: RealtimeOptions
    server: RealtimeOptions
    reject_next: bool = False
    spelled: dict[str, Any] = attrs.Factory(dict)
    rejected: set[str] = attrs.Factory(set)
    reconnected: bool = False


@attrs.frozen
class Property:
    """One property the checker checks: ``name``, the sentence a report opens with;
    ``column``, its short name in the matrix; ``needs``, the driver capability
    (``can_reply``, ``can_reconnect``) without which programs never exercise it."""

    name: str
    column: str
    needs: str | None = None


#: Every property, most severe first (the order of a report's bugs):
#:
#: 1. a value lost or clobbered: the server's view is wrong, or a write changed an
#:    option it did not name (the user's setting silently is not what they asked);
#: 2. the same after a rejected update or a reconnect (wrong only after a server
#:    error or a dropped connection, so rarer in production);
#: 3. a write of what is already set sends an update (wasteful, not wrong);
#: 4. an event the official schema rejects (the server answers it with an error,
#:    which the properties above then show if it loses a value).
#:
#: A wrong server view is a rejection bug when a rejected update named a wrong
#: path, else a reconnect bug when its session has reconnected, else a plain one;
#: minimisation keeps only the steps the failure needs, so a rejection or a
#: reconnect left in a minimal program is one the bug depends on.
PROPERTIES: tuple[Property, ...] = (
    Property("the server's view equals the expected state", "server's view"),
    Property("a write changes no field it did not name", "no unnamed field changed"),
    Property(
        "after a rejected update the server's view equals the expected state",
        "rejection rollback",
        "can_reply",
    ),
    Property("after a reconnect the server's view equals the expected state", "reconnect", "can_reconnect"),
    Property("a write that changes nothing puts nothing on the wire", "no-op sends nothing"),
    Property("every event validates against the official schema", "schema-valid"),
)

VIEW, UNNAMED, REJECTION, RECONNECT, NOOP, SCHEMA = (p.name for p in PROPERTIES)

#: The matrix' columns, in the order ``optstate check --all`` prints them.
COLUMNS: tuple[str, ...] = tuple(PROPERTIES[i].column for i in (0, 4, 1, 5, 2, 3))


def property_named(name: str) -> Property:
    """The :class:`Property` whose ``name`` is ``name`` (KeyError if none)."""
    for prop in PROPERTIES:
        if prop.name == name:
            return prop
    raise KeyError(name)


@attrs.frozen
class Bug:
    """One distinct failure (property x option paths) and its minimal program:
    ``property`` (the property's name), ``column`` (its matrix column), ``paths``
    (the option paths it is about; empty when it names none), ``program`` (the
    minimal program, one line of Python per step), ``first_line`` (the program's
    first write or new session after the setup every program shares, prefixed
    with the rejections and reconnects before it, e.g. ``after reject s0:
    model.update_options(voice='alloy')``; the last line when there is none),
    ``found_after`` (programs run when it was first seen), ``report`` (the
    property, the evidence and the program) and ``found_after_seconds`` (the wall
    time from the start of :func:`~optstate.testing.check` to that same moment,
    before any shrinking)."""

    property: str
    column: str
    paths: tuple[str, ...]
    program: tuple[str, ...]
    first_line: str
    found_after: int
    report: str
    found_after_seconds: float = 0.0


def render_matrix(rows: Sequence[tuple[str, Mapping[str, str]]], *, width: int = 60) -> str:
    """The drivers x properties table: one row per ``(driver, cells)``, one column per
    :data:`COLUMNS` entry; a cell longer than ``width`` is cut with an ellipsis."""

    def cut(text: str) -> str:
        return text if len(text) <= width else text[: width - 1] + "\u2026"

    table = [["driver", *COLUMNS]] + [
        [name, *(cut(cells.get(c, "?")) for c in COLUMNS)] for name, cells in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def diff_lines(expected: RealtimeOptions, actual: RealtimeOptions, paths: Iterable[str]) -> dict[str, str]:
    """For each of ``paths`` where the two states differ: the report line saying
    what was expected and what the server has (values redacted), by path."""
    lines: dict[str, str] = {}
    for p in paths:
        e, a = _patch.get(expected, p), _patch.get(actual, p)
        if e != a:
            lines[p] = f"    {p}: expected {safe_repr(e)}, server has {safe_repr(a)}"
    return lines


def roll_back(session: SessionModel, change: _patch.Patch) -> None:
    """Reference semantics of a rejected update carrying ``change``: the fields of
    the expected state that still hold the refused value return to what the
    server holds."""
    back = {
        p: _patch.get(session.server, p)
        for p, v in change.paths().items()
        if _patch.get(session.expected, p) == v and _patch.get(session.server, p) != v
    }
    if back:
        session.expected = _patch.apply(session.expected, _patch.patch(RealtimeOptions, back))


def error_reply(event: dict[str, Any]) -> dict[str, Any]:
    """The server ``error`` event rejecting the client event ``event``."""
    return {
        "type": "error",
        "event_id": "event_optstate_harness",
        "error": {
            "type": "invalid_request_error",
            "code": "rejected_by_harness",
            "message": "rejected by the optstate harness",
            "param": None,
            "event_id": event.get("event_id"),
        },
    }


class Program(Protocol):
    """A failure that carries the program it ended (``ops``)."""

    @property
    def ops(self) -> list[Op]: ...


F = TypeVar("F", bound=Program)


def minimize(failure: F, replay: Callable[[list[Op]], F | None], same: Callable[[F, F], bool]) -> F:
    """Delta debugging on top of Hypothesis' shrinking: drop steps (never the first
    two, which make the model and the first session), then keywords, while
    ``replay`` of the smaller program still ends in a failure that is ``same`` as
    the best so far. Replays must be deterministic, so the program returned
    reproduces on its own."""
    best = failure
    improved = True
    while improved:
        improved = False
        ops = best.ops
        candidates: list[list[Op]] = [ops[:i] + ops[i + 1 :] for i in range(len(ops) - 1, 1, -1)]
        for i, (op, index, kwargs) in enumerate(ops):
            if len(kwargs) > 1:
                for key in kwargs:
                    smaller = {k: v for k, v in kwargs.items() if k != key}
                    candidates.append([*ops[:i], (op, index, smaller), *ops[i + 1 :]])
        for candidate in candidates:
            found = replay(candidate)
            if found is not None and same(found, best) and len(found.ops) <= len(ops):
                best, improved = found, True
                break
    return best


def changed_paths(changes: Sequence[_patch.Patch]) -> tuple[str, ...]:
    """The sorted option paths named by any of ``changes``."""
    return tuple(sorted({p for c in changes for p in c.paths()}))


@runtime_checkable
class Driver(Protocol):
    """Adapts one realtime plugin to the harness. Methods are synchronous: an
    async plugin runs its own event loop (as the shipped livekit drivers do).

    Values passed to ``update_model``/``update_session`` are neutral JSON-like
    values (``1.5``, ``"marin"``, ``None``, ``{"type": "server_vad", ...}``);
    the driver converts them to what its plugin accepts.

    Optional attributes (read with defaults, so a driver need not define them):

    * ``dialect`` (default ``"ga"``): the wire dialect its plugin speaks, a key of
      :data:`VALIDATORS` (``"ga"``, ``"beta"``); events are decoded and validated
      in it. An unknown dialect is a ValueError when the checker starts.
    * ``has_model_level`` (default ``True``): whether the framework has a model
      object shared by sessions. When False, programs have no model-level
      writes and :meth:`update_model` is never called.

    What a driver lacks (no model level, ``can_reply``/``can_reconnect`` False) is
    never generated; :func:`check` says so in one line of its report, and the
    properties it cannot exercise are "n/a" in the matrix.
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


def lacking(driver: Driver) -> tuple[str, ...]:
    """The kinds of step programs for ``driver`` never contain (what the driver lacks)."""
    lacks = []
    if not getattr(driver, "has_model_level", True):
        lacks.append("model-level writes")
    if not getattr(driver, "can_reply", False):
        lacks.append("rejections (no server replies)")
    if not getattr(driver, "can_reconnect", False):
        lacks.append("reconnects")
    return tuple(lacks)


@attrs.frozen
class CheckResult:
    """The outcome of :func:`check`: ``ok``; ``examples``, the programs run (Hypothesis
    also runs programs it then discards, so this is at least the valid examples);
    ``target``, the valid examples asked for; the ``seed``; ``bugs``, every distinct
    bug found (:class:`Bug`, most severe first); ``lacks``, the kinds of step the
    driver lacks (never generated); ``not_applicable``, the matrix columns those
    leave unexercised; and the ``report``: every bug with its minimal program."""

    ok: bool
    examples: int
    seed: int
    seconds: float
    report: str = ""
    target: int = 0
    bugs: tuple[Bug, ...] = ()
    lacks: tuple[str, ...] = ()
    not_applicable: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line: passed/failed (and how many bugs), examples, seed and time."""
        verdict = "passed" if self.ok else "FAILED"
        if len(self.bugs) > 1:
            verdict += f" ({len(self.bugs)} bugs)"
        asked = f" for {self.target} examples" if self.target else ""
        return f"{verdict}: {self.examples} programs run{asked}, seed {self.seed}, {self.seconds:.1f}s"

    def cells(self) -> dict[str, str]:
        """The matrix row: each column of ``optstate._harness.COLUMNS`` -> "holds",
        "n/a" (the driver lacks the step that exercises it) or the first line of the
        most severe bug's minimal program."""
        cells = {p.column: "n/a" if p.column in self.not_applicable else "holds" for p in PROPERTIES}
        for bug in reversed(self.bugs):  # the most severe bug of a column wins
            cells[bug.column] = bug.first_line
        return cells


#: A bug's identity: (property name, option path), the path "" when it names none.
Key = tuple[str, str]


def failure_keys(failure: PropertyFailed) -> set[Key]:
    """The (property, path) pairs a failure is about (path "" when it names none)."""
    return {(failure.prop, p) for p in failure.paths} or {(failure.prop, "")}


def base_property(prop: str) -> str:
    """The check behind a property: rejection and reconnect bugs are wrong server views."""
    return VIEW if prop in (REJECTION, RECONNECT) else prop


def same_bug(known: set[Key], found: PropertyFailed, best: PropertyFailed) -> bool:
    """Minimisation keeps a smaller program when it still breaks the same check on a
    subset of the paths, at least one of them not yet reported."""
    return (
        base_property(found.prop) == base_property(best.prop)
        and set(found.paths) <= set(best.paths)
        and bool(found.paths) == bool(best.paths)
        and not failure_keys(found) <= known
    )


def bug_of(failure: PropertyFailed, found_after: int, found_after_seconds: float = 0.0) -> Bug:
    """The :class:`Bug` record of a minimised failure first seen after ``found_after``
    programs, ``found_after_seconds`` into the check."""
    program = tuple(failure.render(op, index, kwargs) for op, index, kwargs in failure.ops)
    first, after = program[-1], []
    for (op, index, _), line in zip(failure.ops[2:], program[2:], strict=True):
        if op in ("reject", "reconnect"):
            after.append(f"{op} s{index}")
            continue
        first = f"after {', '.join(after)}: {line}" if after else line
        break
    column = property_named(failure.prop).column
    report = failure.report()
    return Bug(failure.prop, column, failure.paths, program, first, found_after, report, found_after_seconds)
