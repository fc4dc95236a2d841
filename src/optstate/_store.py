"""The store: model-level defaults, per-session states, and what went on the wire.

Semantics (DESIGN.md, "Store and sessions"):

* a **model-level** write (:meth:`Store.write`) sets the named fields on the
  defaults and on every live session, last writer wins per field;
* a **session-level** write (:meth:`SessionState.write`) sets the named fields
  on that session only;
* no write changes a field it does not name.

Representation. One immutable :class:`_Snapshot` holds the defaults and, for
each session, its *overrides*: the leaves it set itself, each differing from
the defaults. A session's desired state is ``apply(defaults, overrides)``,
computed lazily and cached by identity, so a model-level write costs
O(sessions that override a named field), not O(sessions): writing a field
removes every override of it. Writers replace the snapshot with
compare-and-swap (a short lock around the pointer swap, retried on a lost
race); readers never lock.

Each session also tracks what it **sent** and what the server **confirmed**:
``sync()`` sends ``diff(sent, desired)``; ``session.updated`` answers in order
advance *confirmed*; an ``error`` naming a sent update rolls it back.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

import attrs
from pyrsistent import PMap, PSet, pmap, pset

from ._errors import InvalidOption, OptStateError, StaleSession, redact, safe_repr
from ._patch import Patch, apply, diff, from_valid_paths, get, patch

__all__ = [
    "Codec",
    "Refusal",
    "Rejection",
    "SessionState",
    "Store",
    "WriteResult",
]

S = TypeVar("S")
log = logging.getLogger("optstate")


@attrs.frozen
class Refusal:
    """A change the live server would refuse: its dotted ``path``, the new ``value``
    and the ``reason``. It can take effect only on a new connection."""

    path: str
    value: Any
    reason: str


class Codec(Protocol[S]):
    """What the store needs to know about a wire protocol (see ``optstate.openai``)."""

    def encode(self, change: Patch, *, event_id: str) -> dict[str, Any] | None:
        """The client event for ``change``, or ``None`` for no event."""

    def decode(self, session: Mapping[str, Any]) -> S:
        """The state a server's full session object describes."""

    def refusals(self, held: S, change: Patch, *, audio_started: bool) -> Sequence[Refusal]:
        """The leaves of ``change`` a server holding ``held`` would refuse."""

    def connect_patch(self, desired: S) -> Patch:
        """What a fresh connection must be sent so the server holds ``desired``."""

    def fresh(self, desired: S) -> S:
        """What a server holds on a new connection made for ``desired``."""

    def param_path(self, param: str) -> str | None:
        """The dotted option path an error's ``param`` names, if any."""

    def audio_started(self, event: Mapping[str, Any]) -> bool:
        """Whether a server event shows the model has produced audio output."""


@attrs.frozen
class WriteResult:
    """What a write did: the leaves it ``changed`` (an empty patch for a no-op),
    and the store ``version`` after it. ``effective`` is ``bool(changed)`` for a
    session write; for a model write it is true when the defaults or any
    session changed."""

    changed: Patch
    version: int
    effective: bool


@attrs.frozen
class Rejection:
    """A sent update the server refused (``error`` naming its ``event_id``).

    ``change`` is what that update carried, ``error`` the server's error object,
    and ``rolled_back`` the session-level write that returned the refused
    fields to what the server holds, so asking again sends again.
    """

    event_id: str
    change: Patch
    error: Mapping[str, Any] = attrs.field(repr=lambda e: repr(redact(e)))
    rolled_back: Patch


@attrs.frozen
class _Snapshot(Generic[S]):
    version: int
    defaults: S
    # session id -> {leaf path: value}; every value differs from the defaults.
    overrides: PMap[int, PMap[str, Any]]
    # leaf path -> ids of sessions that override it.
    by_path: PMap[str, PSet[int]]


@attrs.define
class _InFlight:
    event_id: str
    change: Patch


class Store(Generic[S]):
    """The model level: defaults for new sessions, and the live sessions.

    ``Store(RealtimeOptions())`` uses the OpenAI codec registered for the
    state's class (GA dialect); pass ``codec=`` for another one. Safe to use
    from many threads and asyncio tasks at once.
    """

    def __init__(self, defaults: S, *, codec: Codec[S] | None = None) -> None:
        self._snap: _Snapshot[S] = _Snapshot(version=0, defaults=defaults, overrides=pmap(), by_path=pmap())
        self._codec = codec if codec is not None else default_codec(defaults)
        self._lock = threading.Lock()
        self._sessions: weakref.WeakValueDictionary[int, SessionState[S]] = weakref.WeakValueDictionary()
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(3)
        self._diff_memo: dict[tuple[int, int], tuple[Any, Any, Patch]] = {}

    # -- reading -------------------------------------------------------------

    @property
    def defaults(self) -> S:
        """The current model-level defaults (an immutable snapshot; no lock)."""
        return self._snap.defaults

    @property
    def version(self) -> int:
        """How many effective writes (model or session level) the store has seen."""
        return self._snap.version

    @property
    def codec(self) -> Codec[S]:
        """The wire codec new sessions use unless given their own."""
        return self._codec

    @property
    def sessions(self) -> tuple[SessionState[S], ...]:
        """The live (not closed) sessions, oldest first."""
        return tuple(s for _, s in sorted(self._sessions.items()))

    def session(self, *, codec: Codec[S] | None = None) -> SessionState[S]:
        """A new session starting from the current defaults."""
        sid = next(self._ids)
        s = SessionState(self, sid, codec if codec is not None else self._codec)
        self._sessions[sid] = s
        weakref.finalize(s, self._forget, sid)
        return s

    # -- model-level writes --------------------------------------------------

    def write(self, change: Patch | Mapping[str, Any]) -> WriteResult:
        """Set the named fields on the defaults and on every live session.

        ``change`` is a :class:`Patch` or a mapping of dotted paths to values.
        Raises :class:`~optstate.InvalidOption` on a bad name or value; then
        nothing has changed anywhere.
        """
        p = self._as_patch(change)
        return self._commit(lambda snap: self._model_write(snap, p))

    def update(self, fn: Callable[[S], S]) -> WriteResult:
        """Model-level write of ``fn(defaults)``: the fields it changes are written
        as by :meth:`write`. ``fn`` must be pure: it is retried on a lost race."""

        def make(snap: _Snapshot[S]) -> tuple[_Snapshot[S] | None, Patch]:
            new = fn(snap.defaults)
            if type(new) is not type(snap.defaults):
                rule = f"must come back from the update function as a {type(snap.defaults).__name__}"
                raise InvalidOption("", new, rule)
            return self._model_write(snap, diff(snap.defaults, new))

        return self._commit(make)

    def _model_write(self, snap: _Snapshot[S], p: Patch) -> tuple[_Snapshot[S] | None, Patch]:
        if not p:
            return None, p
        defaults = apply(snap.defaults, p)
        changed = diff(snap.defaults, defaults)
        paths = p.paths()
        overrides, by_path = snap.overrides, snap.by_path
        touched = False
        for path in paths:
            holders = by_path.get(path)
            if not holders:
                continue
            touched = True
            for sid in holders:
                ov = overrides[sid].discard(path)
                overrides = overrides.set(sid, ov) if ov else overrides.discard(sid)
            by_path = by_path.discard(path)
        if not changed and not touched:
            return None, changed
        new = _Snapshot(snap.version + 1, defaults, _compact(overrides), _compact(by_path))
        return new, changed

    # -- machinery -----------------------------------------------------------

    def _commit(self, make: Callable[[_Snapshot[S]], tuple[_Snapshot[S] | None, Patch]]) -> WriteResult:
        while True:
            snap = self._snap
            new, changed = make(snap)
            if new is None:
                return WriteResult(changed, snap.version, False)
            with self._lock:
                if self._snap is snap:
                    self._snap = new
                    return WriteResult(changed, new.version, True)
            # Lost the race: another writer swapped first; recompute on its snapshot.

    def _as_patch(self, change: Patch | Mapping[str, Any]) -> Patch:
        if isinstance(change, Patch):
            return change
        if isinstance(change, Mapping):
            return patch(type(self._snap.defaults), change)
        raise InvalidOption("", change, "must be a Patch or a mapping of field paths to values")

    def _desired(self, snap: _Snapshot[S], sid: int, holder: SessionState[S] | None) -> S:
        ov = snap.overrides.get(sid)
        if ov is None:
            return snap.defaults
        cached = holder._cache if holder is not None else None
        if cached is not None and cached[0] is snap.defaults and cached[1] is ov:
            return cached[2]  # type: ignore[no-any-return]
        state = apply(snap.defaults, from_valid_paths(ov))
        if holder is not None:
            holder._cache = (snap.defaults, ov, state)  # one atomic attribute store
        return state

    def _diff(self, old: S, new: S) -> Patch:
        """diff, shared by identity: sessions with the same (sent, desired) objects
        get the patch computed once."""
        key = (id(old), id(new))
        hit = self._diff_memo.get(key)
        if hit is not None and hit[0] is old and hit[1] is new:
            return hit[2]
        p = diff(old, new)
        if len(self._diff_memo) > 256:
            self._diff_memo.clear()
        self._diff_memo[key] = (old, new, p)
        return p

    def _forget(self, sid: int) -> None:
        def drop(snap: _Snapshot[S]) -> tuple[_Snapshot[S] | None, Patch]:
            ov = snap.overrides.get(sid)
            if ov is None:
                return None, Patch()
            by_path = snap.by_path
            for path in ov:
                holders = by_path[path].discard(sid)
                by_path = by_path.set(path, holders) if holders else by_path.discard(path)
            # Not a write: version stays (closing changes no live state).
            overrides = _compact(snap.overrides.discard(sid))
            return attrs.evolve(snap, overrides=overrides, by_path=_compact(by_path)), Patch()

        while True:
            snap = self._snap
            new, _ = drop(snap)
            if new is None:
                return
            with self._lock:
                if self._snap is snap:
                    self._snap = new
                    return


def _compact(m: PMap[Any, Any]) -> PMap[Any, Any]:
    """``m``, or a new empty map when it is empty: a ``PMap`` never gives back the
    room it grew to, so 10 000 closed sessions would otherwise stay allocated."""
    return m if m else pmap()


class SessionState(Generic[S]):
    """One live session: its **desired** state (from the store), what it **sent**,
    and what the server **confirmed**. Create with :meth:`Store.session`.

    Typical loop: after any write, call :meth:`sync` and send the event it
    returns; feed every server event to :meth:`on_server_event`; call
    :meth:`on_reconnect` when the connection is new.
    """

    def __init__(self, store: Store[S], sid: int, codec: Codec[S]) -> None:
        self._store = store
        self._sid = sid
        self._codec = codec
        self._lock = threading.RLock()
        self._cache: tuple[Any, Any, Any] | None = None
        self._events = itertools.count(1)
        self._closed = False
        self._reset()

    def _reset(self) -> None:
        # A new connection: the server's state is unknown until session.created,
        # so the next sync sends the whole desired state.
        self._fresh = True
        self._audio_started = False
        self._inflight: list[_InFlight] = []
        self._confirmed: S | None = None
        self._sent: S | None = None
        self._needs_reconnect: tuple[Refusal, ...] = ()

    # -- reading -------------------------------------------------------------

    @property
    def id(self) -> int:
        """This session's id within its store."""
        return self._sid

    @property
    def desired(self) -> S:
        """What this session's writes (and the model's) say its options are."""
        return self._store._desired(self._store._snap, self._sid, self)

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

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    # -- writing -------------------------------------------------------------

    def write(self, change: Patch | Mapping[str, Any]) -> WriteResult:
        """Set the named fields on this session only. A bad name or value raises
        :class:`~optstate.InvalidOption` and changes nothing."""
        self._check_open()
        return self._write(self._store._as_patch(change))

    def _write(self, p: Patch, unless: Mapping[str, Any] | None = None) -> WriteResult:
        """Session-level write of ``p``; with ``unless`` ({path: value}), only of the
        paths where desired still holds that value when the write commits."""
        store = self._store
        sid = self._sid

        def make(snap: _Snapshot[S]) -> tuple[_Snapshot[S] | None, Patch]:
            before = store._desired(snap, sid, self)
            change = p
            if unless is not None:
                change = p.without({path for path in p.paths() if get(before, path) != unless[path]})
            after = apply(before, change)  # validates; raises before anything changes
            changed = diff(before, after)
            if not changed:
                return None, changed
            ov = snap.overrides.get(sid, pmap())
            by_path = snap.by_path
            for path in change.paths():
                # The validated value (converted, immutable), never the caller's object.
                value = get(after, path)
                if get(snap.defaults, path) == value:
                    ov = ov.discard(path)
                    holders = by_path.get(path, pset()).discard(sid)
                    by_path = by_path.set(path, holders) if holders else by_path.discard(path)
                else:
                    ov = ov.set(path, value)
                    by_path = by_path.set(path, by_path.get(path, pset()).add(sid))
            overrides = snap.overrides.set(sid, ov) if ov else snap.overrides.discard(sid)
            if ov:
                # ``after`` is apply(defaults, ov): the next read of desired needs no apply.
                self._cache = (snap.defaults, ov, after)
            return _Snapshot(snap.version + 1, snap.defaults, overrides, by_path), changed

        result = store._commit(make)
        if self._closed:
            # close() ran while this write was committing: drop what it left behind.
            store._forget(sid)
        return result

    # -- the wire ------------------------------------------------------------

    def sync(self) -> dict[str, Any] | None:
        """The next ``session.update`` to send, or ``None`` when the server already
        has (or is being sent) everything desired.

        Moves *sent* forward. Changes the live server would refuse are left out
        and listed in :attr:`needs_reconnect`.
        """
        self._check_open()
        with self._lock:
            desired = self.desired
            if self._fresh or self._sent is None:
                change = self._codec.connect_patch(desired)
                # What the new connection's server holds: it may already refuse
                # something (voice, if the model spoke before our first update).
                held = self._codec.fresh(desired)
            else:
                change = self._store._diff(self._sent, desired)
                held = self._sent
            refused = tuple(self._codec.refusals(held, change, audio_started=self._audio_started))
            self._needs_reconnect = refused
            if refused:
                change = change.without({r.path for r in refused})
            if not change:
                return None
            event_id = f"optstate_{self._store._prefix}_{self._sid}_{next(self._events)}"
            event = self._codec.encode(change, event_id=event_id)
            if event is None:
                return None
            # Share the desired object when everything went out: sessions with the
            # same (sent, desired) pair then share their diffs by identity.
            self._sent = desired if not refused else apply(held, change)
            self._fresh = False
            self._inflight.append(_InFlight(event_id, change))
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
        self._check_open()
        with self._lock:
            self._reset()

    def mark_audio_started(self) -> None:
        """Record that the model produced audio (voice is now locked)."""
        self._audio_started = True

    def close(self) -> None:
        """Detach from the store; later writes or syncs raise ``StaleSession``."""
        if not self._closed:
            self._closed = True
            self._store._sessions.pop(self._sid, None)
            self._store._forget(self._sid)

    # -- internals -----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StaleSession(f"session {self._sid} is closed")

    def _on_session(self, event: Mapping[str, Any], *, created: bool) -> None:
        # Everything is computed before anything is assigned: a malformed event
        # (it raises) leaves confirmed, sent and the updates in flight as they were.
        session = event.get("session")
        if not isinstance(session, Mapping):
            raise InvalidOption("session", session, "must be an object")
        with self._lock:
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
                    confirmed = apply(base, self._inflight[0].change)
                self._inflight.pop(0)
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
        with self._lock:
            index = next((i for i, f in enumerate(self._inflight) if f.event_id == event_id), None)
            if index is None:
                return None
            rejected = self._inflight.pop(index)
            base = self._confirmed
            if base is None:  # nothing confirmed yet: the server holds its fresh state
                base = self._codec.fresh(self.desired)
            self._sent = self._replay(base)
            held = self._sent
            # Roll desired back where it still holds the refused value, narrowed to
            # the field the server named (so one bad field does not undo the rest).
            leaves = rejected.change.paths()
            named = _named(leaves, self._codec.param_path(str(error.get("param") or "")))
            desired = self.desired
            back = {
                path: get(held, path)
                for path in named
                if get(desired, path) == leaves[path] and get(held, path) != leaves[path]
            }
        # Conditional: a write that set these paths meanwhile is never undone.
        rolled = Patch()
        if back and not self._closed:
            rolled = self._write(patch(type(held), back), unless=leaves).changed
        log.info("optstate: update %s rejected: %s", safe_repr(event_id), _short(error.get("message")))
        return Rejection(str(event_id), rejected.change, error, rolled)

    def _replay(self, base: S) -> S:
        state = base
        for f in self._inflight:
            state = apply(state, f.change)
        return state

    def __repr__(self) -> str:
        return f"<SessionState {self._sid}{' closed' if self._closed else ''}>"


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


# -- codec lookup ----------------------------------------------------------------

_CODECS: dict[type, Callable[[], Codec[Any]]] = {}


def register_codec(cls: type, make: Callable[[], Codec[Any]]) -> None:
    """Make ``make()`` the default codec of stores whose defaults are ``cls``."""
    _CODECS[cls] = make


def default_codec(defaults: S) -> Codec[S]:
    """The codec registered for ``type(defaults)``."""
    make = _CODECS.get(type(defaults))
    if make is None:
        raise OptStateError(
            f"no wire codec registered for {type(defaults).__name__}: pass Store(..., codec=...)"
        )
    return make()
