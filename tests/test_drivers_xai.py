"""The livekit-xai-stock driver: livekit-plugins-xai's realtime model (xAI dialect).

Runs in its own pinned environment (``make test-xai``); skipped where the plugin is missing.
"""

from __future__ import annotations

import functools
import logging

import pytest

pytest.importorskip("livekit.plugins.xai", reason="needs livekit-plugins-xai (make test-xai)")

from tests.driver_checks import check_driver

from optstate import InvalidOption, UnsupportedInDialect
from optstate.livekit import attach, state_of
from optstate.livekit._driver import xai_attached, xai_stock
from optstate.livekit._plugin import dialect_of

pytestmark = pytest.mark.xai


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="livekit")


class TestPlumbing:
    """What the driver's calls put on the wire, through the plugin's xAI reshaping."""

    def test_declares_what_it_can(self) -> None:
        """A model level and replies, the xAI dialect; reconnects over ws only (the
        loopback server's xAI path); no ``truncation`` keyword (xAI has none)."""
        d = xai_stock()
        assert (d.dialect, d.has_model_level, d.can_reply, d.can_reconnect) == ("xai", True, True, False)
        assert xai_stock(transport="ws").can_reconnect
        assert "truncation" not in d.keywords
        assert "voice" in d.keywords

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


#: Every distinct bug the checker finds in livekit-plugins-xai 1.8.9 (seed 0, 100 examples):
#: (property, option paths, the minimal program after ``model = ...`` and ``s0 = model.session()``).
#: The first one's program is the shortest form Hypothesis reaches (its example database
#: may also give the three-step form in CLEAR_THEN_VOICE_LONG).
STOCK_BUGS = [
    (
        "a write changes no field it did not name",
        ("audio.input.transcription",),
        ("s0.update_options(input_audio_transcription=None)", "model.update_options(voice='ara')"),
    ),
    (
        "after a rejected update the server's view equals the expected state",
        ("audio.output.voice",),
        ("# the server rejects s0's next session.update", *["model.update_options(voice='ara')"] * 2),
    ),
    (
        "after a rejected update the server's view equals the expected state",
        ("audio.input.transcription",),
        (
            "# the server rejects s0's next session.update",
            *["model.update_options(input_audio_transcription=None)"] * 2,
        ),
    ),
    (
        "after a rejected update the server's view equals the expected state",
        ("audio.input.turn_detection",),
        ("# the server rejects s0's next session.update", *["model.update_options(turn_detection=None)"] * 2),
    ),
    (
        "a write that changes nothing puts nothing on the wire",
        ("tool_choice",),
        (
            "# the server rejects s0's next session.update",
            "s0.update_options(tool_choice='none')",
            "model.update_options(tool_choice='auto')",
        ),
    ),
]


CLEAR_THEN_VOICE_LONG = (
    "model.update_options(input_audio_transcription=None)",
    "s0.update_options(input_audio_transcription=AudioTranscription(model='grok-transcribe'))",
    "model.update_options(voice='ara')",
)


def test_stock_xai_fails_the_checker() -> None:
    """livekit-plugins-xai 1.8.9: a model-level voice change undoes the transcription a
    session set itself (the most severe bug), and a rejected update is not rolled
    back, so asking again is swallowed; each bug with its own minimal program."""
    result = check_driver(xai_stock, examples=100)
    assert not result.ok
    assert [b.program[:2] for b in result.bugs] == [
        (
            'model = xai.realtime.RealtimeModel(api_key="xai-test")  # inside a running asyncio loop',
            "s0 = model.session()",
        )
    ] * len(result.bugs)
    found = [(b.property, b.paths, b.program[2:]) for b in result.bugs]
    if found[0][2] == CLEAR_THEN_VOICE_LONG:
        found[0] = (*found[0][:2], STOCK_BUGS[0][2])
    assert found == STOCK_BUGS


@pytest.mark.parametrize(("transport", "examples"), [("inproc", 100), ("ws", 15)])
def test_attached_xai_passes_the_checker(transport: str, examples: int) -> None:
    """The same plugin with optstate.livekit.attach passes (xAI dialect; over ws the
    loopback server's xAI path, reconnects included)."""
    result = check_driver(functools.partial(xai_attached, transport=transport), examples=examples)
    assert result.ok, result.report


class TestAttach:
    """attach() on livekit-plugins-xai's model: the xAI dialect, found by feature."""

    def test_attach_speaks_xai(self) -> None:
        """A write goes out in xAI's shape: only what changed, voice at the top level."""
        d = xai_attached()
        d.start()
        try:
            s0 = d.new_session()
            (first,) = [e["session"] for e in d.events(s0)]
            assert (first["voice"], first["turn_detection"]["type"]) == ("Ara", "server_vad")
            assert "type" not in first
            assert "truncation" not in first
            d.update_session(s0, input_audio_transcription=None)
            d.update_model(voice="rex")
            assert [e["session"] for e in d.events(s0)] == [
                {"audio": {"input": {"transcription": None}}},
                {"voice": "rex"},
            ]
            assert dialect_of(d.model) == "xai"
            assert state_of(d.sessions[s0]).desired.audio.output.voice == "rex"
        finally:
            d.close()

    def test_refused_values_raise_naming_the_keyword(self) -> None:
        """A voice, VAD or option xAI refuses raises before anything changes."""
        d = xai_attached()
        d.start()
        try:
            d.new_session()
            with pytest.raises(InvalidOption, match="voice"):
                d.update_model(voice="marin")
            with pytest.raises(UnsupportedInDialect, match="turn_detection"):
                d.update_model(turn_detection={"type": "semantic_vad", "eagerness": "high"})
            with pytest.raises(UnsupportedInDialect, match="truncation"):
                d.model.update_options(truncation="disabled")
            assert d.model._opts.voice == "Ara"
            attach(d.model)  # idempotent
        finally:
            d.close()
