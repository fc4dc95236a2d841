"""What nobody set stays the server's, and what the server reports is the truth
(issue 12): the session's belief follows every session.created/updated, a
contradiction is reported once and not re-sent, unmatched answers and errors are
handled or logged, and a silent server costs bounded memory."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import optstate
import optstate._connection
from optstate import Overruled, Store
from optstate._connection import MAX_IN_FLIGHT
from optstate.openai import RealtimeOptions, decode_update, encode_session

#: A server whose defaults are not optstate's record defaults.
SERVER = optstate.apply(
    RealtimeOptions(),
    optstate.patch(RealtimeOptions, {"instructions": "Server default.", "audio.output.speed": 1.1}),
)


def created(s: optstate.SessionState[Any], state: RealtimeOptions = SERVER) -> None:
    s.on_server_event({"type": "session.created", "session": encode_session(state)})


def updated(s: optstate.SessionState[Any], state: RealtimeOptions) -> None:
    s.on_server_event({"type": "session.updated", "session": encode_session(state)})


def applied(state: RealtimeOptions, event: dict[str, Any] | None) -> RealtimeOptions:
    assert event is not None
    return optstate.apply(state, decode_update(event["session"]))


class TestUnsetIsTheServers:
    def test_a_plain_store_sends_nothing_on_connect(self) -> None:
        """Store(RealtimeOptions()): nothing is set, so a connection is sent nothing,
        and the server's defaults (its instructions) read as the session's."""
        s = Store(RealtimeOptions()).session()
        assert s.sync() is None
        created(s)
        assert s.sync() is None
        assert s.desired.instructions == "Server default."
        assert s.desired.audio.output.speed == 1.1

    def test_created_first_then_only_set_fields_go_out(self) -> None:
        """session.created before the first sync: the first update carries the set
        fields only, never optstate's defaults over the server's."""
        store = Store(optstate.set(RealtimeOptions(), "audio.output.voice", "cedar"))
        s = store.session()
        created(s)
        event = s.sync()
        assert event is not None
        assert event["session"] == {"type": "realtime", "audio": {"output": {"voice": "cedar"}}}

    def test_reconnect_sends_set_fields_only(self) -> None:
        """A reconnect replays every set field and nothing nobody set."""
        store = Store(RealtimeOptions())
        s = store.session()
        created(s)
        store.write({"audio.output.speed": 1.4})
        s.sync()
        s.on_reconnect()
        event = s.sync()
        assert event is not None
        assert event["session"] == {"type": "realtime", "audio": {"output": {"speed": 1.4}}}


class TestServerIsTheTruth:
    def test_a_different_answer_is_confirmed_reported_and_not_resent(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The server answers 0.5 for a sent 0.75: confirmed is 0.5, the session
        lists the contradiction, a warning names the path, and nothing loops."""
        store = Store(RealtimeOptions())
        s = store.session()
        created(s)
        store.write({"audio.output.speed": 0.75})
        assert s.sync() is not None
        with caplog.at_level(logging.WARNING, logger="optstate"):
            updated(s, optstate.set(SERVER, "audio.output.speed", 0.5))
        assert s.confirmed is not None
        assert s.confirmed.audio.output.speed == 0.5
        assert s.overruled == (Overruled("audio.output.speed", 0.75, 0.5),)
        assert "audio.output.speed" in caplog.text
        assert all(not r.getMessage().startswith("optstate") for r in caplog.records)  # named once
        assert s.desired.audio.output.speed == 0.5
        assert s.sync() is None  # not re-sent in a loop
        s.write({"audio.output.speed": 0.75})  # asking again sends again
        assert s.sync() is not None

    def test_an_unsolicited_update_is_believed(self) -> None:
        """A session.updated nobody asked for (another client, a duplicate): the
        session's belief follows it; a set field it moved is reported."""
        store = Store(RealtimeOptions())
        s = store.session()
        created(s)
        store.write({"audio.output.speed": 1.3})
        server = applied(SERVER, s.sync())
        updated(s, server)
        assert s.overruled == ()
        other = optstate.set(optstate.set(server, "audio.output.voice", "ash"), "audio.output.speed", 0.8)
        updated(s, other)
        assert s.confirmed == other
        assert s.desired.audio.output.voice == "ash"  # nobody set voice: the server's
        assert [o.path for o in s.overruled] == ["audio.output.speed"]
        assert s.sync() is None

    def test_a_duplicated_answer_converges(self) -> None:
        """An answer delivered twice is taken for the next update's answer; the real
        answer then corrects the belief: desired ends where the application put it."""
        store = Store(RealtimeOptions())
        s = store.session()
        created(s)
        store.write({"audio.output.speed": 1.3})
        first = applied(SERVER, s.sync())
        store.write({"audio.output.speed": 1.4})
        second = applied(first, s.sync())
        updated(s, first)
        updated(s, first)  # the duplicate, taken for the second update's answer
        updated(s, second)  # unsolicited now: the server is believed
        assert s.confirmed == second
        assert s.desired.audio.output.speed == 1.4
        assert s.sync() is None

    def test_an_error_without_event_id_refuses_the_oldest_update(self) -> None:
        """event_id is optional in an error: a session error without one is the
        answer to the oldest update in flight (answers come in order)."""
        store = Store(RealtimeOptions())
        s = store.session()
        created(s)
        store.write({"audio.output.speed": 1.3})
        assert s.sync() is not None
        error = {"type": "invalid_request_error", "message": "no", "param": "session.audio.output.speed"}
        rejection = s.on_server_event({"type": "error", "error": error})
        assert rejection is not None
        assert s.in_flight == ()
        assert s.desired.audio.output.speed == 1.1  # rolled back to the server's
        s.write({"audio.output.speed": 1.3})
        assert s.sync() is not None  # asking again sends again

    def test_an_unmatched_error_is_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        """An error that names no update of this session is logged, and changes nothing."""
        store = Store(RealtimeOptions())
        s = store.session()
        created(s)
        store.write({"audio.output.speed": 1.3})
        assert s.sync() is not None
        with caplog.at_level(logging.WARNING, logger="optstate"):
            assert s.on_server_event({"type": "error", "error": {"message": "rate limited"}}) is None
        assert "matches none of the 1 updates in flight" in caplog.text
        assert len(s.in_flight) == 1


class TestSilentServer:
    def test_unanswered_updates_cost_bounded_records(self) -> None:
        """5 000 writes to a server that never answers: every event id stays due,
        but the session keeps at most MAX_IN_FLIGHT records."""
        store = Store(RealtimeOptions())
        s = store.session()
        created(s)
        for i in range(5000):
            store.write({"audio.output.speed": 0.5 + (i % 100) / 100})
            s.sync()
        assert len(s._inflight) <= MAX_IN_FLIGHT
        assert len(s.in_flight) == 5000

    def test_draining_a_backlog_is_linear(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Answering N updates in flight costs O(N) applies, not O(N^2)."""
        store = Store(RealtimeOptions())
        s = store.session()
        created(s)
        server, events = SERVER, []
        for i in range(400):
            store.write({"audio.output.speed": 0.5 + (i % 100) / 100})
            event = s.sync()
            server = applied(server, event)
            events.append(server)
        calls = []
        real = optstate._connection.apply

        def counting(*a: Any) -> Any:
            calls.append(1)
            return real(*a)

        monkeypatch.setattr(optstate._connection, "apply", counting)
        for state in events:
            updated(s, state)
        assert s.in_flight == ()
        assert s.confirmed == server
        assert len(calls) <= 3 * len(events)
