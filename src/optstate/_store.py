"""The store: model-level defaults, per-session states, and what went on the wire.

Semantics (DESIGN.md, "Store and sessions"):

* a **model-level** write (:meth:`Store.write`) sets the named fields on the
  defaults and on every live session, last writer wins per field;
* a **session-level** write (:meth:`SessionState.write`) sets the named fields
  on that session only;
* no write changes a field it does not name.

Representation. The store holds one immutable :class:`_Model`: the defaults
and, for each leaf path, the *stamp* (store version) of the last model-level
write that named it. Each session holds its own immutable *overrides*: the
leaves it set itself, each with the stamp of its write. A session's desired
state is the defaults with its overrides that are newer than the model's
stamp for their path (last writer wins, per field), computed lazily and cached
by identity. So a model-level write never touches a session: it costs the
same for 1 or 10 000 sessions, and a session-level write touches only its
session.

Writers take the store's lock for the few microseconds a write takes (with
the GIL there is no parallel work to lose, and no write is computed twice);
readers never lock. A reader takes the model, then the session's overrides,
then checks the model is still the same object (else reads again), so it
always sees the state as it was at one instant, never half of a write.

Each session also tracks what it **sent** and what the server **confirmed**:
``sync()`` sends ``diff(sent, desired)``; ``session.updated`` answers in order
advance *confirmed*; an ``error`` naming a sent update rolls it back.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import attrs

from ._codec import Codec, Refusal, default_codec
from ._errors import InvalidOption, OptStateError, StaleSession, redact, safe_repr, scrub, secret_strings
from ._patch import Patch, apply, diff, from_valid_paths, get, patch

__all__ = [
    "Rejection",
    "SessionState",
    "Store",
    "WriteResult",
]

S = TypeVar("S")
log = logging.getLogger("optstate")


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

    ``change`` is what that update carried, ``error`` the server's error object
    (with any secret the session holds scrubbed from its text: a server may echo
    what it was sent), and ``rolled_back`` the session-level write that returned the refused
    fields to what the server holds, so asking again sends again.
    """

    event_id: str
    change: Patch
    error: Mapping[str, Any] = attrs.field(repr=lambda e: repr(redact(e)))
    rolled_back: Patch


class _Model(Generic[S]):
    """The model level: ``defaults``, and for each leaf path the stamp (store
    version) of the last model-level write naming it. Never changed once published."""

    __slots__ = ("defaults", "stamps")

    def __init__(self, defaults: S, stamps: dict[str, int]) -> None:
        self.defaults = defaults
        self.stamps = stamps


#: A session's overrides: ``{leaf path: (stamp, value)}``; never changed once
#: published (a write publishes a new dict).
_Own = dict[str, tuple[int, Any]]


@attrs.define
class _InFlight:
    event_id: str
    change: Patch


#: How often a waiter yields and retries before it sleeps on the lock.
_SPINS = 100


class _WriteLock:
    """The store's re-entrant lock, taken without joining the OS wait queue.

    With the GIL, a thread that waits for a lock its holder released is handed
    the lock while it still has to get the GIL back; the holder, wanting the
    lock for its next write, then sleeps too, and every write costs two thread
    switches. Here a waiter only ever tries the lock and, if it is held, lets
    other threads run (the holder among them) before trying again, so the
    running thread keeps writing. Writes hold the lock for microseconds.
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def __enter__(self) -> None:
        lock = self._lock
        if lock.acquire(False):
            return
        for _ in range(_SPINS):
            time.sleep(0)  # releases the GIL: the holder can finish
            if lock.acquire(False):
                return
        lock.acquire()  # held for long (the holder is blocked, say in a log handler): sleep

    def __exit__(self, *_: object) -> None:
        self._lock.release()


class _Ref(weakref.ref):  # type: ignore[type-arg]
    """A weak reference to a session that remembers its id (as ``KeyedRef``)."""

    __slots__ = ("sid",)
    sid: int


def _in_force(own: _Own, model: _Model[Any]) -> dict[str, Any]:
    """``{path: value}`` of the overrides in ``own`` newer than ``model``'s last
    write of their path (last writer wins, per field)."""
    stamps = model.stamps
    return {path: value for path, (stamp, value) in own.items() if stamp > stamps.get(path, 0)}


def _leaf(state: Any, path: str) -> Any:
    """The value at an internal (known valid) dotted path."""
    for name in path.split("."):
        state = getattr(state, name)
    return state


class Store(Generic[S]):
    """The model level: defaults for new sessions, and the live sessions.

    ``Store(RealtimeOptions())`` uses the OpenAI codec registered for the
    state's class (GA dialect); pass ``codec=`` for another one. Safe to use
    from many threads and asyncio tasks at once.
    """

    def __init__(self, defaults: S, *, codec: Codec[S] | None = None) -> None:
        self._model: _Model[S] = _Model(defaults, {})
        self._version = 0
        self._codec = codec if codec is not None else default_codec(defaults)
        # One re-entrant lock for every write and every session's wire state.
        self._lock = _WriteLock()
        self._sessions: dict[int, _Ref] = {}
        # Writers' index (only read and changed under the lock): leaf path ->
        # ids of the sessions whose override of it is newer than the model's.
        self._holders: dict[str, set[int]] = {}
        self._dead: list[int] = []  # collected sessions, forgotten at the next write
        self._gone = self._dead.append  # one bound method for every _Ref callback
        self._ids = 0
        self._prefix = secrets.token_hex(3)
        self._diff_memo: dict[tuple[int, int], tuple[Any, Any, Patch]] = {}
        self._connect_memo: dict[tuple[int, int], tuple[Any, Codec[S], Patch, Any]] = {}

    # -- reading -------------------------------------------------------------

    @property
    def defaults(self) -> S:
        """The current model-level defaults (an immutable snapshot; no lock)."""
        return self._model.defaults

    @property
    def version(self) -> int:
        """How many effective writes (model or session level) the store has seen."""
        return self._version

    @property
    def codec(self) -> Codec[S]:
        """The wire codec new sessions use unless given their own."""
        return self._codec

    @property
    def sessions(self) -> tuple[SessionState[S], ...]:
        """The live (not closed) sessions, oldest first."""
        found = (ref() for _, ref in sorted(self._sessions.copy().items()))
        return tuple(s for s in found if s is not None and not s._closed)

    def session(self, *, codec: Codec[S] | None = None) -> SessionState[S]:
        """A new session starting from the current defaults."""
        with self._lock:
            self._ids += 1
            sid = self._ids
        s = SessionState(self, sid, codec if codec is not None else self._codec)
        ref = _Ref(s, self._on_collected)
        ref.sid = sid
        self._sessions[sid] = ref
        return s

    # -- model-level writes --------------------------------------------------

    def write(self, change: Patch | Mapping[str, Any]) -> WriteResult:
        """Set the named fields on the defaults and on every live session.

        ``change`` is a :class:`Patch` or a mapping of dotted paths to values.
        Raises :class:`~optstate.InvalidOption` on a bad name or value; then
        nothing has changed anywhere.
        """
        p = self._as_patch(change)
        with self._lock:
            return self._model_write(p)

    def update(self, fn: Callable[[S], S]) -> WriteResult:
        """Model-level write of ``fn(defaults)``: the fields it changes are written
        as by :meth:`write`. ``fn`` must be pure: it runs outside the store's
        lock, and runs again if another write came first."""
        while True:
            model = self._model
            new = fn(model.defaults)
            if type(new) is not type(model.defaults):
                rule = f"must come back from the update function as a {type(model.defaults).__name__}"
                raise InvalidOption("", new, rule)
            with self._lock:
                if self._model is model:
                    return self._model_write(diff(model.defaults, new))

    def _model_write(self, p: Patch) -> WriteResult:
        # Under the lock.
        self._bury()
        model = self._model
        if not p:
            return WriteResult(p, self._version, False)
        defaults = apply(model.defaults, p)  # validates; raises before anything changes
        changed = diff(model.defaults, defaults)
        paths = p.paths()
        touched = False
        for path in paths:
            for sid in self._holders.get(path, ()):
                s = self._live(sid)
                if s is not None and s._own is not None and s._own[path][1] != _leaf(defaults, path):
                    touched = True
                    break
            if touched:
                break
        if not changed and not touched:
            return WriteResult(changed, self._version, False)
        version = self._version + 1
        stamps = dict(model.stamps)
        for path in paths:
            stamps[path] = version
            # Every session override of ``path`` is now older than the model's.
            self._holders.pop(path, None)
        self._model = _Model(defaults, stamps)
        self._version = version
        return WriteResult(changed, version, True)

    # -- machinery -----------------------------------------------------------

    def _as_patch(self, change: Patch | Mapping[str, Any]) -> Patch:
        if isinstance(change, Patch):
            return change
        if isinstance(change, Mapping):
            return patch(type(self._model.defaults), change)
        raise InvalidOption("", change, "must be a Patch or a mapping of field paths to values")

    def _live(self, sid: int) -> SessionState[S] | None:
        ref = self._sessions.get(sid)
        return None if ref is None else ref()

    def _desired(self, model: _Model[S], own: _Own | None, holder: SessionState[S]) -> S:
        """The defaults of ``model`` with the overrides of ``own`` newer than it."""
        if own is None:
            return model.defaults
        cached = holder._cache
        if cached is not None and cached[0] is model and cached[1] is own:
            return cached[2]  # type: ignore[no-any-return]
        live = _in_force(own, model)
        state = apply(model.defaults, from_valid_paths(live)) if live else model.defaults
        holder._cache = (model, own, state)  # one atomic attribute store
        return state

    def shared_diff(self, old: S, new: S) -> Patch:
        """``diff(old, new)``, remembered by identity: the store's sessions (and an
        integration's mirrors) with the same ``(old, new)`` objects get one patch,
        computed once. For integrations; equal to :func:`~optstate.diff`."""
        key = (id(old), id(new))
        hit = self._diff_memo.get(key)
        if hit is not None and hit[0] is old and hit[1] is new:
            return hit[2]
        p = diff(old, new)
        self._remember(old, new, p)
        return p

    def _connect(self, codec: Codec[S], desired: S) -> tuple[Patch, S]:
        """``(codec.connect_patch(desired), codec.fresh(desired))``, shared by
        identity: sessions (re)connecting with the same desired object share both."""
        key = (id(desired), id(codec))
        hit = self._connect_memo.get(key)
        if hit is not None and hit[0] is desired and hit[1] is codec:
            return hit[2], hit[3]
        change, held = codec.connect_patch(desired), codec.fresh(desired)
        if len(self._connect_memo) > 64:
            self._connect_memo.clear()
        self._connect_memo[key] = (desired, codec, change, held)
        return change, held

    def _remember(self, old: S, new: S, p: Patch) -> None:
        memo = self._diff_memo
        if len(memo) > 256:
            memo.clear()
        memo[(id(old), id(new))] = (old, new, p)

    def _on_collected(self, ref: _Ref) -> None:
        # A weakref callback may run anywhere (even inside a write on this
        # thread): only note the id; the next write forgets it.
        self._gone(ref.sid)

    def _bury(self) -> None:
        """Forget the sessions collected without ``close()`` (under the lock)."""
        while self._dead:
            sid = self._dead.pop()
            self._sessions.pop(sid, None)
            for holders in self._holders.values():
                holders.discard(sid)
            self._holders = {path: h for path, h in self._holders.items() if h}

    def _forget(self, s: SessionState[S]) -> None:
        """Drop a closed session's overrides from the writers' index."""
        with self._lock:
            self._sessions.pop(s._sid, None)
            for path in s._own or ():
                holders = self._holders.get(path)
                if holders is not None:
                    holders.discard(s._sid)
                    if not holders:
                        del self._holders[path]

    def _overrides(self) -> dict[int, dict[str, Any]]:
        """For tests and debugging: each live session's overrides in force (and
        collected sessions forgotten first, as the next write would)."""
        with self._lock:
            self._bury()
        out = {}
        model = self._model
        for s in self.sessions:
            live = _in_force(s._own or {}, model)
            if live:
                out[s._sid] = live
        return out


class SessionState(Generic[S]):
    """One live session: its **desired** state (from the store), what it **sent**,
    and what the server **confirmed**. Create with :meth:`Store.session`.

    Typical loop: after any write, call :meth:`sync` and send the event it
    returns; feed every server event to :meth:`on_server_event`; call
    :meth:`on_reconnect` when the connection is new.
    """

    # Slots: a store may hold many thousands of sessions; most have no
    # overrides and share every state object with the defaults.
    __slots__ = (
        "__weakref__",
        "_audio_started",
        "_cache",
        "_closed",
        "_codec",
        "_confirmed",
        "_fresh",
        "_inflight",
        "_n",
        "_needs_reconnect",
        "_own",
        "_sent",
        "_sid",
        "_store",
    )

    def __init__(self, store: Store[S], sid: int, codec: Codec[S]) -> None:
        self._store = store
        self._sid = sid
        self._codec = codec
        self._own: _Own | None = None
        self._cache: tuple[Any, Any, Any] | None = None
        self._n = 0  # event ids sent
        self._closed = False
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
    def id(self) -> int:
        """This session's id within its store."""
        return self._sid

    @property
    def desired(self) -> S:
        """What this session's writes (and the model's) say its options are."""
        store = self._store
        while True:
            model = store._model
            own = self._own
            if store._model is model:  # no model write in between: one instant
                return store._desired(model, own, self)

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
        with store._lock:
            if self._closed:
                raise StaleSession(f"session {self._sid} is closed")
            store._bury()
            model, own = store._model, self._own
            before = store._desired(model, own, self)
            change = p
            if unless is not None:
                change = p.without({path for path in p.paths() if _leaf(before, path) != unless[path]})
            after = apply(before, change)  # validates; raises before anything changes
            changed = diff(before, after)
            if not changed:
                return WriteResult(changed, store._version, False)
            version = store._version + 1
            stamps, defaults, holders = model.stamps, model.defaults, store._holders
            # Overrides the model has written since are dropped, not carried along.
            new: _Own = {} if own is None else {
                path: sv for path, sv in own.items() if sv[0] > stamps.get(path, 0)
            }  # fmt: skip
            # Only the leaves that changed: a named leaf that already held its value
            # needs no override of its own (it equals the model's, or it has one).
            for path, value in changed._leaves().items():
                # ``value`` comes from ``after`` (diff takes the new side's values): the
                # validated, converted, immutable value, never the caller's object.
                if _leaf(defaults, path) == value:
                    new.pop(path, None)
                    ids = holders.get(path)
                    if ids is not None:
                        ids.discard(self._sid)
                        if not ids:
                            del holders[path]
                else:
                    new[path] = (version, value)
                    holders.setdefault(path, set()).add(self._sid)
            own = new or None
            self._own = own
            # ``after`` is what the new overrides say: the next read needs no apply,
            # and the next sync finds diff(before, after) already made.
            self._cache = (model, own, after)
            store._remember(before, after, changed)
            store._version = version
            if self._closed:
                # close() ran while this write was being made (the lock is
                # re-entrant: code it calls on this thread): leave nothing behind.
                store._forget(self)
            return WriteResult(changed, version, True)

    # -- the wire ------------------------------------------------------------

    def sync(self) -> dict[str, Any] | None:
        """The next ``session.update`` to send, or ``None`` when the server already
        has (or is being sent) everything desired.

        Moves *sent* forward. Changes the live server would refuse are left out
        and listed in :attr:`needs_reconnect`.
        """
        self._check_open()
        store = self._store
        with store._lock:
            desired = self.desired
            sent = self._sent
            if self._fresh or sent is None:
                # What to send, and what the new connection's server holds: it may
                # already refuse something (voice, if the model spoke before our
                # first update).
                change, held = store._connect(self._codec, desired)
            elif sent is desired:
                self._needs_reconnect = ()
                return None
            else:
                change = store.shared_diff(sent, desired)
                held = sent
            refused = tuple(self._codec.refusals(held, change, audio_started=self._audio_started))
            self._needs_reconnect = refused
            if refused:
                change = change.without({r.path for r in refused})
            if not change:
                return None
            self._n += 1
            event_id = f"optstate_{store._prefix}_{self._sid}_{self._n}"
            event = self._codec.encode(change, event_id=event_id)
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
        self._check_open()
        with self._store._lock:
            self._reset()

    def mark_audio_started(self) -> None:
        """Record that the model produced audio (voice is now locked)."""
        self._audio_started = True

    def close(self) -> None:
        """Detach from the store; later writes or syncs raise ``StaleSession``."""
        with self._store._lock:
            if self._closed:
                return
            self._closed = True
            self._store._forget(self)

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
        with self._store._lock:
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
        with self._store._lock:
            index = next((i for i, f in enumerate(self._inflight) if f.event_id == event_id), None)
            if index is None:
                return None
            rejected = self._inflight[index]
            rest = [*self._inflight[:index], *self._inflight[index + 1 :]]
            self._inflight = rest if rest else ()
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

    def __repr__(self) -> str:
        return f"<SessionState {self._sid}{' closed' if self._closed else ''}>"


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
