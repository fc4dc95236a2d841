"""The connection: what one session put on the wire, and what the server answered.

A :class:`Connection` keeps what a session **sent** and what the server
**confirmed**: ``sync()`` sends ``diff(sent, desired)``; ``session.updated``
answers in order advance *confirmed*; an ``error`` naming a sent update rolls it
back; ``on_reconnect()`` starts over, so the next ``sync()`` replays the whole
desired state.

It knows a wire protocol only through the :class:`~optstate.Codec` protocol and
its session's ledger (the overrides and writes, kept by the store) only through
the small :class:`Ledger` interface below: it never sees the store.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Generic, Protocol, TypeVar

import attrs

from ._codec import Codec, Refusal
from ._errors import InvalidOption, OptStateError, StaleSession, redact, safe_repr, scrub, secret_strings
from ._patch import Patch, apply, get, patch

__all__ = ["Connection", "Ledger", "Rejection"]

S = TypeVar("S")
log = logging.getLogger("optstate")


@attrs.frozen
class Rejection:
    """A sent update the server refused (``error`` naming its ``event_id``).

    ``change`` is what that update carried, ``error`` the server's error object
    (with any secret the session holds scrubbed from its text: a server may echo
    what it was sent), and ``rolled_back`` the session-level write that returned the refused
    fields to what the server holds, so asking again sends again.
    """

    event_id: str
    change: Patch
    error: Mapping[str, Any] = attrs.field(repr=lambda e: repr(redact(e)))
    rolled_back: Patch


class Ledger(Protocol[S]):
    """What a connection needs from its session's ledger (the store's record of
    the session's overrides and writes)."""

    @property
    def id(self) -> int:
        """The session's id within its store."""

    @property
    def closed(self) -> bool:
        """Whether the session was closed."""

    @property
    def desired(self) -> S:
        """The session's desired state, read as at one instant (no lock)."""

    @property
    def lock(self) -> AbstractContextManager[Any]:
        """The store's re-entrant write lock: every change to wire state holds it."""

    @property
    def event_prefix(self) -> str:
        """The store's random prefix for event ids."""

    def rollback(self, p: Patch, unless: Mapping[str, Any]) -> Patch:
        """Session-level write of the paths of ``p`` where desired still holds the
        value ``unless`` names (under the lock); what it changed."""

    def shared_diff(self, old: S, new: S) -> Patch:
        """``diff(old, new)``, shared by identity between the store's sessions."""

    def connect(self, codec: Codec[S], desired: S) -> tuple[Patch, S]:
        """``(codec.connect_patch(desired), codec.fresh(desired))``, shared by identity."""


@attrs.define
class _InFlight:
    event_id: str
    change: Patch


class Connection(Generic[S]):
    """One session's wire state: what it **sent**, what the server **confirmed**,
    the updates in flight, and what the live server refuses.

    The base of :class:`~optstate.SessionState`; it reads and writes the session's
    options only through its :class:`Ledger`.
    """

    # Slots: a store may hold many thousands of sessions; most have no
    # overrides and share every state object with the defaults.
    __slots__ = (
        "__weakref__",
        "_audio_started",
        "_codec",
        "_confirmed",
        "_fresh",
        "_inflight",
        "_ledger",
        "_n",
        "_needs_reconnect",
        "_sent",
    )

    def __init__(self, ledger: Ledger[S], codec: Codec[S]) -> None:
        self._ledger = ledger
        self._codec = codec
        self._n = 0  # event ids sent
        self._reset()

    def _reset(self) -> None:
        # A new connection: the server's state is unknown until session.created,
        # so the next sync sends the whole desired state.
        self._fresh = True
        self._audio_started = False
        # Updates sent and not answered, oldest first: a list once there is one
        # (the shared empty tuple until then: most sessions have none).
        self._inflight: list[_InFlight] | tuple[()] = ()
        self._confirmed: S | None = None
        self._sent: S | None = None
        self._needs_reconnect: tuple[Refusal, ...] = ()

    # -- reading -------------------------------------------------------------

    @property
    def sent(self) -> S | None:
        """What the server holds once every sent update is accepted (``None``
        before the first sync of a connection)."""
        return self._sent

    @property
    def confirmed(self) -> S | None:
        """What the server has confirmed holding (``None`` until it said so)."""
        return self._confirmed

    @property
    def in_flight(self) -> tuple[str, ...]:
        """The event ids of sent updates the server has not answered yet."""
        return tuple(f.event_id for f in self._inflight)

    @property
    def needs_reconnect(self) -> tuple[Refusal, ...]:
        """Desired changes the live server refuses (kept; sent on the next connection)."""
        return self._needs_reconnect

    @property
    def audio_started(self) -> bool:
        """Whether the model has produced audio on this connection (voice is locked)."""
        return self._audio_started

    # -- the wire ------------------------------------------------------------

    def sync(self) -> dict[str, Any] | None:
        """The next ``session.update`` to send, or ``None`` when the server already
        has (or is being sent) everything desired.

        Moves *sent* forward. Changes the live server would refuse are left out
        and listed in :attr:`needs_reconnect`.
        """
        ledger = self._ledger
        if ledger.closed:
            raise StaleSession(f"session {ledger.id} is closed")
        codec = self._codec
        with ledger.lock:
            desired = ledger.desired
            sent = self._sent
            if self._fresh or sent is None:
                # What to send, and what the new connection's server holds: it may
                # already refuse something (voice, if the model spoke before our
                # first update).
                change, held = ledger.connect(codec, desired)
            elif sent is desired:
                self._needs_reconnect = ()
                return None
            else:
                change = ledger.shared_diff(sent, desired)
                held = sent
            refused = tuple(codec.refusals(held, change, audio_started=self._audio_started))
            self._needs_reconnect = refused
            if refused:
                change = change.without({r.path for r in refused})
            if not change:
                return None
            self._n += 1
            event_id = f"optstate_{ledger.event_prefix}_{ledger.id}_{self._n}"
            event = codec.encode(change, event_id=event_id)
            if event is None:
                return None
            # Share the desired object when everything went out: sessions with the
            # same (sent, desired) pair then share their diffs by identity.
            self._sent = desired if not refused else apply(held, change)
            self._fresh = False
            if self._inflight:
                self._inflight.append(_InFlight(event_id, change))
            else:
                self._inflight = [_InFlight(event_id, change)]
            return event

    def on_server_event(self, event: Mapping[str, Any]) -> Rejection | None:
        """Take one raw server event. Never raises for malformed server data
        (it is logged and ignored). Returns a :class:`Rejection` when the event
        is an ``error`` naming one of this session's sent updates."""
        try:
            if not isinstance(event, Mapping):
                raise InvalidOption("event", event, "must be a JSON object")
            kind = event.get("type")
            if kind == "session.created":
                self._on_session(event, created=True)
            elif kind == "session.updated":
                self._on_session(event, created=False)
            elif kind == "error":
                return self._on_error(event)
            elif type(kind) is str and self._codec.audio_started(event):
                self._audio_started = True
        except OptStateError as e:
            log.warning("optstate: ignored a malformed %s server event: %s", _kind(event), e)
        except Exception:
            # A bug, or server data no check foresaw: still never the caller's problem.
            log.exception("optstate: could not handle a %s server event", _kind(event))
        return None

    def on_reconnect(self) -> None:
        """The connection is new: the server starts fresh, so the next :meth:`sync`
        sends the whole desired state (refused-before changes included)."""
        ledger = self._ledger
        if ledger.closed:
            raise StaleSession(f"session {ledger.id} is closed")
        with ledger.lock:
            self._reset()

    def mark_audio_started(self) -> None:
        """Record that the model produced audio (voice is now locked)."""
        self._audio_started = True

    # -- internals -----------------------------------------------------------

    def _on_session(self, event: Mapping[str, Any], *, created: bool) -> None:
        # Everything is computed before anything is assigned: a malformed event
        # (it raises) leaves confirmed, sent and the updates in flight as they were.
        session = event.get("session")
        if not isinstance(session, Mapping):
            raise InvalidOption("session", session, "must be an object")
        with self._ledger.lock:
            if created:
                # The server's fresh state; our first update may already be in flight.
                server = self._codec.decode(session)
                self._sent = self._replay(server)
                self._confirmed = server
                self._fresh = False
            elif self._inflight:
                # Answers come in order: the oldest update in flight was applied.
                base = self._confirmed
                if base is None:
                    confirmed = self._codec.decode(session)
                else:
                    confirmed = self._server_copy(apply(base, self._inflight[0].change), session)
                self._inflight = self._inflight[1:] if len(self._inflight) > 1 else ()
                # Not replaced by an equal ``sent``: equality ignores what only the
                # server reported (such as fields of a newer API), and confirmed keeps it.
                self._confirmed = confirmed
            else:
                # Unsolicited: someone else changed the server; believe the server.
                server = self._codec.decode(session)
                self._confirmed = self._sent = server
                self._fresh = False

    def _on_error(self, event: Mapping[str, Any]) -> Rejection | None:
        error = event.get("error")
        if not isinstance(error, Mapping):
            return None
        event_id = error.get("event_id")
        ledger = self._ledger
        with ledger.lock:
            index = next((i for i, f in enumerate(self._inflight) if f.event_id == event_id), None)
            if index is None:
                return None
            rejected = self._inflight[index]
            rest = [*self._inflight[:index], *self._inflight[index + 1 :]]
            self._inflight = rest if rest else ()
            base = self._confirmed
            if base is None:  # nothing confirmed yet: the server holds its fresh state
                base = self._codec.fresh(ledger.desired)
            self._sent = self._replay(base)
            held = self._sent
            # Roll desired back where it still holds the refused value, narrowed to
            # the field the server named (so one bad field does not undo the rest).
            leaves = rejected.change.paths()
            named = _named(leaves, self._codec.param_path(str(error.get("param") or "")))
            desired = ledger.desired
            back = {
                path: get(held, path)
                for path in named
                if get(desired, path) == leaves[path] and get(held, path) != leaves[path]
            }
            # Conditional: a write that set these paths meanwhile is never undone.
            rolled = Patch()
            if back and not ledger.closed:
                rolled = ledger.rollback(patch(type(held), back), unless=leaves)
        # The server's free text may echo what it was sent: the secrets this session
        # holds (MCP authorization, headers) are scrubbed from it before anyone shows it.
        error = _scrubbed(error, secret_strings((rejected.change, held, desired)))
        log.info("optstate: update %s rejected: %s", safe_repr(event_id), _short(error.get("message")))
        return Rejection(str(event_id), rejected.change, error, rolled)

    def _server_copy(self, confirmed: S, session: Mapping[str, Any]) -> S:
        """The server's own state object when it equals ``confirmed`` (then it also
        carries what only the server reports, such as fields of a newer API);
        ``confirmed`` when it differs or cannot be read (an answer still counts)."""
        try:
            server = self._codec.decode(session)
        except OptStateError as e:
            log.debug("optstate: could not read the session in an answer: %s", e)
            return confirmed
        return server if server == confirmed else confirmed

    def _replay(self, base: S) -> S:
        state = base
        for f in self._inflight:
            state = apply(state, f.change)
        return state


def _named(leaves: Mapping[str, Any], param: str | None) -> list[str]:
    """The leaves an error's ``param`` points at (all of them when it names none)."""
    if param:
        hit = [p for p in leaves if p == param or param.startswith(p + ".") or p.startswith(param + ".")]
        if hit:
            return hit
    return list(leaves)


def _scrubbed(error: Mapping[str, Any], secrets: frozenset[str]) -> Mapping[str, Any]:
    """``error`` with ``secrets`` scrubbed from its string values (itself if none is there)."""
    if not secrets:
        return error
    clean = {k: scrub(v, secrets) if type(v) is str else v for k, v in error.items()}
    return error if all(clean[k] is v for k, v in error.items()) else clean


def _kind(event: object) -> str:
    """What a server event is, for a log line (cut short; it is the server's data)."""
    return safe_repr(event.get("type")) if isinstance(event, Mapping) else type(event).__name__


def _short(text: object, limit: int = 300) -> str:
    shown = str(text)
    return shown if len(shown) <= limit else shown[:limit] + "..."
