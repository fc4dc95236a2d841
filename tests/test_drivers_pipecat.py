"""The pipecat-stock driver: pipecat-ai's OpenAIRealtimeLLMService, driven as pipecat documents.

Runs in its own pinned environment (``make test-pipecat``); skipped where pipecat is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("pipecat.services.openai.realtime.llm", reason="needs pipecat-ai (make test-pipecat)")

from tests.driver_checks import check_driver, program_of

from optstate.pipecat._driver import PipecatDriver, stock

pytestmark = pytest.mark.pipecat


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    """pipecat logs every frame through loguru; the harness provokes errors on purpose."""
    from loguru import logger

    logger.disable("pipecat")
    yield
    logger.enable("pipecat")


def sessions(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``session`` objects of the ``session.update`` events."""
    return [e["session"] for e in events if e.get("type") == "session.update"]


@pytest.fixture(params=["inproc", "ws"])
def driver(request: pytest.FixtureRequest) -> Iterator[PipecatDriver]:
    d = stock(transport=request.param)
    d.start()
    yield d
    d.close()


class TestPlumbing:
    """What the driver's calls put on the wire, through pipecat's own code."""

    def test_declares_what_pipecat_has(self) -> None:
        """No model level, replies and reconnects, every keyword but truncation."""
        d = stock()
        assert (d.has_model_level, d.can_reply, d.can_reconnect, d.dialect) == (False, True, True, "ga")
        assert "truncation" not in d.keywords
        assert "voice" in d.keywords

    def test_writes_go_out_as_settings_frames(self, driver: PipecatDriver) -> None:
        """Each settings frame sends one session.update with only the named fields,
        a turn-detection clear is null, and reset_conversation replays what pipecat kept."""
        s0 = driver.new_session()
        first = sessions(driver.events(s0))
        assert len(first) == 1
        assert first[0]["type"] == "realtime"
        driver.update_session(s0, input_audio_transcription={"model": "gpt-4o-transcribe"})
        driver.update_session(s0, voice="marin")
        driver.update_session(s0, turn_detection=None)
        base = {"type": "realtime", "model": "gpt-realtime-2.1", "tools": []}
        assert sessions(driver.events(s0)) == [
            {**base, "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}},
            {**base, "audio": {"output": {"voice": "marin"}}},
            {**base, "audio": {"input": {"turn_detection": None}}},
        ]
        driver.reconnect(s0)
        # pipecat kept only the last delta: transcription and voice are not replayed.
        assert [s.get("audio") for s in sessions(driver.events(s0))] == [{"input": {"turn_detection": None}}]

    def test_none_clear_is_what_pipecat_sends(self) -> None:
        """A transcription clear passes None, pipecat's "not given": an empty input object."""
        d = stock()
        d.start()
        try:
            s0 = d.new_session()
            d.events(s0)
            d.update_session(s0, input_audio_transcription=None)
            assert [s.get("audio") for s in sessions(d.events(s0))] == [{"input": {}}]
        finally:
            d.close()

    def test_render_is_pipecat_source(self) -> None:
        """A step prints as the settings frame an application queues."""
        line = stock().render("update", 0, {"voice": "marin", "turn_detection": None})
        assert line == (
            "await w0.queue_frame(LLMUpdateSettingsFrame(delta=OpenAIRealtimeLLMService.Settings("
            "session_properties=SessionProperties(audio=AudioConfiguration("
            "output=AudioOutput(voice='marin'), input=AudioInput(turn_detection=False))))))"
        )


def test_stock_pipecat_fails_the_checker() -> None:
    """pipecat 1.14 re-sends a value the session already has (voice alloy, its default)."""
    result = check_driver(stock, examples=100)
    assert not result.ok
    prop = "a write that changes nothing puts nothing on the wire"
    assert f"property broken: {prop} (session s0)" in result.report
    program = program_of(result.bugs[0].report)
    assert program[1].startswith('s0 = OpenAIRealtimeLLMService(api_key="sk-test")')
    assert program[2:] == [
        "await w0.queue_frame(LLMUpdateSettingsFrame(delta=OpenAIRealtimeLLMService.Settings("
        "session_properties=SessionProperties(audio=AudioConfiguration(output=AudioOutput(voice='alloy'))))))"
    ]
