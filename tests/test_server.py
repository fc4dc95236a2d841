"""The loopback Realtime server: real websocket clients on 127.0.0.1, no mocks.

``optstate.server`` is imported lazily (by the fixture), not at collection, so
that it is not yet an attribute of ``optstate`` when ``tests/test_public_api.py``
checks the package namespace. The fixture is imported from the plugin module
until the plugin is registered as a ``pytest11`` entry point (harmless after).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sized
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings

import optstate
from optstate import Patch, apply
from optstate._pytest_plugin import realtime_server as realtime_server
from optstate.openai import RealtimeOptions, decode, encode, refusals
from optstate.strategies import patches

if TYPE_CHECKING:
    from optstate.server import RealtimeServer

AZURE_QUERY = "api-version=2024-10-01-preview&deployment=gpt-realtime"


class Client:
    """A thin websocket client speaking JSON events."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.created: dict[str, Any] = {}
        self._ids = 0

    async def send(self, event: dict[str, Any] | None) -> None:
        assert event is not None
        await self.ws.send_str(json.dumps(event))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        return json.loads(msg.data)  # type: ignore[no-any-return]

    async def update(self, session: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        """Send one session.update and return the server's answer."""
        self._ids += 1
        event_id = event_id or f"client_{self._ids}"
        await self.send({"type": "session.update", "event_id": event_id, "session": session})
        return await self.recv()


@asynccontextmanager
async def connect(
    server: RealtimeServer, path: str = "/v1/realtime?model=gpt-realtime"
) -> AsyncIterator[Client]:
    """A connected client that has read its session.created."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"ws://127.0.0.1:{server.port}{path}", headers={"Authorization": "Bearer x"}) as ws,
    ):
        client = Client(ws)
        client.created = await client.recv()
        yield client


@pytest.fixture
async def client(realtime_server: RealtimeServer) -> AsyncIterator[Client]:
    """One client connected to ``realtime_server`` for the whole test."""
    async with connect(realtime_server) as c:
        yield c


def server_defaults(model: str | None = None) -> RealtimeOptions:
    """What a fresh connection of the server holds (:func:`optstate.server.server_defaults`)."""
    from optstate.server import DEFAULT_MODEL
    from optstate.server import server_defaults as defaults

    return defaults(model or DEFAULT_MODEL)


def wiped_defaults(server: RealtimeServer, session: int = 0) -> list[str]:
    """The paths where ``session`` started from a non-empty server default and now
    holds an empty value (``""``, ``null``, ``[]``): what a client that sends values
    nobody set destroys. ``assert not wiped_defaults(server)`` fails such a client."""
    conn = server.connections[session]
    changed = optstate.diff(conn.initial, conn.state).paths()
    return [
        path
        for path, value in changed.items()
        if (value is None or (isinstance(value, Sized) and not value))
        and optstate.get(conn.initial, path) not in (None, "", ())
    ]


def ga(**session: Any) -> dict[str, Any]:
    return {"type": "realtime", **session}


def speed(value: Any) -> dict[str, Any]:
    return ga(audio={"output": {"speed": value}})


class TestConnect:
    async def test_session_created_holds_the_defaults(self, realtime_server: RealtimeServer) -> None:
        """session.created decodes to server_defaults() and carries ids like the real API."""
        async with connect(realtime_server) as client:
            created = client.created
            assert created["type"] == "session.created"
            assert created["event_id"].startswith("event_")
            assert created["session"]["object"] == "realtime.session"
            assert created["session"]["id"].startswith("sess_")
            assert decode(created["session"]) == server_defaults()
            assert realtime_server.states == [server_defaults()]
            assert realtime_server.sessions == [created["session"]]

    async def test_model_comes_from_the_url(self, realtime_server: RealtimeServer) -> None:
        """The ``model`` query parameter is the session's model."""
        async with connect(realtime_server, "/v1/realtime?model=gpt-realtime-mini") as client:
            assert decode(client.created["session"]) == server_defaults("gpt-realtime-mini")

    async def test_urls_and_connection_order(self, realtime_server: RealtimeServer) -> None:
        """base_url is ws://127.0.0.1:PORT/v1 and sessions are listed in connection order."""
        assert realtime_server.base_url == f"ws://127.0.0.1:{realtime_server.port}/v1"
        assert realtime_server.azure_endpoint == f"http://127.0.0.1:{realtime_server.port}"
        async with connect(realtime_server) as first, connect(realtime_server) as second:
            await second.update(speed(0.5))
            await first.update(speed(1.5))
            assert [s.audio.output.speed for s in realtime_server.states] == [1.5, 0.5]
            conns = realtime_server.connections
            assert [c.index for c in conns] == [0, 1]
            assert conns[0].headers["Authorization"] == "Bearer x"
            assert conns[0].query == {"model": "gpt-realtime"}

    async def test_unknown_path_is_404(self, realtime_server: RealtimeServer) -> None:
        """Only the realtime paths upgrade to a websocket."""
        url = f"http://127.0.0.1:{realtime_server.port}/v1/other"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 404

    async def test_close_closes_clients(self) -> None:
        """Leaving the server's context closes every open connection (code 1001)."""
        from optstate.server import RealtimeServer

        async with RealtimeServer() as server, connect(server) as client:
            await server.close()
            msg = await client.ws.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.CLOSE
            assert msg.data == aiohttp.WSCloseCode.GOING_AWAY
            assert server.connections[0].closed


class TestServerDefaults:
    @pytest.mark.parametrize("path", ["/v1/realtime?model=gpt-realtime", f"/openai/realtime?{AZURE_QUERY}"])
    async def test_session_created_carries_the_default_instructions(
        self, realtime_server: RealtimeServer, path: str
    ) -> None:
        """A fresh connection holds non-empty default instructions, shown in session.created."""
        from optstate.server import DEFAULT_INSTRUCTIONS

        dialect = "beta" if path.startswith("/openai/realtime") else "ga"
        async with connect(realtime_server, path) as client:
            assert DEFAULT_INSTRUCTIONS
            assert client.created["session"]["instructions"] == DEFAULT_INSTRUCTIONS
            assert decode(client.created["session"], dialect).instructions == DEFAULT_INSTRUCTIONS
            assert realtime_server.connections[0].initial == server_defaults()

    async def test_every_connection_starts_from_the_defaults(self, realtime_server: RealtimeServer) -> None:
        """What one connection changed is not where the next one starts."""
        async with connect(realtime_server) as first:
            await first.update(ga(instructions="Be brief."))
        async with connect(realtime_server) as second:
            assert decode(second.created["session"]) == server_defaults()
        assert [c.initial for c in realtime_server.connections] == [server_defaults()] * 2

    async def test_a_client_sending_empty_instructions_wipes_them(
        self, realtime_server: RealtimeServer
    ) -> None:
        """The server does what it is told: instructions "" replace its defaults,
        and wiped_defaults() names the harm, so a test of such a client fails."""
        async with connect(realtime_server) as client:
            reply = await client.update(ga(instructions=""))
            assert reply["type"] == "session.updated"
            assert reply["session"]["instructions"] == ""
            assert realtime_server.states[0].instructions == ""
            assert wiped_defaults(realtime_server) == ["instructions"]
            with pytest.raises(AssertionError):
                assert not wiped_defaults(realtime_server)

    async def test_a_client_that_sends_only_its_changes_keeps_them(
        self, realtime_server: RealtimeServer
    ) -> None:
        """A client that sends only what it set leaves the server's defaults alone."""
        async with connect(realtime_server) as client:
            await client.update(speed(1.2))
            assert wiped_defaults(realtime_server) == []
            assert realtime_server.states[0] == optstate.set(server_defaults(), "audio.output.speed", 1.2)


class TestSessionUpdate:
    async def test_update_is_applied_and_answered(self, realtime_server: RealtimeServer) -> None:
        """A valid update is applied and answered by session.updated holding the new state."""
        change = optstate.patch(RealtimeOptions, {"audio.output.speed": 1.5, "instructions": "Be brief."})
        expected = apply(server_defaults(), change)
        async with connect(realtime_server) as client:
            await client.send(encode(change, event_id="client_1"))
            reply = await client.recv()
            assert reply["type"] == "session.updated"
            assert reply["event_id"] != "client_1"  # the real API echoes no client id here
            assert decode(reply["session"]) == expected
            assert realtime_server.states[0] == expected
            assert decode(realtime_server.sessions[0]) == expected

    async def test_null_clears(self, realtime_server: RealtimeServer) -> None:
        """``null`` turn detection clears it on the server."""
        async with connect(realtime_server) as client:
            reply = await client.update(ga(audio={"input": {"turn_detection": None}}))
            assert reply["type"] == "session.updated"
            assert realtime_server.states[0].audio.input.turn_detection is None

    @pytest.mark.parametrize(
        ("session", "param"),
        [
            (speed(9.0), "session.audio.output.speed"),
            (ga(bogus=1), "session.bogus"),
            (ga(audio={"input": {"turn_detection": {"type": "server_vad", "bogus": 1}}}), None),
            ("not an object", "session"),
        ],
    )
    async def test_invalid_update_changes_nothing(
        self, realtime_server: RealtimeServer, session: Any, param: str | None
    ) -> None:
        """An invalid update gets an error with the client's event_id; the state is unchanged."""
        async with connect(realtime_server) as client:
            await client.update(speed(1.2))
            before = realtime_server.states[0]
            reply = await client.update(session, event_id="bad_1")
            assert reply["type"] == "error"
            error = reply["error"]
            assert error["type"] == "invalid_request_error"
            assert error["code"] == "invalid_value"
            assert error["event_id"] == "bad_1"
            assert error["message"]
            if param is not None:
                assert error["param"] == param
            assert realtime_server.states[0] is before

    async def test_model_change_is_refused(self, realtime_server: RealtimeServer) -> None:
        """The model cannot change mid-session; sending the same model is fine."""
        async with connect(realtime_server) as client:
            reply = await client.update(ga(model="gpt-realtime-mini"), event_id="m1")
            assert reply["type"] == "error"
            assert reply["error"]["code"] == "cannot_update_model"
            assert reply["error"]["param"] == "session.model"
            assert reply["error"]["event_id"] == "m1"
            assert realtime_server.states[0] == server_defaults()
            assert (await client.update(ga(model="gpt-realtime")))["type"] == "session.updated"

    async def test_voice_is_locked_after_audio(self, realtime_server: RealtimeServer) -> None:
        """After mark_audio_produced the client sees audio and a voice change is refused."""
        async with connect(realtime_server) as client:
            assert (await client.update(ga(audio={"output": {"voice": "marin"}})))[
                "type"
            ] == "session.updated"
            await realtime_server.mark_audio_produced(0)
            kinds = []
            while not kinds or kinds[-1] != "response.done":
                kinds.append((await client.recv())["type"])
            assert "response.output_audio.delta" in kinds
            reply = await client.update(ga(audio={"output": {"voice": "cedar"}}), event_id="v1")
            assert reply["error"]["code"] == "cannot_update_voice"
            assert reply["error"]["param"] == "session.audio.output.voice"
            assert reply["error"]["event_id"] == "v1"
            assert realtime_server.states[0].audio.output.voice == "marin"
            assert (await client.update(speed(1.1)))["type"] == "session.updated"

    async def test_tracing_is_locked_once_enabled(self, realtime_server: RealtimeServer) -> None:
        """Tracing can be enabled once, then not changed."""
        async with connect(realtime_server) as client:
            assert (await client.update(ga(tracing="auto")))["type"] == "session.updated"
            reply = await client.update(ga(tracing=None))
            assert reply["error"]["code"] == "cannot_update_tracing"
            assert realtime_server.states[0].tracing == "auto"

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(change=patches())
    async def test_server_state_follows_apply(
        self, realtime_server: RealtimeServer, client: Client, change: Patch
    ) -> None:
        """On one connection, each random patch takes the server from s to apply(s, patch),
        or leaves s with an error when the server rules refuse it."""
        held = realtime_server.states[0]
        event = encode(change, event_id="prop")
        if event is None:
            return
        await client.send(event)
        reply = await client.recv()
        if refusals(held, change):
            assert reply["type"] == "error"
            assert reply["error"]["event_id"] == "prop"
            assert realtime_server.states[0] is held
        else:
            assert reply["type"] == "session.updated", reply
            assert realtime_server.states[0] == apply(held, change)
            assert decode(reply["session"]) == apply(held, change)


class TestOtherEvents:
    async def test_plugin_events_are_accepted(self, realtime_server: RealtimeServer) -> None:
        """Every other event a realtime plugin sends is accepted, and answered as the plugin expects."""
        async with connect(realtime_server) as client:
            item = {"id": "item_a", "type": "message", "role": "user", "content": []}
            await client.send({"type": "conversation.item.create", "event_id": "e1", "item": item})
            added = await client.recv()
            assert added["type"] == "conversation.item.added"
            assert added["item"] == item
            assert added["previous_item_id"] is None
            await client.send(
                {"type": "conversation.item.create", "item": {"type": "message", "role": "user"}}
            )
            second = await client.recv()
            assert second["item"]["id"]
            assert second["previous_item_id"] == "item_a"
            await client.send({"type": "conversation.item.delete", "item_id": "item_a"})
            deleted = await client.recv()
            assert (deleted["type"], deleted["item_id"]) == ("conversation.item.deleted", "item_a")
            metadata = {"client_event_id": "response_create_1"}
            await client.send({"type": "response.create", "response": {"metadata": metadata}})
            created, done = await client.recv(), await client.recv()
            assert created["type"] == "response.created"
            assert created["response"]["metadata"] == metadata
            assert done["type"] == "response.done"
            assert done["response"]["status"] == "completed"
            for event in [
                {"type": "input_audio_buffer.append", "audio": "AAAA"},
                {"type": "input_audio_buffer.commit"},
                {"type": "input_audio_buffer.clear"},
                {"type": "conversation.item.truncate", "item_id": "x", "content_index": 0, "audio_end_ms": 5},
                {"type": "response.cancel"},
                {"type": "output_audio_buffer.clear"},
            ]:
                await client.send(event)
            await realtime_server.wait_for_event("output_audio_buffer.clear")
            sent = [e["type"] for e in realtime_server.sent[0]]
            assert "error" not in sent
            assert sent[-3:] == [
                "input_audio_buffer.committed",
                "input_audio_buffer.cleared",
                "conversation.item.truncated",
            ]
            assert not client.ws.closed

    async def test_responses_can_carry_audio(self, realtime_server: RealtimeServer) -> None:
        """With respond_with_audio, response.create streams audio and locks the voice."""
        realtime_server.respond_with_audio()
        async with connect(realtime_server) as client:
            await client.send({"type": "response.create"})
            kinds = []
            while not kinds or kinds[-1] != "response.done":
                kinds.append((await client.recv())["type"])
            assert kinds[0] == "response.created"
            assert "response.output_audio.delta" in kinds
            assert realtime_server.connections[0].audio_started
            reply = await client.update(ga(audio={"output": {"voice": "echo"}}))
            assert reply["error"]["code"] == "cannot_update_voice"

    @pytest.mark.parametrize(
        ("message", "code"),
        [
            (json.dumps({"type": "totally.unknown", "event_id": "u1"}), "unknown_event"),
            ("{not json", "invalid_json"),
            ("[1, 2]", "invalid_event"),
        ],
    )
    async def test_bad_messages_get_an_error_and_the_connection_stays(
        self, realtime_server: RealtimeServer, message: str, code: str
    ) -> None:
        """Unknown events and malformed JSON are answered by an error; the connection stays open."""
        async with connect(realtime_server) as client:
            await client.ws.send_str(message)
            reply = await client.recv()
            assert reply["type"] == "error"
            assert reply["error"]["code"] == code
            assert reply["error"]["event_id"] == ("u1" if code == "unknown_event" else None)
            assert (await client.update(speed(0.8)))["type"] == "session.updated"
            assert realtime_server.received[0][0] == (
                json.loads(message) if code != "invalid_json" else message
            )


class TestControls:
    async def test_fail_next_update(self, realtime_server: RealtimeServer) -> None:
        """fail_next_update fails exactly the next update, with the client's event_id."""
        async with connect(realtime_server) as client:
            realtime_server.fail_next_update("boom", "injected", param="session.audio.output.speed")
            reply = await client.update(speed(1.3), event_id="f1")
            assert reply["type"] == "error"
            assert reply["error"] == {
                "type": "invalid_request_error",
                "code": "boom",
                "message": "injected",
                "param": "session.audio.output.speed",
                "event_id": "f1",
            }
            assert realtime_server.states[0] == server_defaults()
            assert (await client.update(speed(1.3)))["type"] == "session.updated"

    async def test_fail_next_update_of_one_session(self, realtime_server: RealtimeServer) -> None:
        """A failure aimed at session 1 leaves session 0's updates alone."""
        async with connect(realtime_server) as first, connect(realtime_server) as second:
            realtime_server.fail_next_update(session=1)
            assert (await first.update(speed(1.3)))["type"] == "session.updated"
            assert (await second.update(speed(1.3)))["type"] == "error"
            assert [s.audio.output.speed for s in realtime_server.states] == [1.3, 1.0]

    async def test_withdraw_failures(self, realtime_server: RealtimeServer) -> None:
        """withdraw_failures takes back queued failures not yet used (of one session,
        or all) and says how many; updates then succeed."""
        async with connect(realtime_server) as first, connect(realtime_server) as second:
            realtime_server.fail_next_update(session=0)
            realtime_server.fail_next_update(session=0)
            realtime_server.fail_next_update(session=1)
            realtime_server.fail_next_update()
            assert (await first.update(speed(1.3)))["type"] == "error"  # one used: it stays used
            assert realtime_server.withdraw_failures(session=1) == 1
            assert realtime_server.withdraw_failures(session=1) == 0
            assert realtime_server.withdraw_failures() == 2  # session 0's last, and the any-session one
            assert realtime_server.withdraw_failures() == 0
            assert (await first.update(speed(1.3)))["type"] == "session.updated"
            assert (await second.update(speed(1.4)))["type"] == "session.updated"

    async def test_withdraw_leaves_failures_for_any_session(self, realtime_server: RealtimeServer) -> None:
        """Withdrawing one session's failures keeps those aimed at any session."""
        async with connect(realtime_server) as client:
            realtime_server.fail_next_update(session=0)
            realtime_server.fail_next_update(code="still_queued")
            assert realtime_server.withdraw_failures(session=0) == 1
            assert (await client.update(speed(1.3)))["error"]["code"] == "still_queued"
            assert (await client.update(speed(1.3)))["type"] == "session.updated"

    async def test_received_is_what_each_connection_was_sent(self, realtime_server: RealtimeServer) -> None:
        """received[i] is every message the client of connection i sent, in order:
        parsed JSON, or the raw text or bytes; it is that connection's own list."""
        sent: list[Any] = [
            {"type": "session.update", "event_id": "r1", "session": speed(1.1)},
            {"type": "input_audio_buffer.append", "audio": "AAAA"},
            {"type": "totally.unknown"},
            {"type": "response.create", "response": {"metadata": {"k": "v"}}},
            {"type": "output_audio_buffer.clear"},
        ]
        async with connect(realtime_server) as client, connect(realtime_server) as other:
            await client.send(sent[0])
            await client.ws.send_str("{not json")
            await client.ws.send_bytes(b"\x00\x01")
            for event in sent[1:]:
                await client.send(event)
            await other.send(sent[1])
            await realtime_server.wait_for_event("output_audio_buffer.clear")
            await realtime_server.wait_for_event("input_audio_buffer.append", session=1)
            assert realtime_server.received == [
                [sent[0], "{not json", b"\x00\x01", *sent[1:]],
                [sent[1]],
            ]
            assert realtime_server.received[0] is realtime_server.connections[0].received

    async def test_updates_record_what_was_done_with_each_update(
        self, realtime_server: RealtimeServer
    ) -> None:
        """Each connection's updates list every session.update and its outcome, also
        when no answer is sent (muted)."""
        async with connect(realtime_server) as client:
            await client.update(speed(1.1), event_id="u1")
            await client.update(ga(model="other"), event_id="u2")
            realtime_server.mute()
            await client.send({"type": "session.update", "event_id": "u3", "session": speed(0.9)})
            await realtime_server.wait_for_event("session.update", count=3)
            updates = realtime_server.connections[0].updates
            assert [u.event["event_id"] for u in updates] == ["u1", "u2", "u3"]
            assert [u.applied for u in updates] == [True, False, True]
            assert updates[1].error is not None
            assert updates[1].error["code"] == "cannot_update_model"
            assert updates[0].state.audio.output.speed == 1.1
            assert updates[1].state is updates[0].state
            assert updates[2].state == realtime_server.states[0]
            assert realtime_server.sent[0][-1]["type"] == "error"  # u3's answer never went out

    async def test_drop_after_closes_the_connection(self, realtime_server: RealtimeServer) -> None:
        """drop_after(2) answers the second message, then closes; the session keeps its last state."""
        realtime_server.drop_after(2)
        async with connect(realtime_server) as client:
            assert (await client.update(speed(1.1)))["type"] == "session.updated"
            assert (await client.update(speed(1.2)))["type"] == "session.updated"
            msg = await client.ws.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.CLOSE
        assert (await realtime_server.wait_for_close(0)).closed
        assert decode(realtime_server.sessions[0]).audio.output.speed == 1.2

    async def test_drop_now_and_reconnect(self, realtime_server: RealtimeServer) -> None:
        """drop() closes at once; a new connection is a new session with fresh defaults."""
        async with connect(realtime_server) as client:
            await client.update(speed(1.4))
            await realtime_server.drop(0)
            msg = await client.ws.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.CLOSE
        async with connect(realtime_server):
            assert realtime_server.states == [
                optstate.set(server_defaults(), "audio.output.speed", 1.4),
                server_defaults(),
            ]

    async def test_delay_answers_late(self, realtime_server: RealtimeServer) -> None:
        """With delay(s) the state changes at once and the answer comes s later."""
        async with connect(realtime_server) as client:
            realtime_server.delay(0.3)
            start = time.monotonic()
            await client.send({"type": "session.update", "event_id": "d1", "session": speed(0.9)})
            await realtime_server.wait_for_event("session.update")
            assert realtime_server.states[0].audio.output.speed == 0.9
            reply = await client.recv()
            assert reply["type"] == "session.updated"
            assert time.monotonic() - start >= 0.3

    async def test_mute_never_answers(self, realtime_server: RealtimeServer) -> None:
        """A muted server applies updates but never answers, until unmuted."""
        async with connect(realtime_server) as client:
            realtime_server.mute()
            await client.send({"type": "session.update", "event_id": "m1", "session": speed(0.7)})
            with pytest.raises(asyncio.TimeoutError):
                await client.ws.receive(timeout=0.2)
            assert realtime_server.states[0].audio.output.speed == 0.7
            realtime_server.unmute()
            assert (await client.update(speed(0.6)))["type"] == "session.updated"

    async def test_logs_of_received_and_sent_events(self, realtime_server: RealtimeServer) -> None:
        """received[i] and sent[i] log the traffic of session i, in order."""
        async with connect(realtime_server) as client:
            await client.update(speed(1.1), event_id="l1")
            await client.update(ga(model="other"), event_id="l2")
            assert [e["event_id"] for e in realtime_server.received[0]] == ["l1", "l2"]
            assert [e["type"] for e in realtime_server.sent[0]] == [
                "session.created",
                "session.updated",
                "error",
            ]
            assert realtime_server.sent[0][0] == client.created

    async def test_send_pushes_a_server_event(self, realtime_server: RealtimeServer, client: Client) -> None:
        """send() pushes any server event at once, with an event_id added."""
        await realtime_server.send(0, {"type": "input_audio_buffer.speech_started", "item_id": "i1"})
        event = await client.recv()
        assert event["type"] == "input_audio_buffer.speech_started"
        assert event["event_id"].startswith("event_")
        assert realtime_server.sent[0][-1] == event

    async def test_wait_for_event_times_out(self, realtime_server: RealtimeServer) -> None:
        """wait_for_event raises TimeoutError naming what it waited for."""
        with pytest.raises(TimeoutError, match=r"response\.create"):
            await realtime_server.wait_for_event("response.create", timeout=0.05)


class TestBetaDialect:
    async def test_azure_path_speaks_beta(self, realtime_server: RealtimeServer) -> None:
        """The Azure legacy path sends a beta session.created and applies beta updates."""
        async with connect(realtime_server, f"/openai/realtime?{AZURE_QUERY}") as client:
            session = client.created["session"]
            assert "audio" not in session
            assert {"voice", "turn_detection", "modalities"} <= set(session)
            assert decode(session, "beta") == server_defaults()
            assert realtime_server.connections[0].dialect == "beta"
            change = optstate.patch(
                RealtimeOptions,
                {"audio.output.speed": 1.3, "audio.input.noise_reduction": {"type": "near_field"}},
            )
            await client.send(encode(change, "beta", event_id="b1"))
            reply = await client.recv()
            assert reply["type"] == "session.updated"
            assert reply["session"]["speed"] == 1.3
            assert decode(reply["session"], "beta") == apply(server_defaults(), change)
            assert "audio" in realtime_server.sessions[0]  # the server's view is always GA
            assert decode(realtime_server.sessions[0]) == apply(server_defaults(), change)

    async def test_beta_errors_name_beta_params(self, realtime_server: RealtimeServer) -> None:
        """A bad beta value is refused with the beta wire name as its param."""
        async with connect(realtime_server, f"/openai/realtime?{AZURE_QUERY}") as client:
            reply = await client.update({"speed": 3.0}, event_id="b2")
            assert reply["error"]["param"] == "session.speed"
            assert reply["error"]["event_id"] == "b2"
            reply = await client.update({"audio": {"output": {"speed": 1.2}}})
            assert reply["type"] == "error"  # GA shape on a beta connection

    async def test_beta_audio_events_use_beta_names(self, realtime_server: RealtimeServer) -> None:
        """Beta connections get conversation.item.created and response.audio.delta."""
        realtime_server.respond_with_audio()
        async with connect(realtime_server, f"/openai/realtime?{AZURE_QUERY}") as client:
            await client.send(
                {"type": "conversation.item.create", "item": {"type": "message", "role": "user"}}
            )
            assert (await client.recv())["type"] == "conversation.item.created"
            await client.send({"type": "response.create"})
            kinds = []
            while not kinds or kinds[-1] != "response.done":
                kinds.append((await client.recv())["type"])
            assert "response.audio.delta" in kinds
