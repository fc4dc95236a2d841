"""The store: model-level defaults, and each session's ledger of its own writes.

Semantics (DESIGN.md, "Store and sessions"):

* a **model-level** write (:meth:`Store.write`) sets the named fields on the
  defaults and on every live session, last writer wins per field;
* a **session-level** write (:meth:`SessionState.write`) sets the named fields
  on that session only;
* no write changes a field it does not name;
* a field is **set** once a write named it (or the store's initial defaults
  differ there from the record's own defaults); a field nobody set is the
  server's: never sent, and read as the server reports it. Writing a value sets
  the field even when the value is the one already shown (the server may hold
  another); nothing unsets a field.

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

Each session's overrides live in its :class:`SessionLedger`, the store's record
of the session (and its weak reference to it). What the session sent and the
server confirmed is its connection's (``_connection.py``), which reaches the
ledger only through the ``Ledger`` interface; the ledger reaches the store only
through the store's ``_ledger_*`` methods.
"""

from __future__ import annotations

import operator
import secrets
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import attrs

from ._codec import Codec, Refusal, default_codec
from ._connection import Connection, Rejection, next_step
from ._errors import InvalidOption, StaleSession
from ._lock import WriteLock
from ._patch import Patch, apply, apply_moved, diff, from_valid_paths, full_patch, patch

__all__ = [
    "Rejection",  # defined in _connection; imported from here by the integrations
    "SessionState",
    "Store",
    "WriteResult",
]

S = TypeVar("S")


@attrs.frozen
class WriteResult:
    """What a write did: the leaves it ``changed`` (an empty patch for a no-op),
    and the store ``version`` after it. A leaf the write set for the first time
    counts as changed even at the value it showed (it will now be sent).
    ``effective`` is ``bool(changed)`` for a session write; for a model write it
    is true when the defaults or any session changed."""

    changed: Patch
    version: int
    effective: bool


class _Model(Generic[S]):
    """The model level: ``defaults``, and for each leaf path the stamp (store
    version) of the last model-level write naming it (0 for the initial defaults'
    set fields); ``written`` is the set of those paths. Never changed once published."""

    __slots__ = ("defaults", "stamps", "written")

    def __init__(self, defaults: S, stamps: dict[str, int]) -> None:
        self.defaults = defaults
        self.stamps = stamps
        self.written = frozenset(stamps)


#: A session's overrides: ``{leaf path: (stamp, value)}``; never changed once
#: published (a write publishes a new dict).
_Own = dict[str, tuple[int, Any]]


def _in_force(own: _Own, model: _Model[Any]) -> dict[str, Any]:
    """``{path: value}`` of the overrides in ``own`` newer than ``model``'s last
    write of their path (last writer wins, per field)."""
    stamps = model.stamps
    return {path: value for path, (stamp, value) in own.items() if stamp > stamps.get(path, 0)}


def _set_in(defaults: Any) -> list[str]:
    """The leaf paths a store's initial ``defaults`` set: where they differ from
    the record class's own defaults (every leaf when it has none)."""
    try:
        blank = type(defaults)()
    except (TypeError, InvalidOption):
        return list(full_patch(defaults).paths())
    return list(diff(blank, defaults).paths())


def _leaf(state: Any, path: str) -> Any:
    """The value at an internal (known valid) dotted path."""
    getter = _GETTERS.get(path)
    if getter is None:
        getter = _GETTERS[path] = operator.attrgetter(path)
    return getter(state)


#: One ``attrgetter`` per dotted path read (a C call that walks the dots).
_GETTERS: dict[str, Callable[[Any], Any]] = {}


class Store(Generic[S]):
    """The model level: defaults for new sessions, and the live sessions.

    ``Store(RealtimeOptions())`` uses the OpenAI codec registered for the
    state's class (GA dialect); pass ``codec=`` for another one. Safe to use
    from many threads and asyncio tasks at once.
    """

    def __init__(self, defaults: S, *, codec: Codec[S] | None = None) -> None:
        self._model: _Model[S] = _Model(defaults, dict.fromkeys(_set_in(defaults), 0))
        self._version = 0
        self._codec = codec if codec is not None else default_codec(defaults)
        # One re-entrant lock for every write and every session's wire state.
        self._lock = WriteLock()
        self._sessions: dict[int, SessionLedger[S]] = {}
        # Writers' index (only read and changed under the lock): leaf path ->
        # ids of the sessions whose override of it is newer than the model's.
        self._holders: dict[str, set[int]] = {}
        self._dead: list[int] = []  # collected sessions, forgotten at the next write
        self._gone = self._dead.append  # one bound method for every ledger's callback
        self._ids = 0
        self._prefix = secrets.token_hex(3)
        self._diff_memo: dict[tuple[int, int], tuple[Any, Any, Patch]] = {}
        self._connect_memo: dict[tuple[int, int, int], tuple[Any, Codec[S], Any, Patch, Any, Any]] = {}
        self._step_memo: dict[tuple[int, ...], tuple[Any, Any, Any, Codec[S], Any]] = {}

    # -- reading -------------------------------------------------------------

    @property
    def defaults(self) -> S:
        """The current model-level defaults (an immutable snapshot; no lock)."""
        return self._model.defaults

    @property
    def written(self) -> frozenset[str]:
        """The leaf paths set at the model level: by a model-level write, or by the
        initial defaults where they differ from the record's own (no lock)."""
        return self._model.written

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
        found = (ledger() for _, ledger in sorted(self._sessions.copy().items()) if not ledger.closed)
        return tuple(s for s in found if s is not None)

    def session(self, *, codec: Codec[S] | None = None) -> SessionState[S]:
        """A new session starting from the current defaults."""
        with self._lock:
            self._ids += 1
            sid = self._ids
        return SessionState(self._ledger_for(sid), codec if codec is not None else self._codec)

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
        # Validates (raises before anything changes); ``changed`` is diff(old, new).
        defaults, changed = apply_moved(model.defaults, p)
        paths = p._leaves()
        touched = False
        for path in paths:
            for sid in self._holders.get(path, ()):
                ledger = self._sessions.get(sid)
                if ledger is not None and ledger() is not None and ledger.differs(path, defaults):
                    touched = True
                    break
            if touched:
                break
        # A field set for the first time will be sent from now on, whatever it shows.
        fresh = [path for path in paths if path not in model.written]
        if fresh:
            changed = changed | from_valid_paths({path: _leaf(defaults, path) for path in fresh})
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

    # -- shared by the sessions ----------------------------------------------

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

    def _remember(self, old: S, new: S, p: Patch) -> None:
        memo = self._diff_memo
        if len(memo) > 256:
            memo.clear()
        memo[(id(old), id(new))] = (old, new, p)

    def _as_patch(self, change: Patch | Mapping[str, Any]) -> Patch:
        if isinstance(change, Patch):
            return change
        if isinstance(change, Mapping):
            return patch(type(self._model.defaults), change)
        raise InvalidOption("", change, "must be a Patch or a mapping of field paths to values")

    # -- what a session's ledger asks of its store ---------------------------

    def _ledger_for(self, sid: int) -> Callable[[SessionState[S]], SessionLedger[S]]:
        """Makes the ledger of a new session ``sid`` and registers it (the session
        calls it with itself: the ledger is the store's weak reference to it)."""

        def attach(session: SessionState[S]) -> SessionLedger[S]:
            ledger = SessionLedger(session, self, sid, self._lock)
            self._sessions[sid] = ledger
            return ledger

        return attach

    def _ledger_desired(self, ledger: SessionLedger[S]) -> S:
        """The desired state of ``ledger``'s session, as at one instant (no lock)."""
        while True:
            model = self._model
            own = ledger.own
            if self._model is model:  # no model write in between: one instant
                if own is None:
                    return model.defaults
                cached = ledger.cache  # the common case, without another call
                if cached is not None and cached[0] is model and cached[1] is own:
                    return cached[2]  # type: ignore[no-any-return]
                return self._desired(model, own, ledger)

    def _ledger_view(self, ledger: SessionLedger[S]) -> tuple[S, frozenset[str]]:
        """``(desired, written)`` of ``ledger``'s session, as at one instant (no lock)."""
        while True:
            model = self._model
            own = ledger.own
            if self._model is model:  # no model write in between: one instant
                if own is None:
                    return model.defaults, model.written
                desired = self._desired(model, own, ledger)
                cached = ledger.written
                if cached is None or cached[0] is not model or cached[1] is not own:
                    cached = ledger.written = (model, own, model.written | own.keys())
                return desired, cached[2]

    def _desired(self, model: _Model[S], own: _Own | None, ledger: SessionLedger[S]) -> S:
        """The defaults of ``model`` with the overrides of ``own`` newer than it."""
        if own is None:
            return model.defaults
        cached = ledger.cache
        if cached is not None and cached[0] is model and cached[1] is own:
            return cached[2]  # type: ignore[no-any-return]
        live = _in_force(own, model)
        state = apply(model.defaults, from_valid_paths(live)) if live else model.defaults
        ledger.cache = (model, own, state)  # one atomic attribute store
        return state

    def _ledger_write(
        self, ledger: SessionLedger[S], p: Patch, unless: Mapping[str, Any] | None
    ) -> WriteResult:
        """Session-level write of ``p`` to ``ledger``; with ``unless`` ({path: value}),
        only of the paths where desired still holds that value when it commits."""
        lock = self._lock
        if not lock.acquire(False):
            lock.wait()
        try:
            if ledger.closed:
                raise StaleSession(f"session {ledger.id} is closed")
            if self._dead:
                self._bury()
            model, own = self._model, ledger.own
            before = self._desired(model, own, ledger)
            change = p
            if unless is not None:
                change = p.without({path for path in p._leaves() if _leaf(before, path) != unless[path]})
            # Validates (raises before anything changes); ``moved`` is diff(before, after).
            after, moved = apply_moved(before, change)
            changed = moved
            named = change._leaves()
            if len(named) != len(moved._leaves()):
                # A field set for the first time counts as changed at any value: from
                # now on it is sent (the server may hold another than ``before`` shows).
                written = model.written if own is None else model.written | own.keys()
                fresh = [path for path in named if path not in written]
                if fresh:
                    changed = changed | from_valid_paths({path: _leaf(after, path) for path in fresh})
            if not changed:
                return WriteResult(changed, self._version, False)
            version = self._version + 1
            stamps, defaults, holders, sid = model.stamps, model.defaults, self._holders, ledger.id
            # Overrides the model has written since are dropped, not carried along.
            new: _Own = {} if own is None else {
                path: sv for path, sv in own.items() if sv[0] > stamps.get(path, 0)
            }  # fmt: skip
            # Only the leaves that changed: a named leaf that already held its value
            # needs no override of its own (it equals the model's, or it has one),
            # unless nobody set it before (the override is what makes it set).
            for path, value in changed._leaves().items():
                # ``value`` comes from ``after`` (apply_moved takes the new side's values):
                # the validated, converted, immutable value, never the caller's object.
                if path in stamps and _leaf(defaults, path) == value:
                    new.pop(path, None)
                    ids = holders.get(path)
                    if ids is not None:
                        ids.discard(sid)
                        if not ids:
                            del holders[path]
                else:
                    new[path] = (version, value)
                    ids = holders.get(path)
                    if ids is None:
                        holders[path] = {sid}
                    else:
                        ids.add(sid)
            seen = ledger.written
            same = own is not None and seen is not None and seen[0] is model and seen[1] is own
            if same and new.keys() == own.keys():  # type: ignore[union-attr]
                # The same paths overridden as before: the same written paths too.
                ledger.written = (model, new, seen[2])  # type: ignore[index]
            own = new or None
            ledger.own = own
            # ``after`` is what the new overrides say: the next read needs no apply,
            # and the next sync finds diff(before, after) already made.
            ledger.cache = (model, own, after)
            self._remember(before, after, moved)
            self._version = version
            if ledger.closed:
                # close() ran while this write was being made (the lock is
                # re-entrant: code it calls on this thread): leave nothing behind.
                self._forget(ledger)
            return WriteResult(changed, version, True)
        finally:
            lock.release()

    def _ledger_close(self, ledger: SessionLedger[S]) -> None:
        """Close ``ledger``'s session: it leaves the store (once)."""
        with self._lock:
            if ledger.closed:
                return
            ledger.closed = True
            self._forget(ledger)

    def _ledger_connect(self, codec: Codec[S], desired: S, written: frozenset[str]) -> tuple[Patch, S, S]:
        """What a new connection is sent for ``desired`` (its ``written`` fields but
        ``model``), what the fresh server holds, and what it holds once the patch is
        applied; shared by identity: sessions (re)connecting with the same desired
        and written objects share all three."""
        key = (id(desired), id(codec), id(written))
        hit = self._connect_memo.get(key)
        if hit is not None and hit[0] is desired and hit[1] is codec and hit[2] is written:
            return hit[3], hit[4], hit[5]
        full, held = codec.connect_patch(desired), codec.fresh(desired)
        change = full.without(full.paths().keys() - written)
        after = apply(held, change)
        if len(self._connect_memo) > 64:
            self._connect_memo.clear()
        self._connect_memo[key] = (desired, codec, written, change, held, after)
        return change, held, after

    def _ledger_step(
        self,
        ledger: SessionLedger[S],
        codec: Codec[S],
        sent: S,
        desired: S,
        written: frozenset[str],
        audio_started: bool,
    ) -> tuple[Patch, tuple[Refusal, ...], S]:
        """:func:`next_step` from ``sent`` to ``desired``. For a session on the shared
        defaults (no overrides of its own) it is remembered by identity: after a
        model-level write, every session that had sent the same state shares one
        result (and one state after), computed once."""
        if ledger.own is not None:  # its desired state is its own: nobody shares it
            return next_step(codec, self.shared_diff(sent, desired), sent, desired, written, audio_started)
        memo = self._step_memo
        key = (id(sent), id(desired), id(written), id(codec), audio_started)
        hit = memo.get(key)
        if hit is not None and hit[0] is sent and hit[1] is desired and hit[2] is written and hit[3] is codec:
            return hit[4]  # type: ignore[no-any-return]
        step = next_step(codec, self.shared_diff(sent, desired), sent, desired, written, audio_started)
        if len(memo) > 64:
            memo.clear()
        memo[key] = (sent, desired, written, codec, step)
        return step

    def _ledger_collected(self, ledger: SessionLedger[S]) -> None:
        # A weakref callback may run anywhere (even inside a write on this
        # thread): only note the id; the next write forgets it.
        self._gone(ledger.id)

    # -- machinery -----------------------------------------------------------

    def _bury(self) -> None:
        """Forget the sessions collected without ``close()`` (under the lock)."""
        while self._dead:
            sid = self._dead.pop()
            self._sessions.pop(sid, None)
            for holders in self._holders.values():
                holders.discard(sid)
            self._holders = {path: h for path, h in self._holders.items() if h}

    def _forget(self, ledger: SessionLedger[S]) -> None:
        """Drop a closed session's overrides from the writers' index (under the lock)."""
        self._sessions.pop(ledger.id, None)
        for path in ledger.own or ():
            holders = self._holders.get(path)
            if holders is not None:
                holders.discard(ledger.id)
                if not holders:
                    del self._holders[path]

    def _overrides(self) -> dict[int, dict[str, Any]]:
        """For tests and debugging: each live session's overrides in force (and
        collected sessions forgotten first, as the next write would)."""
        with self._lock:
            self._bury()
        out = {}
        model = self._model
        for sid, ledger in sorted(self._sessions.copy().items()):
            live = _in_force(ledger.own or {}, model)
            if live and not ledger.closed and ledger() is not None:
                out[sid] = live
        return out


class SessionLedger(weakref.ref["SessionState[Any]"], Generic[S]):
    """The store's record of one session: its overrides (``own``), the cached
    desired state, whether it is closed; and the store's weak reference to the
    session (so a session dropped without ``close()`` is collected).

    A session's connection reaches its options only through this object (the
    ``Ledger`` interface of ``_connection.py``); this object reaches the store
    only through the store's ``_ledger_*`` methods.
    """

    __slots__ = ("cache", "closed", "event_prefix", "id", "lock", "own", "store", "written")

    def __new__(
        cls, session: SessionState[S], store: Store[S], sid: int, lock: WriteLock
    ) -> SessionLedger[S]:
        return super().__new__(cls, session, store._ledger_collected)

    def __init__(self, session: SessionState[S], store: Store[S], sid: int, lock: WriteLock) -> None:
        # (``weakref.ref.__new__`` took the session and the callback.)
        self.store = store
        #: The session's id within its store.
        self.id = sid
        #: The session's overrides; ``None`` while it has none.
        self.own: _Own | None = None
        #: ``(model, own, desired)`` of the last desired state computed.
        self.cache: tuple[Any, Any, Any] | None = None
        #: ``(model, own, written)`` of the last set of written paths computed.
        self.written: tuple[Any, Any, frozenset[str]] | None = None
        self.closed = False
        #: The store's write lock (every change to the session holds it).
        self.lock = lock
        #: What the event ids of this session's updates start with (a number follows).
        self.event_prefix = f"optstate_{store._prefix}_{sid}_"

    @property
    def desired(self) -> S:
        """The session's desired state, as at one instant (no lock)."""
        return self.store._ledger_desired(self)

    def view(self) -> tuple[S, frozenset[str]]:
        """``(desired, written)`` as at one instant (no lock): the desired state and
        the paths set at the model level or by this session."""
        return self.store._ledger_view(self)

    def differs(self, path: str, defaults: S) -> bool:
        """Whether the session overrides ``path`` with a value other than ``defaults``'s."""
        own = self.own
        return own is not None and own[path][1] != _leaf(defaults, path)

    def write(self, p: Patch, unless: Mapping[str, Any] | None = None) -> WriteResult:
        """Session-level write of ``p``; with ``unless`` ({path: value}), only of the
        paths where desired still holds that value when the write commits."""
        return self.store._ledger_write(self, p, unless)

    def as_patch(self, change: Patch | Mapping[str, Any]) -> Patch:
        """``change`` as a patch of the store's options (validated)."""
        return self.store._as_patch(change)

    def rollback(self, p: Patch, unless: Mapping[str, Any]) -> Patch:
        """:meth:`write` of ``p`` ``unless`` desired moved on; what it changed."""
        return self.store._ledger_write(self, p, unless).changed

    def close(self) -> None:
        """The session leaves the store (once)."""
        self.store._ledger_close(self)

    def shared_diff(self, old: S, new: S) -> Patch:
        """The store's :meth:`Store.shared_diff`."""
        return self.store.shared_diff(old, new)

    def connect(self, codec: Codec[S], desired: S, written: frozenset[str]) -> tuple[Patch, S, S]:
        """The store's shared connect patch, fresh server state and state after."""
        return self.store._ledger_connect(codec, desired, written)

    def step(
        self, codec: Codec[S], sent: S, desired: S, written: frozenset[str], audio_started: bool
    ) -> tuple[Patch, tuple[Refusal, ...], S]:
        """The store's :func:`~optstate._connection.next_step`, shared by the sessions
        on shared state."""
        return self.store._ledger_step(self, codec, sent, desired, written, audio_started)


class SessionState(Connection[S]):
    """One live session: its **desired** state (from the store), what it **sent**,
    and what the server **confirmed**. Create with :meth:`Store.session`.

    Typical loop: after any write, call :meth:`sync` and send the event it
    returns; feed every server event to :meth:`on_server_event`; call
    :meth:`on_reconnect` when the connection is new.

    The wire half (``sync``, server events, rollback, reconnect) is its
    :class:`Connection` base; the options half is its store's ledger of it.
    """

    __slots__ = ()
    _ledger: SessionLedger[S]

    def __init__(self, attach: Callable[[SessionState[S]], SessionLedger[S]], codec: Codec[S]) -> None:
        super().__init__(attach(self), codec)

    @property
    def id(self) -> int:
        """This session's id within its store."""
        return self._ledger.id

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._ledger.closed

    @property
    def _own(self) -> _Own | None:
        """For tests and debugging: the session's overrides (the ledger's object)."""
        return self._ledger.own

    def write(self, change: Patch | Mapping[str, Any]) -> WriteResult:
        """Set the named fields on this session only. A bad name or value raises
        :class:`~optstate.InvalidOption` and changes nothing."""
        ledger = self._ledger
        if ledger.closed:
            raise StaleSession(f"session {ledger.id} is closed")
        return ledger.write(ledger.as_patch(change))

    def close(self) -> None:
        """Detach from the store; later writes or syncs raise ``StaleSession``."""
        self._ledger.close()

    def __repr__(self) -> str:
        return f"<SessionState {self.id}{' closed' if self.closed else ''}>"
