"""optstate.livekit on livekit-plugins-xai, end to end: the real plugin, a real
websocket to the loopback server's xAI path (``/xai/v1/realtime``, xAI's dialect).

As in ``tests/test_livekit_e2e.py``, each step ends when every session's server
state equals what optstate says it should hold; the server checks every update
against the xAI rules (``optstate.openai._xai``). Runs in the xAI environment.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("livekit.plugins.xai", reason="needs livekit-plugins-xai (make test-xai)")

from livekit.plugins import xai
from openai.types.realtime.realtime_audio_input_turn_detection import SemanticVad
from tests.test_livekit import Harness, until
from tests.test_livekit_e2e import settled

import optstate.livekit as lk
from optstate.openai import NoiseReduction, Transcription
from optstate.server import RealtimeServer

pytestmark = pytest.mark.xai


class XaiHarness(Harness):
    """The livekit harness, making livekit-plugins-xai's model on the xAI path."""

    def model(self, *, attach: bool = True, **kwargs: Any) -> Any:
        """An xAI ``RealtimeModel`` talking to the server's xAI path (attached by default)."""
        model = xai.realtime.RealtimeModel(api_key="xai-k", base_url=self.server.xai_base_url, **kwargs)
        self.models.append(model)
        return lk.attach(model) if attach else model


@pytest.fixture
async def harness(caplog: pytest.LogCaptureFixture) -> AsyncIterator[XaiHarness]:
    """A loopback server and an xAI harness on it; everything closed after the test."""
    caplog.set_level(logging.CRITICAL, logger="livekit")
    async with RealtimeServer() as server:
        h = XaiHarness(server)
        try:
            yield h
        finally:
            await h.aclose()


class TestXaiEndToEnd:
    async def test_writes_and_null_clears_on_three_sessions(self, harness: XaiHarness) -> None:
        """Model- and session-level writes and null clears leave every session's server
        state equal to what optstate says, over xAI's dialect."""
        model = harness.model()
        s = [await harness.connected(model) for _ in range(3)]
        assert {c.dialect for c in harness.server.connections} == {"xai"}
        model.update_options(speed=1.25)
        s[0].update_options(input_audio_noise_reduction="near_field")
        s[1].update_options(turn_detection=None, input_audio_transcription=None)
        model.update_options(voice="rex", tool_choice="required")
        s[2].update_options(speed=0.9)
        s[0].update_options(input_audio_noise_reduction=None)
        await settled(harness, [(s[0], 0), (s[1], 1), (s[2], 2)])
        held = harness.server.states
        assert held[1].audio.input.transcription is None
        assert held[1].audio.input.turn_detection is None
        assert held[0].audio.input.transcription == Transcription(model="grok-transcribe")
        assert [h.audio.output.voice for h in held] == ["rex"] * 3
        first = harness.server.connections[0].received[0]["session"]
        assert first["voice"] == "Ara"
        assert "type" not in first

    async def test_rejection_then_retry(self, harness: XaiHarness) -> None:
        """A refused update is rolled back; asking for the same value again resends it."""
        model = harness.model()
        session = await harness.connected(model)
        state = lk.state_of(session)
        await settled(harness, [(session, 0)])
        harness.server.fail_next_update(session=0)
        session.update_options(input_audio_transcription=None)
        await until(lambda: not state.in_flight, "the rejection")
        assert state.desired.audio.input.transcription == Transcription(model="grok-transcribe")
        await settled(harness, [(session, 0)])
        session.update_options(input_audio_transcription=None)
        await settled(harness, [(session, 0)])
        assert harness.server.states[0].audio.input.transcription is None

    async def test_drop_then_reconnect(self, harness: XaiHarness) -> None:
        """After a drop the plugin's new connection gets the store's whole state, in xAI's shape."""
        model = harness.model()
        session = await harness.connected(model)
        other = await harness.connected(model)
        model.update_options(speed=1.2)
        session.update_options(input_audio_noise_reduction="near_field", turn_detection=None)
        await settled(harness, [(session, 0), (other, 1)])
        await harness.server.drop(0)
        conn = await harness.server.wait_for_connections(3)
        model.update_options(voice="leo")
        await settled(harness, [(session, conn.index), (other, 1)])
        replayed = harness.server.states[conn.index]
        assert replayed.audio.input.noise_reduction == NoiseReduction(type="near_field")
        assert replayed.audio.input.turn_detection is None
        assert (replayed.audio.output.voice, replayed.audio.output.speed) == ("leo", 1.2)
        assert conn.received[0]["session"]["turn_detection"] is None

    async def test_the_server_refuses_what_xai_refuses(self, harness: XaiHarness) -> None:
        """The stock plugin's semantic VAD is refused by the xAI path, naming the param."""
        model = harness.model(attach=False)
        session = await harness.connected(model)
        session.update_options(turn_detection=SemanticVad(type="semantic_vad"))
        outcomes = harness.server.connections[0].updates
        await until(lambda: any(not o.applied for o in outcomes), "the refusal")
        (refused,) = [o for o in outcomes if not o.applied]
        assert refused.error is not None
        assert refused.error["param"].startswith("session.turn_detection")
