"""The livekit-xai-stock driver: livekit-plugins-xai's realtime model (xAI dialect).

Runs in its own pinned environment (``make test-xai``); skipped where the plugin is missing.
"""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("livekit.plugins.xai", reason="needs livekit-plugins-xai (make test-xai)")

from tests.driver_checks import check_driver, program_of

from optstate.livekit._driver import xai_stock

pytestmark = pytest.mark.xai


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="livekit")


class TestPlumbing:
    """What the driver's calls put on the wire, through the plugin's xAI reshaping."""

    def test_declares_what_it_can(self) -> None:
        """A model level and replies, the xAI dialect, inproc only (no reconnect)."""
        d = xai_stock()
        assert (d.dialect, d.has_model_level, d.can_reply, d.can_reconnect) == ("xai", True, True, False)
        with pytest.raises(ValueError, match="inproc only"):
            xai_stock(transport="ws")

    def test_writes_go_out_in_the_xai_shape(self) -> None:
        """voice and turn_detection at the top level; a model-level voice change turns
        the transcription s0 cleared back on."""
        d = xai_stock()
        d.start()
        try:
            s0 = d.new_session()
            (first,) = [e["session"] for e in d.events(s0)]
            assert (first["voice"], first["model"]) == ("Ara", "grok-voice-latest")
            assert first["turn_detection"]["type"] == "server_vad"
            assert first["audio"]["input"]["transcription"] == {"model": "grok-transcribe"}
            d.update_session(s0, input_audio_transcription=None)
            d.update_session(s0, turn_detection=None)
            d.update_model(voice="rex")
            assert [e["session"] for e in d.events(s0)] == [
                {"type": "realtime", "audio": {"input": {"transcription": None}}},
                {"type": "realtime", "turn_detection": None},
                {
                    "type": "realtime",
                    "voice": "rex",
                    "audio": {"input": {"transcription": {"model": "grok-transcribe"}}, "output": {}},
                },
            ]
        finally:
            d.close()

    def test_render_is_livekit_source(self) -> None:
        """The model prints as the xAI plugin's constructor."""
        line = xai_stock().render("start", None, {})
        made = 'model = xai.realtime.RealtimeModel(api_key="xai-test")'
        assert line == made + "  # inside a running asyncio loop"


def test_stock_xai_fails_the_checker() -> None:
    """livekit-plugins-xai 1.8.9: a model-level write turns a cleared transcription back on
    (skipped until the checker speaks xAI's dialect)."""
    result = check_driver(xai_stock, examples=100)
    assert not result.ok
    assert "property broken:" in result.report
    assert program_of(result.bugs[0].report)[1] == "s0 = model.session()"
