"""optstate.pipecat.attach on pipecat-ai's OpenAIRealtimeLLMService: the checker, the stock
driver's minimal programs, and end to end over real websockets against the loopback server.

Runs in its own pinned environment (``make test-pipecat``); skipped where pipecat is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("pipecat.services.openai.realtime.llm", reason="needs pipecat-ai (make test-pipecat)")

from pipecat.services.openai.realtime import events as pe
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from tests.driver_checks import check_driver

import optstate.pipecat
from optstate import OptStateError, Store
from optstate.openai import RealtimeOptions
from optstate.pipecat._driver import PipecatDriver, attached, session_properties
from optstate.testing import error_reply

pytestmark = pytest.mark.pipecat


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """pipecat logs every frame through loguru; the harness provokes rejections on purpose."""
    from loguru import logger

    caplog.set_level(logging.ERROR, logger="optstate.pipecat")
    logger.disable("pipecat")
    yield
    logger.enable("pipecat")


def sessions(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``session`` objects of the ``session.update`` events."""
    return [e["session"] for e in events if e.get("type") == "session.update"]


@pytest.fixture(params=["inproc", "ws"])
def driver(request: pytest.FixtureRequest) -> Iterator[PipecatDriver]:
    d = attached(transport=request.param)
    d.start()
    yield d
    d.close()


class TestAttach:
    """What attach() accepts and what it hands back."""

    def test_returns_the_service_and_is_idempotent(self) -> None:
        """attach returns the same service; again is a no-op, another store is an error."""
        llm = OpenAIRealtimeLLMService(api_key="sk-test")
        assert optstate.pipecat.attach(llm) is llm
        store = optstate.pipecat.store_of(llm)
        assert optstate.pipecat.attach(llm) is llm
        assert optstate.pipecat.store_of(llm) is store
        with pytest.raises(OptStateError, match="another store"):
            optstate.pipecat.attach(llm, store=Store(RealtimeOptions()))

    def test_rejects_other_objects(self) -> None:
        """Anything but the realtime service is a TypeError; unattached is an OptStateError."""
        with pytest.raises(TypeError, match="OpenAIRealtimeLLMService"):
            optstate.pipecat.attach(object())  # type: ignore[type-var]
        with pytest.raises(OptStateError, match="not attached"):
            optstate.pipecat.state_of(OpenAIRealtimeLLMService(api_key="sk-test"))

    def test_constructor_settings_are_the_first_write(self) -> None:
        """Session properties given at construction are set fields of the session."""
        sp = pe.SessionProperties(audio=pe.AudioConfiguration(output=pe.AudioOutput(voice="marin")))
        llm = OpenAIRealtimeLLMService(
            api_key="sk-test", settings=OpenAIRealtimeLLMService.Settings(session_properties=sp)
        )
        state = optstate.pipecat.state_of(optstate.pipecat.attach(llm))
        assert state.desired.audio.output.voice == "marin"

    def test_only_the_instance_changes(self) -> None:
        """Another service in the process keeps pipecat's own methods."""
        llm = optstate.pipecat.attach(OpenAIRealtimeLLMService(api_key="sk-test"))
        other = OpenAIRealtimeLLMService(api_key="sk-test")
        assert "_update_settings" in vars(llm)
        assert "_update_settings" not in vars(other)


class TestStockPrograms:
    """Each minimal program the stock driver fails on (tests/test_drivers_pipecat.py and
    ``optstate check --driver pipecat-stock``) runs green against the attached service."""

    def test_equal_voice_sends_nothing(self, driver: PipecatDriver) -> None:
        """Setting the voice the server already has (alloy) puts nothing on the wire."""
        s0 = driver.new_session()
        driver.events(s0)
        driver.update_session(s0, voice="alloy")
        assert sessions(driver.events(s0)) == []

    def test_none_clear_reaches_the_wire_as_null(self, driver: PipecatDriver) -> None:
        """A transcription clear is a null, not an empty input object."""
        s0 = driver.new_session()
        driver.update_session(s0, input_audio_transcription={"model": "gpt-4o-transcribe"})
        driver.events(s0)
        driver.update_session(s0, input_audio_transcription=None)
        assert [s.get("audio") for s in sessions(driver.events(s0))] == [{"input": {"transcription": None}}]

    def test_reset_conversation_replays_every_setting(self, driver: PipecatDriver) -> None:
        """After reset_conversation the new connection gets every field set before, not the last delta."""
        s0 = driver.new_session()
        driver.update_session(s0, max_response_output_tokens=100)
        driver.update_session(s0, voice="marin")
        driver.update_session(s0, turn_detection=None)
        driver.events(s0)
        driver.reconnect(s0)
        (replay,) = sessions(driver.events(s0))
        assert replay["max_output_tokens"] == 100
        assert replay["audio"] == {"input": {"turn_detection": None}, "output": {"voice": "marin"}}

    def test_create_response_is_kept(self, driver: PipecatDriver) -> None:
        """A server VAD's create_response (which pipecat's TurnDetection does not declare) goes out."""
        s0 = driver.new_session()
        driver.events(s0)
        driver.update_session(s0, turn_detection={"type": "server_vad", "create_response": False})
        (sent,) = sessions(driver.events(s0))
        assert sent["audio"]["input"]["turn_detection"]["create_response"] is False

    def test_rejection_then_retry(self) -> None:
        """An update the server refuses is rolled back and not fatal: asking again sends it again."""
        d = attached()
        d.start()
        try:
            s0 = d.new_session()
            d.events(s0)
            d.update_session(s0, voice="marin")
            (event,) = d.events(s0)
            d.reply(s0, error_reply(event))
            assert optstate.pipecat.state_of(d.services[s0]).desired.audio.output.voice == "alloy"
            d.update_session(s0, voice="marin")
            assert [s.get("audio") for s in sessions(d.events(s0))] == [{"output": {"voice": "marin"}}]
        finally:
            d.close()


class TestModelLevel:
    """Services sharing a Store: update_all is the model-level write."""

    def test_reaches_every_service_without_undoing_their_own(self) -> None:
        """A model-level write reaches both services and leaves s1's own transcription alone;
        a model-level voice overrides s1's own voice (last writer wins, per field)."""
        d = attached()
        d.start()
        try:
            s0, s1 = d.new_session(), d.new_session()
            d.update_session(s1, voice="marin", input_audio_transcription={"model": "whisper-1"})
            d.events(s0), d.events(s1)
            d.update_model(speed=1.2)
            assert [s.get("audio") for s in sessions(d.events(s0))] == [{"output": {"speed": 1.2}}]
            assert [s.get("audio") for s in sessions(d.events(s1))] == [{"output": {"speed": 1.2}}]
            d.update_model(voice="verse")
            assert [s.get("audio") for s in sessions(d.events(s0))] == [{"output": {"voice": "verse"}}]
            assert [s.get("audio") for s in sessions(d.events(s1))] == [{"output": {"voice": "verse"}}]
            d.update_session(s1, speed=1.2)  # equal: nothing
            assert sessions(d.events(s1)) == []
            own = d.services[s1]._settings.session_properties.audio
            assert (own.output.voice, own.input.transcription.model) == ("verse", "whisper-1")
        finally:
            d.close()

    def test_update_all_takes_optstate_paths(self) -> None:
        """update_all also takes a mapping of optstate paths."""
        d = attached()
        d.start()
        try:
            s0 = d.new_session()
            d.events(s0)

            async def write() -> None:
                change = {"audio.input.noise_reduction": {"type": "far_field"}}
                await optstate.pipecat.update_all(d.store, change)

            d._run(write())
            assert [s.get("audio") for s in sessions(d.events(s0))] == [
                {"input": {"noise_reduction": {"type": "far_field"}}}
            ]
        finally:
            d.close()


def test_attached_pipecat_passes_the_checker() -> None:
    """500 random programs (1-3 services, model and session writes, null clears, rejections,
    reconnects): every property holds."""
    result = check_driver(attached, examples=500)
    assert result.ok, result.report


def test_attached_pipecat_passes_the_checker_over_websockets() -> None:
    """The same over real websockets against the loopback server (fewer examples)."""
    result = check_driver(lambda: attached(transport="ws"), examples=40)
    assert result.ok, result.report


class TestEndToEnd:
    """Real websockets against optstate.server.RealtimeServer: after every step the
    server's state equals what optstate says the service should hold."""

    @pytest.fixture
    def d(self) -> Iterator[PipecatDriver]:
        d = attached(transport="ws")
        d.start()
        yield d
        d.close()

    def agree(self, d: PipecatDriver) -> None:
        for i, service in enumerate(d.services):
            d.events(i)  # the wire is quiet
            server = d.server.connections[d._conn[i]].state
            assert server == optstate.pipecat.state_of(service).desired, f"service {i}"

    @pytest.mark.parametrize("n", [1, 2, 3])
    def test_writes_clears_rejection_drop(self, d: PipecatDriver, n: int) -> None:
        """Writes, null clears, a rejection then its retry, a drop then reset_conversation."""
        for _ in range(n):
            d.new_session()
        self.agree(d)
        for i in range(n):
            d.update_session(i, voice="marin", input_audio_transcription={"model": "gpt-4o-transcribe"})
            self.agree(d)
            d.update_session(i, input_audio_transcription=None, turn_detection=None)
            self.agree(d)
        d.update_model(speed=1.3, tracing="auto")
        self.agree(d)
        last = n - 1
        d.reject_next(last)
        d.update_session(last, max_response_output_tokens=200)
        self.agree(d)
        assert optstate.pipecat.state_of(d.services[last]).desired.max_output_tokens == "inf"
        d.update_session(last, max_response_output_tokens=200)
        self.agree(d)
        assert d.server.connections[d._conn[last]].state.max_output_tokens == 200

        async def drop() -> None:
            await d.server.drop(d._conn[0])
            await d.server.wait_for_close(d._conn[0])

        d._run(drop())
        d.reconnect(0)
        self.agree(d)
        state = d.server.connections[d._conn[0]].state
        assert (state.audio.output.voice, state.audio.output.speed, state.tracing) == ("marin", 1.3, "auto")
        assert state.audio.input.transcription is None
        assert state.audio.input.turn_detection is None


def test_session_properties_keep_undeclared_turn_detection_fields() -> None:
    """The attached driver builds a TurnDetection that carries create_response."""
    sp = session_properties({"turn_detection": {"type": "server_vad", "create_response": False}}, keep=True)
    assert vars(sp.audio.input.turn_detection)["create_response"] is False
