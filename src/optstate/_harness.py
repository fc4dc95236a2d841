"""The harness' reference bookkeeping, apart from the state machine that drives it.

:mod:`optstate.testing` runs programs of writes through a plugin; this module holds
what does not depend on Hypothesis or on a driver: one step of a program (:data:`Op`),
the reference model of one session (:class:`SessionModel`), the reference semantics of a
rejected update (:func:`roll_back`), the evidence lines of a report
(:func:`diff_lines`), and delta debugging over recorded programs (:func:`minimize`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from . import _patch
from ._errors import safe_repr
from .openai import RealtimeOptions

__all__ = [
    "Op",
    "Program",
    "SessionModel",
    "changed_paths",
    "diff_lines",
    "error_reply",
    "minimize",
    "roll_back",
]

#: One step of a program: the operation (``start``, ``session``, ``model``, ``update``,
#: ``reject``, ``reconnect``), the session index it addresses, and its keyword arguments.
Op = tuple[str, "int | None", dict[str, Any]]


@attrs.define
class SessionModel:
    """What the harness knows of one session: the state optstate's semantics
    expect, the state the server holds (every captured update applied), whether
    its next update is to be rejected, and each keyword as it was last written
    (model or session level), so that a write can be repeated as spelled."""

    expected: RealtimeOptions
    server: RealtimeOptions
    reject_next: bool = False
    spelled: dict[str, Any] = attrs.Factory(dict)


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
