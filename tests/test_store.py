"""Store and sessions: model/session write semantics, sync, rejection, reconnect, close."""

from __future__ import annotations

import gc
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optstate
from optstate import InvalidOption, Patch, StaleSession, Store
from optstate._connection import Connection, next_step
from optstate.openai import OpenAICodec, RealtimeOptions, decode_update, encode_session
from optstate.strategies import patches


def server_ack(
    session: optstate.SessionState[Any], event: dict[str, Any], state: RealtimeOptions
) -> RealtimeOptions:
    """Apply ``event`` as a server would and answer ``session.updated``."""
    new = optstate.apply(state, decode_update(event["session"]))
    session.on_server_event({"type": "session.updated", "session": encode_session(new)})
    return new


def connect(session: optstate.SessionState[Any]) -> RealtimeOptions:
    """A fresh server: session.created with defaults, then the first full update."""
    server = RealtimeOptions()
    session.on_server_event({"type": "session.created", "session": encode_session(server)})
    event = session.sync()
    return server if event is None else server_ack(session, event, server)


class TestWrites:
    def test_model_write_reaches_every_session(self) -> None:
        """A model-level write sets the defaults and every live session (issue 5530)."""
        store = Store(RealtimeOptions())
        a, b = store.session(), store.session()
        connect(a), connect(b)
        store.write({"audio.output.speed": 1.5})
        for s in (a, b):
            event = s.sync()
            assert event is not None
            assert event["session"]["audio"] == {"output": {"speed": 1.5}}
        assert store.defaults.audio.output.speed == 1.5
        assert store.session().desired.audio.output.speed == 1.5

    def test_session_write_is_local(self) -> None:
        """A session-level write changes that session only."""
        store = Store(RealtimeOptions())
        a, b = store.session(), store.session()
        a.write({"audio.output.voice": "marin"})
        assert a.desired.audio.output.voice == "marin"
        assert b.desired.audio.output.voice == "alloy"
        assert store.defaults.audio.output.voice == "alloy"

    def test_unrelated_model_write_keeps_session_setting(self) -> None:
        """An unrelated model-level write never undoes a session-level setting."""
        store = Store(RealtimeOptions())
        a = store.session()
        a.write({"audio.input.transcription": {"model": "whisper-1"}})
        store.write({"audio.output.speed": 1.2})
        assert a.desired.audio.input.transcription is not None
        assert a.desired.audio.output.speed == 1.2

    def test_model_write_of_same_field_wins_last(self) -> None:
        """Last writer wins per field: a later model write overrides a session setting."""
        store = Store(RealtimeOptions())
        a = store.session()
        a.write({"audio.output.speed": 1.2})
        result = store.write({"audio.output.speed": 1.0})  # equal to the default
        assert result.effective  # the session changed even though the defaults did not
        assert a.desired.audio.output.speed == 1.0
        # ...the defaults did not change value; the model level now sets the field
        assert result.changed == optstate.patch(RealtimeOptions, {"audio.output.speed": 1.0})
        assert not store.write({"audio.output.speed": 1.0}).effective

    def test_noop_writes_change_nothing(self) -> None:
        """Writing the value already set is not effective and sends nothing."""
        store = Store(RealtimeOptions())
        a = store.session()
        connect(a)
        store.write({"audio.output.speed": 1.0})
        a.write({"instructions": ""})
        assert a.sync() is None  # the server holds both already
        v = store.version
        assert not store.write({"audio.output.speed": 1.0}).effective
        assert not a.write({"instructions": ""}).effective
        assert store.version == v
        assert a.sync() is None

    def test_writing_a_field_sets_it_even_at_the_value_shown(self) -> None:
        """A field nobody set shows the server's value; writing any value sets it,
        and it is sent when the server holds another (no unset on the wire)."""
        store = Store(RealtimeOptions())
        a = store.session()
        server = optstate.set(RealtimeOptions(), "audio.output.speed", 1.2)
        a.on_server_event({"type": "session.created", "session": encode_session(server)})
        assert a.sync() is None  # nothing is set: nothing to send
        assert a.desired.audio.output.speed == 1.2  # the server's value
        result = store.write({"audio.output.speed": 1.0})  # the record default, the server holds 1.2
        assert result.effective
        event = a.sync()
        assert event is not None
        assert event["session"] == {"type": "realtime", "audio": {"output": {"speed": 1.0}}}

    def test_update_is_functional(self) -> None:
        """store.update(fn) writes exactly the fields fn changed."""
        store = Store(RealtimeOptions())
        result = store.update(lambda s: optstate.set(s, "instructions", "hi"))
        assert result.changed.paths() == {"instructions": "hi"}
        assert store.defaults.instructions == "hi"


class TestBadInput:
    @pytest.mark.parametrize(
        "change",
        [
            {"audio.output.speed": 9.0},
            {"audio.output.nope": 1},
            {"instructions": 3},
            {"audio.input.turn_detection": {"type": "server_vad", "threshold": "high"}},
            Patch({"audio": Patch({"output": Patch({"speed": -1})})}),
            Patch({"audio": 1}),
        ],
    )
    @pytest.mark.parametrize("level", ["model", "session"])
    def test_bad_write_changes_nothing(self, change: Any, level: str) -> None:
        """A bad write raises InvalidOption naming the field; store and sessions are
        equal and identical to before."""
        store = Store(RealtimeOptions())
        a, b = store.session(), store.session()
        b.write({"audio.output.voice": "ash"})
        before = (store._model, a._own, b._own, store.defaults, a.desired, b.desired, store.version)
        target = store if level == "model" else a
        with pytest.raises(InvalidOption) as info:
            target.write(change)
        assert info.value.path
        after = (store._model, a._own, b._own, store.defaults, a.desired, b.desired, store.version)
        assert after == before
        assert all(x is y for x, y in zip(after, before, strict=True))

    def test_wrong_type_of_change(self) -> None:
        """A write that is neither a Patch nor a mapping is refused clearly."""
        with pytest.raises(InvalidOption, match="must be a Patch or a mapping"):
            Store(RealtimeOptions()).write(["speed"])  # type: ignore[arg-type]


class TestWire:
    def test_first_sync_sends_every_set_field_but_model(self) -> None:
        """A new connection gets every field somebody set, except the model (the
        URL chooses it), and nothing nobody set."""
        store = Store(RealtimeOptions(instructions="hi"))
        event = store.session().sync()
        assert event is not None
        assert event["session"] == {"type": "realtime", "instructions": "hi"}
        assert Store(RealtimeOptions()).session().sync() is None

    def test_created_before_first_sync_sends_only_the_difference(self) -> None:
        """When session.created arrives first, only what the server lacks is sent."""
        store = Store(RealtimeOptions(instructions="hi"))
        s = store.session()
        s.on_server_event({"type": "session.created", "session": encode_session(RealtimeOptions())})
        event = s.sync()
        assert event is not None
        assert event["session"] == {"type": "realtime", "instructions": "hi"}

    def test_rejection_rolls_back_and_same_value_is_sent_again(self) -> None:
        """An error naming a sent update rolls it back; asking again sends again."""
        store = Store(RealtimeOptions())
        s = store.session()
        server = connect(s)
        store.write({"audio.output.speed": 1.5})
        event = s.sync()
        assert event is not None
        rejection = s.on_server_event(
            {"type": "error", "error": {"event_id": event["event_id"], "message": "nope"}}
        )
        assert rejection is not None
        assert rejection.change.paths() == {"audio.output.speed": 1.5}
        assert s.desired.audio.output.speed == 1.0 == server.audio.output.speed
        assert s.sync() is None  # no retry loop
        store.write({"audio.output.speed": 1.5})  # asking again is not swallowed
        again = s.sync()
        assert again is not None
        assert again["session"]["audio"]["output"]["speed"] == 1.5

    def test_rejection_narrowed_to_param(self) -> None:
        """Only the field the error names is rolled back; the rest is resent."""
        store = Store(RealtimeOptions())
        s = store.session()
        connect(s)
        store.write({"audio.output.speed": 1.5, "instructions": "hi"})
        event = s.sync()
        assert event is not None
        s.on_server_event(
            {
                "type": "error",
                "error": {"event_id": event["event_id"], "param": "session.audio.output.speed"},
            }
        )
        assert s.desired.instructions == "hi"
        retry = s.sync()
        assert retry is not None
        assert retry["session"] == {"type": "realtime", "instructions": "hi"}

    def test_foreign_error_is_ignored(self) -> None:
        """An error naming another event is not a rejection of ours."""
        s = Store(RealtimeOptions()).session()
        connect(s)
        assert s.on_server_event({"type": "error", "error": {"event_id": "other"}}) is None

    def test_reconnect_resends_every_set_field(self) -> None:
        """After a reconnect the next sync sends every set field again, and nothing else."""
        store = Store(RealtimeOptions())
        s = store.session()
        connect(s)
        s.write({"audio.output.speed": 1.3})
        s.sync()
        s.on_reconnect()
        event = s.sync()
        assert event is not None
        assert event["session"]["audio"]["output"]["speed"] == 1.3
        assert "instructions" not in event["session"]

    def test_voice_after_audio_needs_reconnect(self) -> None:
        """voice after audio output is kept, not sent, and reported; a reconnect sends it."""
        store = Store(RealtimeOptions())
        s = store.session()
        connect(s)
        s.on_server_event({"type": "response.output_audio.delta", "delta": ""})
        store.write({"audio.output.voice": "marin", "audio.output.speed": 1.1})
        event = s.sync()
        assert event is not None
        assert event["session"]["audio"]["output"] == {"speed": 1.1}
        assert [r.path for r in s.needs_reconnect] == ["audio.output.voice"]
        s.on_reconnect()
        full = s.sync()
        assert full is not None
        assert full["session"]["audio"]["output"]["voice"] == "marin"
        assert s.needs_reconnect == ()

    def test_malformed_server_events_are_reported_not_raised(self, caplog: Any) -> None:
        """Garbage from the server never raises into the receive loop."""
        caplog.set_level(logging.WARNING, logger="optstate")
        s = Store(RealtimeOptions()).session()
        connect(s)
        confirmed = s.confirmed
        for junk in [
            {"type": "session.updated"},
            {"type": "session.created", "session": {"audio": {"output": "fast"}}},
            {"type": "error", "error": "boom"},
            {"type": "error"},
            {"type": "something.new", "x": 1},
            "not an event",
        ]:
            assert s.on_server_event(junk) is None  # type: ignore[arg-type]
        assert s.confirmed == confirmed
        assert "malformed" in caplog.text

    def test_shared_snapshots_share_the_diff(self, monkeypatch: Any) -> None:
        """Fan-out: many sessions with the same sent/desired objects compute one diff."""
        store = Store(RealtimeOptions())
        sessions = [store.session() for _ in range(50)]
        store.write({"audio.output.speed": 1.2})
        for s in sessions:
            s.sync()
        calls = []
        real = optstate._store.diff

        def counting(a: Any, b: Any) -> Patch:
            calls.append(1)
            return real(a, b)

        monkeypatch.setattr(optstate._store, "diff", counting)
        store.write({"audio.output.speed": 1.4})
        calls.clear()
        events = [s.sync() for s in sessions]
        assert all(e is not None for e in events)
        assert len({e["event_id"] for e in events if e}) == 50
        assert len(calls) == 1


class TestClose:
    def test_close_detaches(self) -> None:
        """A closed session leaves the store, drops its overrides and refuses use."""
        store = Store(RealtimeOptions())
        s = store.session()
        s.write({"audio.output.speed": 1.2})
        s.close()
        assert s not in store.sessions
        assert not store._overrides()
        assert not store._holders
        with pytest.raises(StaleSession):
            s.write({"audio.output.speed": 1.3})
        with pytest.raises(StaleSession):
            s.sync()

    def test_forgotten_sessions_do_not_leak(self) -> None:
        """A session dropped without close is collected and forgotten by the store."""
        store = Store(RealtimeOptions())
        s = store.session()
        s.write({"audio.output.speed": 1.2})
        del s
        gc.collect()
        assert store.sessions == ()
        assert not store._overrides()


#: Every leaf path: the stand-in ledger's application set every field.
ALL_SET = frozenset(optstate.full_patch(RealtimeOptions()).paths())


class _DictLedger:
    """The least a connection needs from a ledger: a desired state and a lock (no store)."""

    def __init__(self, desired: RealtimeOptions) -> None:
        self.id = 7
        self.closed = False
        self.desired = desired
        self.lock = optstate._lock.WriteLock()
        self.event_prefix = "optstate_test_7_"
        self.rolled: list[Patch] = []

    def rollback(self, p: Patch, unless: Any) -> Patch:
        self.rolled.append(p)
        self.desired = optstate.apply(self.desired, p)
        return p

    def shared_diff(self, old: RealtimeOptions, new: RealtimeOptions) -> Patch:
        return optstate.diff(old, new)

    def view(self) -> tuple[RealtimeOptions, frozenset[str]]:
        return self.desired, ALL_SET

    def connect(
        self, codec: Any, desired: RealtimeOptions, written: frozenset[str]
    ) -> tuple[Patch, RealtimeOptions, RealtimeOptions]:
        held = codec.fresh(desired)
        change = codec.connect_patch(desired)
        return change, held, optstate.apply(held, change)

    def step(
        self, codec: Any, sent: RealtimeOptions, desired: RealtimeOptions, written: frozenset[str], on: bool
    ) -> tuple[Patch, tuple[Any, ...], RealtimeOptions]:
        return next_step(codec, optstate.diff(sent, desired), sent, desired, written, on)


class TestConnection:
    def test_a_connection_needs_only_its_ledger_interface(self) -> None:
        """A Connection driven through a stand-in ledger (no store) syncs, confirms and rolls back."""
        ledger = _DictLedger(RealtimeOptions())
        wire: Connection[RealtimeOptions] = Connection(ledger, OpenAICodec())
        wire.on_server_event({"type": "session.created", "session": encode_session(RealtimeOptions())})
        assert wire.sync() is None
        ledger.desired = optstate.set(ledger.desired, "audio.output.speed", 1.2)
        event = wire.sync()
        assert event is not None
        assert event["event_id"] == "optstate_test_7_1"
        assert wire.in_flight == ("optstate_test_7_1",)
        error = {"type": "invalid_request_error", "message": "no", "event_id": "optstate_test_7_1"}
        rejection = wire.on_server_event({"type": "error", "error": error})
        assert rejection is not None
        assert ledger.rolled == [optstate.patch(RealtimeOptions, {"audio.output.speed": 1.0})]
        assert wire.in_flight == ()
        assert wire.sync() is None


# -- many sessions synced at once ------------------------------------------------------

_SESSIONS = 4
_STEP = st.one_of(
    st.tuples(st.just("model"), patches()),
    st.tuples(st.just("session"), st.integers(0, _SESSIONS - 1), patches()),
    st.tuples(st.just("audio"), st.integers(0, _SESSIONS - 1)),
    st.tuples(st.just("reconnect"), st.integers(0, _SESSIONS - 1)),
    st.tuples(st.just("answer"), st.integers(0, _SESSIONS - 1)),
    st.tuples(st.just("sync")),
)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(_STEP, max_size=14))
def test_sync_all_gives_what_each_sync_gives(steps: list[tuple[Any, ...]]) -> None:
    """``SessionState.sync_all`` shares the work between sessions in the same state;
    on twin stores run through the same program, it gives every session the event
    (same id, same body) and leaves it in the state that its own ``sync()`` would:
    sessions on the shared defaults, some with a setting of their own, some with
    audio started (voice refused), some reconnected, some answered."""
    twins = (Store(RealtimeOptions()), Store(RealtimeOptions()))
    twins[1]._prefix = twins[0]._prefix  # the same event ids on both
    sessions = [[store.session() for _ in range(_SESSIONS)] for store in twins]
    for step in [*steps, ("sync",)]:
        kind = step[0]
        if kind == "sync":
            together = optstate.SessionState.sync_all(sessions[0])
            alone = [s.sync() for s in sessions[1]]
            assert together == alone
            for a, b in zip(*sessions, strict=True):
                assert (a.sent, a.needs_reconnect, a.in_flight) == (b.sent, b.needs_reconnect, b.in_flight)
            continue
        for store, mine in zip(twins, sessions, strict=True):
            if kind == "model":
                store.write(step[1])
            elif kind == "session":
                mine[step[1]].write(step[2])
            elif kind == "audio":
                mine[step[1]].mark_audio_started()
            elif kind == "reconnect":
                mine[step[1]].on_reconnect()
            elif mine[step[1]].in_flight and mine[step[1]].sent is not None:
                s = mine[step[1]]
                s.on_server_event({"type": "session.updated", "session": encode_session(s.sent)})
