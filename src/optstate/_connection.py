"""The connection: what one session put on the wire, and what the server answered.

A :class:`Connection` keeps what a session **sent** and what the server
**confirmed**, and sends only what somebody **set**: a field no write named is
the server's, never sent, and its value is whatever the server reports.

* ``sync()`` sends the set fields where ``sent`` differs from ``desired``;
* ``session.created``/``session.updated`` carry the server's whole effective
  configuration: it becomes *confirmed* (and *sent*, with the updates still in
  flight on top), also when it differs from what was expected. A set field the
  server holds differently from what was sent is :class:`Overruled`: logged,
  listed on the session, and desired returns to the server's value (so nothing is
  re-sent in a loop, and asking again sends again);
* an ``error`` naming a sent update rolls it back the same way;
* ``on_reconnect()`` starts over: the next ``sync()`` sends every set field.

Updates in flight are answered in order. However many go unanswered, at most
:data:`MAX_IN_FLIGHT` records are kept (the newest are merged), and each answer
costs the same however long the backlog.

It knows a wire protocol only through the :class:`~optstate.Codec` protocol and
its session's ledger (the overrides and writes, kept by the store) only through
the small :class:`Ledger` interface below: it never sees the store.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Generic, Protocol, TypeVar

import attrs

from ._codec import Codec, Refusal
from ._errors import InvalidOption, OptStateError, StaleSession, redact, safe_repr, scrub_data, secret_strings
from ._lock import WriteLock
from ._patch import Patch, apply, get, patch
from ._unknown import reading

__all__ = ["MAX_IN_FLIGHT", "Connection", "Ledger", "Overruled", "Rejection", "next_step"]

#: How many records of unanswered updates a connection keeps at most; past it,
#: the newest updates share one record (a silent server costs bounded memory).
MAX_IN_FLIGHT = 32

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


@attrs.frozen
class Overruled:
    """A set field the server reported holding something other than what was
    sent: its dotted ``path``, the value ``sent`` and the value the ``server``
    holds. The server's report is the truth: desired returns to ``server`` (where
    no later write changed it), so the value is not sent again until asked again."""

    path: str
    sent: Any = attrs.field(repr=lambda v: repr(redact(v)))
    server: Any = attrs.field(repr=lambda v: repr(redact(v)))


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

    def view(self) -> tuple[S, frozenset[str]]:
        """``(desired, written)`` as at one instant (no lock): the desired state
        and the leaf paths somebody set (a model- or session-level write, or the
        store's initial defaults where they differ from the record's own)."""

    @property
    def lock(self) -> WriteLock:
        """The store's re-entrant write lock: every change to wire state holds it."""

    @property
    def event_prefix(self) -> str:
        """What the event ids of this session's updates start with (a number follows)."""

    def rollback(self, p: Patch, unless: Mapping[str, Any]) -> Patch:
        """Session-level write of the paths of ``p`` where desired still holds the
        value ``unless`` names (under the lock); what it changed."""

    def shared_diff(self, old: S, new: S) -> Patch:
        """``diff(old, new)``, shared by identity between the store's sessions."""

    def connect(self, codec: Codec[S], desired: S, written: frozenset[str]) -> tuple[Patch, S, S]:
        """What a new connection is sent: ``codec.connect_patch(desired)`` narrowed to
        the ``written`` paths; what its server holds first (``codec.fresh(desired)``);
        and what it holds once that patch is applied. Shared by identity."""

    def step(
        self, codec: Codec[S], sent: S, desired: S, written: frozenset[str], audio_started: bool
    ) -> tuple[Patch, tuple[Refusal, ...], S]:
        """:func:`next_step` for this session; sessions on shared state may share
        its result by identity (the store remembers it)."""


class _InFlight:
    """Sent updates not answered yet: numbers ``first`` to ``last`` of the
    connection's event ids (one update, or the newest merged when too many are
    unanswered), ``count`` answers still due, and what they carried together."""

    __slots__ = ("change", "count", "first", "last")

    def __init__(self, n: int, change: Patch) -> None:
        self.first = self.last = n
        self.count = 1
        self.change = change

    def merge(self, n: int, change: Patch) -> None:
        self.last = n
        self.count += 1
        # The same fields again (a silent server and one knob turned): later wins whole.
        mine = self.change._leaves()
        self.change = change if change._leaves().keys() >= mine.keys() else self.change | change


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
        "_effective",
        "_fresh",
        "_inflight",
        "_ledger",
        "_n",
        "_needs_reconnect",
        "_overruled",
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
        self._overruled: tuple[Overruled, ...] = ()
        # (desired, sent, written, effective): the last effective desired state. The
        # written set is part of the key: a write may set a field without changing
        # the desired object (a value it already held).
        self._effective: tuple[Any, Any, Any, Any] | None = None

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
        prefix = self._ledger.event_prefix
        return tuple(f"{prefix}{n}" for f in self._inflight for n in range(f.last - f.count + 1, f.last + 1))

    @property
    def overruled(self) -> tuple[Overruled, ...]:
        """Set fields the server reported holding otherwise than sent, on this
        connection (the newest report of each path), oldest first."""
        return self._overruled

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
        has (or is being sent) every field that is set.

        Sends only set fields (a field nobody set is the server's). Moves *sent*
        forward. Changes the live server would refuse are left out and listed in
        :attr:`needs_reconnect`.
        """
        return Connection.sync_all((self,))[0]

    @staticmethod
    def sync_all(connections: Iterable[Connection[Any]]) -> list[dict[str, Any] | None]:
        """``[c.sync() for c in connections]``, with the work shared between
        connections in the same state.

        After a model-level write, the sessions on the shared defaults have the
        same sent, desired and written objects (and codec): the first of a run of
        such connections works out what to send as :meth:`sync` does, the others
        take the same change, refusals and state after, and only number and
        encode their own event (every event has its own id and its own dicts).
        Results, errors and every connection's state afterwards are those of
        calling :meth:`sync` on each in turn.
        """
        out: list[dict[str, Any] | None] = []
        same: tuple[Any, ...] = ()  # (sent, desired, written, codec, audio_started) of `step`
        step: tuple[Patch, tuple[Refusal, ...], Any] | None = None
        for c in connections:
            ledger = c._ledger
            if ledger.closed:
                raise StaleSession(f"session {ledger.id} is closed")
            lock = ledger.lock
            if not lock.acquire(False):
                lock.wait()
            try:
                desired, written = ledger.view()
                sent = c._sent
                if not (
                    same
                    and sent is same[0]
                    and desired is same[1]
                    and written is same[2]
                    and c._codec is same[3]
                    and c._audio_started is same[4]
                    and not c._fresh
                ):
                    step = c._step(desired, written)
                    fresh = c._fresh or sent is None
                    same = () if fresh else (sent, desired, written, c._codec, c._audio_started)
                out.append(c._send(step))
            finally:
                lock.release()
        return out

    def _step(self, desired: S, written: frozenset[str]) -> tuple[Patch, tuple[Refusal, ...], S] | None:
        """What goes out next for ``desired`` (and the ``written`` paths): ``(change,
        refusals, state after)``, or ``None`` when sent already is desired. Under
        the lock; changes nothing."""
        ledger = self._ledger
        codec = self._codec
        sent = self._sent
        if self._fresh or sent is None:
            # What to send, and what the new connection's server holds: it may
            # already refuse something (voice, if the model spoke before our
            # first update).
            change, held, after = ledger.connect(codec, desired, written)
            refused = tuple(codec.refusals(held, change, audio_started=self._audio_started))
            if refused:
                change = change.without({r.path for r in refused})
                after = apply(held, change)
            return change, refused, after
        if sent is desired:
            return None
        return ledger.step(codec, sent, desired, written, self._audio_started)

    def _send(self, step: tuple[Patch, tuple[Refusal, ...], S] | None) -> dict[str, Any] | None:
        """Number and encode the update ``step`` says (see :meth:`_step`), move
        *sent* forward and put the update in flight. Under the lock."""
        if step is None:
            self._needs_reconnect = ()
            return None
        change, refused, after = step
        self._needs_reconnect = refused
        if not change:
            return None
        n = self._n = self._n + 1
        event = self._codec.encode(change, event_id=f"{self._ledger.event_prefix}{n}")
        if event is None:
            return None
        self._sent = after
        self._fresh = False
        inflight = self._inflight
        if not inflight:
            self._inflight = [_InFlight(n, change)]
        elif len(inflight) < MAX_IN_FLIGHT:
            inflight.append(_InFlight(n, change))
        else:
            inflight[-1].merge(n, change)
        return event

    @property
    def desired(self) -> S:
        """What the server should hold: every set field as the writes say, and
        every other field as the server reports it (the record's defaults until
        it has)."""
        desired, written = self._ledger.view()
        sent = self._sent
        if sent is None or sent is desired:
            return desired
        cached = self._effective
        if cached is not None and cached[0] is desired and cached[1] is sent and cached[2] is written:
            return cached[3]  # type: ignore[no-any-return]
        full = self._ledger.shared_diff(sent, desired)
        theirs = [p for p in full._leaves() if p not in written]
        effective = desired
        if theirs:
            with reading():  # the server's values: an Unknown one among them is admitted
                effective = apply(desired, patch(type(desired), {p: get(sent, p) for p in theirs}))
        self._effective = (desired, sent, written, effective)
        return effective

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
            log.warning("ignored a malformed %s server event: %s", _kind(event), e)
        except Exception:
            # A bug, or server data no check foresaw: still never the caller's problem.
            log.exception("could not handle a %s server event", _kind(event))
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
        codec = self._codec
        with self._ledger.lock:
            inflight = self._inflight
            if created or not inflight:
                # The server's state; on a new connection our first update may already
                # be in flight. Unsolicited (another client, a duplicated answer):
                # the server is the truth all the same.
                server = codec.decode(session)
                before = self._sent
                self._confirmed = server
                self._sent = self._replay(server)
                self._fresh = False
                if not created and before is not None:
                    self._overrule(before, self._sent, None)
                return
            # An answer: the oldest update in flight was applied. The report is the
            # server's whole configuration; it may differ from what we expected.
            head = inflight[0]
            base = self._confirmed
            try:
                server = codec.decode(session)
            except OptStateError as e:
                if base is None:
                    raise
                # Unreadable: the answer still counts, as what we asked for.
                log.debug("could not read the session in an answer: %s", e)
                server = apply(base, head.change)
            head.count -= 1
            if head.count == 0:
                inflight.pop(0)  # at most MAX_IN_FLIGHT long
                if not inflight:
                    self._inflight = ()
            expected = None if base is None else apply(base, head.change)
            self._confirmed = server
            if expected is not None and server == expected and head.count == 0:
                return  # as foreseen: sent already is this plus what is still in flight
            before = self._sent
            self._sent = self._replay(server)
            if head.count == 0 and before is not None:
                self._overrule(before, self._sent, head.change)

    def _overrule(self, before: S, after: S, asked: Patch | None) -> None:
        """Take the server's word where it contradicts what was sent: for each set
        field that moved from ``before`` to ``after`` (among ``asked``'s, when an
        answer), record an :class:`Overruled`, warn, and return desired there to the
        server's value unless a later write changed it. Under the lock."""
        ledger = self._ledger
        _, written = ledger.view()
        moved = ledger.shared_diff(before, after).paths()
        paths = [p for p in moved if p in written and (asked is None or p in asked.paths())]
        if not paths:
            return
        found = {p: Overruled(p, get(before, p), get(after, p)) for p in paths}
        self._overruled = (*(o for o in self._overruled if o.path not in found), *found.values())
        log.warning(
            "session %s: the server holds other values than were sent for %s; taking the server's",
            ledger.id,
            ", ".join(paths),
        )
        if not ledger.closed:
            back = patch(type(after), {p: get(after, p) for p in paths})
            ledger.rollback(back, unless={p: o.sent for p, o in found.items()})

    def _on_error(self, event: Mapping[str, Any]) -> Rejection | None:
        error = event.get("error")
        if not isinstance(error, Mapping):
            return None
        event_id = error.get("event_id")
        ledger = self._ledger
        with ledger.lock:
            rejected = self._match(event_id, error)
            if rejected is None:
                if self._inflight:
                    log.warning(
                        "session %s: a server error matches none of the %d updates in flight "
                        "(event_id %s); the next session.updated will tell what the server holds",
                        ledger.id,
                        len(self.in_flight),
                        safe_repr(event_id),
                    )
                return None
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
            shown_id = f"{self._ledger.event_prefix}{rejected.last}" if event_id is None else event_id
        # The server's text may echo what it was sent, anywhere in the error: the
        # secrets this session holds (MCP authorization, headers) are scrubbed first.
        error = scrub_data(error, secret_strings((rejected.change, held, desired)))
        log.info("update %s rejected: %s", safe_repr(shown_id), _short(error.get("message")))
        return Rejection(str(shown_id), rejected.change, error, rolled)

    def _match(self, event_id: object, error: Mapping[str, Any]) -> _InFlight | None:
        """Take out of the updates in flight the one an error refuses: the one its
        ``event_id`` names; without an ``event_id`` (it is optional), the oldest,
        when the error is about the session (answers come in order). Under the lock."""
        inflight = self._inflight
        if not inflight:
            return None
        if event_id is None:
            param = error.get("param")
            if not (type(param) is str and param.startswith("session")):
                return None
            found = inflight[0]
        else:
            prefix = self._ledger.event_prefix
            if type(event_id) is not str or not event_id.startswith(prefix):
                return None
            number = event_id[len(prefix) :]
            if not number.isdigit():
                return None
            n = int(number)
            named = next((f for f in inflight if f.last - f.count < n <= f.last), None)
            if named is None:
                return None
            found = named
        inflight.remove(found)
        if not inflight:
            self._inflight = ()
        return found

    def _replay(self, base: S) -> S:
        state = base
        for f in self._inflight:
            state = apply(state, f.change)
        return state


def next_step(
    codec: Codec[S], full: Patch, sent: S, desired: S, written: frozenset[str], audio_started: bool
) -> tuple[Patch, tuple[Refusal, ...], S]:
    """What a connection that sent ``sent`` sends next for ``desired`` (``full`` is
    ``diff(sent, desired)``): the ``written`` leaves of ``full`` less those the
    server would refuse, the refusals, and what the server holds once it is
    applied (``desired`` itself when everything differing goes out, so sessions
    with the same pair share their next diffs by identity too)."""
    change = _only(full, written)
    refused = tuple(codec.refusals(sent, change, audio_started=audio_started))
    if refused:
        change = change.without({r.path for r in refused})
    after = desired if change is full else apply(sent, change)
    return change, refused, after


def _only(change: Patch, written: frozenset[str]) -> Patch:
    """``change`` without the leaves nobody set (``change`` itself when all are set)."""
    leaves = change._leaves().keys()
    if leaves <= written:
        return change
    return change.without(leaves - written)


def _named(leaves: Mapping[str, Any], param: str | None) -> list[str]:
    """The leaves an error's ``param`` points at (all of them when it names none)."""
    if param:
        hit = [p for p in leaves if p == param or param.startswith(p + ".") or p.startswith(param + ".")]
        if hit:
            return hit
    return list(leaves)


def _kind(event: object) -> str:
    """What a server event is, for a log line (cut short; it is the server's data)."""
    return safe_repr(event.get("type")) if isinstance(event, Mapping) else type(event).__name__


def _short(text: object, limit: int = 300) -> str:
    shown = str(text)
    return shown if len(shown) <= limit else shown[:limit] + "..."
