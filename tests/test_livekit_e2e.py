"""optstate.livekit end to end: the real plugin, a real websocket on 127.0.0.1.

Every test drives the stock ``RealtimeModel`` (with the adapter attached, or
not, to show the stock behaviour) against the loopback server, and checks what
the *server* holds afterwards: for an attached model, each session's server
state equals ``state_of(session).desired``, less the changes the live server
refuses (``needs_reconnect``). Waits poll the server (at most 2 s); nothing sleeps.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

pytest.importorskip("livekit.plugins.openai")

from livekit.agents import llm
from tests.test_livekit import Harness, until
from tests.test_livekit import harness as harness

import optstate
import optstate.livekit as lk
from optstate.openai import NoiseReduction, RealtimeOptions
from optstate.server import RealtimeServer

pytestmark = pytest.mark.livekit


def expected(session: Any) -> RealtimeOptions:
    """What the server should hold for an attached session: its desired options,
    except the changes the live server refuses, which stay as the server has them."""
    state = lk.state_of(session)
    want = state.desired
    for refusal in state.needs_reconnect:
        held = state.confirmed if state.confirmed is not None else state.sent
        want = optstate.set(want, refusal.path, optstate.get(held, refusal.path))
    return want


async def settled(harness: Harness, pairs: list[tuple[Any, int]]) -> None:
    """Wait until each (session, server connection) pair agrees and nothing is in flight."""

    def done() -> bool:
        states = harness.server.states
        return all(
            not lk.state_of(s).in_flight and len(states) > i and states[i] == expected(s) for s, i in pairs
        )

    await until(done, "the server holds what optstate says")


def marker(session: Any, harness: Harness, conn: int, choice: str = "required") -> Any:
    """Send a session-level change the server will apply, and a wait for it: the
    server handles a session's messages in order, so once it holds the marker it
    has handled everything sent before it."""
    session.update_options(tool_choice=choice)
    return until(lambda: harness.server.states[conn].tool_choice == choice, "the marker")


def has_own_opts(session: Any) -> bool:
    """Whether the plugin keeps each session's options apart from the model's (1.8)."""
    return "_opts" in vars(session)


class TestWrites:
    async def test_model_and_session_writes_on_three_sessions(self, harness: Harness) -> None:
        """Model- and session-level writes, null clears included, leave every
        session's server state equal to what optstate says it should be."""
        model = harness.model()
        s = [await harness.connected(model) for _ in range(3)]
        model.update_options(speed=1.25)
        s[0].update_options(input_audio_noise_reduction="near_field")
        s[1].update_options(turn_detection=None, input_audio_transcription=None)
        model.update_options(voice="alloy", tool_choice="required")
        s[2].update_options(speed=0.9, truncation="disabled")
        model.update_options(max_response_output_tokens=500, input_audio_noise_reduction="far_field")
        s[0].update_options(input_audio_noise_reduction=None)
        await settled(harness, [(s[0], 0), (s[1], 1), (s[2], 2)])
        states = harness.server.states
        assert [x.audio.output.speed for x in states] == [1.25, 1.25, 0.9]
        assert [x.audio.output.voice for x in states] == ["alloy"] * 3
        assert [x.audio.input.noise_reduction for x in states] == [
            None,
            NoiseReduction(type="far_field"),
            NoiseReduction(type="far_field"),
        ]
        assert states[1].audio.input.turn_detection is None
        assert states[1].audio.input.transcription is None
        assert states[0].audio.input.transcription is not None
        assert [x.truncation for x in states] == ["auto", "auto", "disabled"]
        assert {x.max_output_tokens for x in states} == {500}
        assert [e for c in harness.server.sent for e in c if e["type"] == "error"] == []

    async def test_session_created_after_writes_starts_from_the_defaults(self, harness: Harness) -> None:
        """A session opened after model-level writes starts with them, and without
        other sessions' session-level settings."""
        model = harness.model()
        first = await harness.connected(model)
        first.update_options(input_audio_noise_reduction="near_field")
        model.update_options(speed=1.4, voice="ash")
        second = await harness.connected(model)
        await settled(harness, [(first, 0), (second, 1)])
        assert harness.server.states[1].audio.output.speed == 1.4
        assert harness.server.states[1].audio.input.noise_reduction is None

    async def test_instructions_and_tools_reach_the_server(self, harness: Harness) -> None:
        """update_instructions and update_tools reach the server through the store."""

        @llm.function_tool
        async def get_weather(city: str) -> str:
            """Get the weather for a city."""
            return "sunny"

        model = harness.model()
        session = await harness.connected(model)
        await session.update_instructions("be brief")
        await session.update_tools([get_weather])
        await settled(harness, [(session, 0)])
        assert harness.server.states[0].instructions == "be brief"
        assert [t.name for t in harness.server.states[0].tools] == ["get_weather"]


class TestRejection:
    async def test_rejected_session_write_is_resent_when_asked_again(self, harness: Harness) -> None:
        """The server refuses an update: optstate rolls it back, and asking for the
        same value again sends it again."""
        model = harness.model()
        session = await harness.connected(model)
        state = lk.state_of(session)
        await settled(harness, [(session, 0)])
        harness.server.fail_next_update(session=0)
        session.update_options(speed=1.3)
        await until(lambda: not state.in_flight, "the rejection")
        assert state.desired.audio.output.speed == 1.0
        await settled(harness, [(session, 0)])
        session.update_options(speed=1.3)
        await settled(harness, [(session, 0)])
        assert harness.server.states[0].audio.output.speed == 1.3

    async def test_rejected_model_write_is_resent_to_that_session(self, harness: Harness) -> None:
        """A model-level write refused by one session's server reaches the others;
        writing it again resends it to the one that refused it."""
        model = harness.model()
        s = [await harness.connected(model) for _ in range(2)]
        await settled(harness, [(s[0], 0), (s[1], 1)])
        harness.server.fail_next_update(session=1)
        model.update_options(turn_detection=None)
        await settled(harness, [(s[0], 0), (s[1], 1)])
        assert harness.server.states[0].audio.input.turn_detection is None
        assert harness.server.states[1].audio.input.turn_detection is not None
        model.update_options(turn_detection=None)
        await settled(harness, [(s[0], 0), (s[1], 1)])
        assert harness.server.states[1].audio.input.turn_detection is None


class TestReconnect:
    async def test_reconnect_sends_the_stores_state(self, harness: Harness) -> None:
        """After the server drops the connection, the plugin's replay starts with the
        store's whole state (session-level settings, instructions, tools), chat items
        are replayed too, and later writes reach the new connection."""

        @llm.function_tool
        async def lookup(key: str) -> str:
            """Look a key up."""
            return key

        model = harness.model()
        session = await harness.connected(model)
        other = await harness.connected(model)
        model.update_options(speed=1.2)
        session.update_options(input_audio_noise_reduction="near_field", turn_detection=None)
        await session.update_instructions("be brief")
        await session.update_tools([lookup])
        chat = llm.ChatContext.empty()
        chat.add_message(role="user", content="hello", id="msg_1")
        await session.update_chat_ctx(chat)
        await settled(harness, [(session, 0), (other, 1)])

        await harness.server.drop(0)
        conn = await harness.server.wait_for_connections(3)
        model.update_options(voice="ash")
        await settled(harness, [(session, conn.index), (other, 1)])
        replayed = harness.server.states[conn.index]
        assert replayed.instructions == "be brief"
        assert [t.name for t in replayed.tools] == ["lookup"]
        assert replayed.audio.input.noise_reduction == NoiseReduction(type="near_field")
        assert replayed.audio.input.turn_detection is None
        assert replayed.audio.output.voice == "ash"
        assert "msg_1" in conn.items
        first = conn.received[0]
        assert first["type"] == "session.update"
        assert first["session"]["instructions"] == "be brief"
        # Nothing already sent on this connection is sent again: the tools went with
        # the first update, so no second update restates them.
        updates = [e["session"] for e in conn.received if e.get("type") == "session.update"]
        assert sum("tools" in u for u in updates) == 1

    async def test_drop_right_after_a_write(self, harness: Harness) -> None:
        """A connection that drops right after a write comes back with the store's
        state, and writes made while it was down are not lost."""
        model = harness.model()
        session = await harness.connected(model)
        await settled(harness, [(session, 0)])
        harness.server.drop_after(1, session=0)
        session.update_options(speed=1.1)
        model.update_options(tool_choice="none")  # likely sent while the connection is down
        conn = await harness.server.wait_for_connections(2)
        await settled(harness, [(session, conn.index)])
        assert harness.server.states[conn.index].audio.output.speed == 1.1
        assert harness.server.states[conn.index].tool_choice == "none"

    async def test_voice_after_audio_goes_out_on_the_next_connection(self, harness: Harness) -> None:
        """Once the model has spoken, a voice change waits (needs_reconnect) and
        the next connection gets it."""
        model = harness.model()
        session = await harness.connected(model)
        state = lk.state_of(session)
        await harness.server.mark_audio_produced(0)
        await until(lambda: state.audio_started, "the client hearing audio")
        model.update_options(voice="alloy", speed=1.2)
        await settled(harness, [(session, 0)])
        assert harness.server.states[0].audio.output.voice == "marin"
        assert [r.path for r in state.needs_reconnect] == ["audio.output.voice"]
        await harness.server.drop(0)
        conn = await harness.server.wait_for_connections(2)
        await settled(harness, [(session, conn.index)])
        assert harness.server.states[conn.index].audio.output.voice == "alloy"
        assert state.needs_reconnect == ()

    async def test_first_connection_fails(self, harness: Harness) -> None:
        """When the first connection is refused, the updates queued meanwhile and the
        plugin's retry replay (1.5 sends both) still leave the server right."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        model = harness.model(base_url=f"ws://127.0.0.1:{port}/v1")
        session = harness.session(model)
        model.update_options(speed=1.4)
        session.update_options(turn_detection=None)
        async with RealtimeServer(port=port) as late:
            await until(lambda: bool(late.states), "the retry", timeout=5.0)
            await until(
                lambda: not lk.state_of(session).in_flight and late.states[0] == expected(session),
                "the server holds what optstate says",
            )
            await session.aclose()


class TestStockBugs:
    @pytest.mark.parametrize("attached", [False, True], ids=["stock", "attached"])
    async def test_issue_5530_model_write_reaches_the_server(self, harness: Harness, attached: bool) -> None:
        """livekit/agents#5530: model.update_options(speed=1.5) never reaches the
        server with the stock 1.5 plugin (1.8 fixed it); with the adapter it does."""
        model = harness.model(attach=attached)
        session = await harness.connected(model)
        model.update_options(speed=1.5)
        await marker(session, harness, 0)
        speed = harness.server.states[0].audio.output.speed
        if attached or has_own_opts(session):
            assert speed == 1.5
        else:
            assert speed == 1.0  # the report: the write was lost

    @pytest.mark.parametrize("attached", [False, True], ids=["stock", "attached"])
    async def test_model_write_keeps_session_noise_reduction(self, harness: Harness, attached: bool) -> None:
        """An unrelated model-level write must not undo a session-level setting: the
        stock 1.8 plugin sends noise_reduction null with it (and 1.5 loses the write);
        with the adapter the server keeps near_field and gets the new voice."""
        model = harness.model(attach=attached)
        session = await harness.connected(model)
        session.update_options(input_audio_noise_reduction="near_field")
        model.update_options(voice="alloy")
        await marker(session, harness, 0)
        held = harness.server.states[0].audio
        if attached:
            assert (held.input.noise_reduction, held.output.voice) == (NoiseReduction(), "alloy")
        elif has_own_opts(session):
            assert (held.input.noise_reduction, held.output.voice) == (None, "alloy")  # clobbered
        else:
            assert (held.input.noise_reduction, held.output.voice) == (NoiseReduction(), "marin")  # lost

    async def test_attach_heals_a_live_session(self, harness: Harness) -> None:
        """Attaching to a model whose session already lost a write (stock 1.5)
        brings that session's server state to what the options say."""
        model = harness.model(attach=False)
        session = await harness.connected(model)
        model.update_options(speed=1.5)
        lk.attach(model)
        await settled(harness, [(session, 0)])
        assert harness.server.states[0].audio.output.speed == 1.5


class TestAzure:
    async def test_legacy_azure_speaks_beta_with_null_clears(self, harness: Harness) -> None:
        """A legacy Azure model (api_version) speaks the beta dialect, null clears
        included (the stock plugin drops nulls there)."""
        model = harness.model(
            azure_deployment="dep1",
            api_version="2024-10-01-preview",
            base_url=harness.server.azure_endpoint + "/openai",
        )
        session = await harness.connected(model)
        assert harness.server.connections[0].dialect == "beta"
        session.update_options(input_audio_noise_reduction="near_field", speed=1.3)
        model.update_options(turn_detection=None)
        session.update_options(input_audio_noise_reduction=None)
        await settled(harness, [(session, 0)])
        held = harness.server.states[0]
        assert held.model == "dep1"
        assert (held.audio.input.noise_reduction, held.audio.input.turn_detection) == (None, None)
        assert held.audio.output.speed == 1.3
