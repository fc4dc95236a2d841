"""The xAI dialect: its name table, its value rules (each with its source in
``optstate.openai._dialects``), and encode/decode round trips as for beta."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given

from optstate import InvalidOption, Patch, UnsupportedInDialect, apply, diff, patch
from optstate.openai import (
    AudioPCMA,
    AudioPCMU,
    McpTool,
    OpenAICodec,
    RealtimeOptions,
    SemanticVad,
    ServerVad,
    Transcription,
    VoiceId,
    decode,
    decode_update,
    encode,
    encode_session,
)
from optstate.openai._dialects import XAI, XAI_VOICES
from optstate.openai._xai import validate_xai_event
from optstate.strategies import patches, realtime_options

#: The first session.update livekit-plugins-xai 1.8.9 sends (its defaults).
PLUGIN_FIRST = {
    "type": "realtime",
    "model": "grok-voice-latest",
    "voice": "Ara",
    "turn_detection": {
        "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200,
        "create_response": True, "interrupt_response": True,
    },
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "noise_reduction": None,
            "transcription": {"model": "grok-transcribe"},
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "speed": 1.0},
    },
    "output_modalities": ["audio"],
    "max_output_tokens": "inf",
    "tool_choice": "auto",
    "tracing": None,
}  # fmt: skip


def change(path: str, value: Any) -> Patch:
    return patch(RealtimeOptions, {path: value})


class TestRoundTrip:
    """encode and decode undo each other for every state and patch xAI can say."""

    @given(state=realtime_options(dialect="xai"))
    def test_full_state(self, state: RealtimeOptions) -> None:
        """decode(encode_session(s, xai), xai) == s."""
        wire = json.loads(json.dumps(encode_session(state, "xai")))
        assert decode(wire, "xai") == state

    @given(p=patches(realtime_options(dialect="xai")))
    def test_patch(self, p: Patch) -> None:
        """decode_update(encode(p)) applies as p does (options xAI lacks drop out at their default)."""
        event = encode(p, "xai")
        sent = Patch() if event is None else decode_update(json.loads(json.dumps(event["session"])), "xai")
        base = RealtimeOptions()
        assert apply(base, sent) == apply(base, p)

    @given(old=realtime_options(dialect="xai"), new=realtime_options(dialect="xai"))
    def test_every_event_passes_the_xai_check(self, old: RealtimeOptions, new: RealtimeOptions) -> None:
        """Every event optstate sends in xAI's dialect passes the harness' xAI validator."""
        event = encode(diff(old, new), "xai", event_id="evt_1")
        if event is not None:
            validate_xai_event(json.loads(json.dumps(event)))

    @pytest.mark.parametrize(
        ("path", "value", "wire"),
        [
            ("audio.input.turn_detection", None, {"turn_detection": None}),
            ("audio.input.transcription", None, {"audio": {"input": {"transcription": None}}}),
            ("audio.input.noise_reduction", None, {"audio": {"input": {"noise_reduction": None}}}),
            ("tracing", None, {"tracing": None}),
            ("instructions", "", {"instructions": ""}),
            ("tools", [], {"tools": []}),
        ],
    )
    def test_clears_survive(self, path: str, value: Any, wire: dict[str, Any]) -> None:
        """A clear reaches the wire as null/""/[] at its xAI place and decodes back."""
        session = encode(change(path, value), "xai")["session"]  # type: ignore[index]
        assert session == wire
        assert decode_update(session, "xai") == change(path, value)


class TestTable:
    """xAI's names: GA's, with voice and turn_detection at the top level."""

    def test_voice_and_turn_detection_are_top_level(self) -> None:
        """A voice and VAD change go out at the top level, the rest nested as in GA, no ``type``."""
        p = change("audio.output.voice", "rex") | change(
            "audio.input.turn_detection", ServerVad(threshold=0.7)
        )
        p = p | change("audio.output.speed", 1.25)
        session = encode(p, "xai")["session"]  # type: ignore[index]
        assert session == {
            "voice": "rex",
            "turn_detection": {
                "type": "server_vad", "threshold": 0.7, "prefix_padding_ms": 300, "silence_duration_ms": 500,
                "create_response": True, "interrupt_response": True,
            },
            "audio": {"output": {"speed": 1.25}},
        }  # fmt: skip

    def test_the_plugins_first_update_decodes(self) -> None:
        """livekit-plugins-xai's first update (``type: "realtime"`` included) passes the check and decodes."""
        validate_xai_event({"type": "session.update", "session": PLUGIN_FIRST})
        held = apply(RealtimeOptions(), decode_update(PLUGIN_FIRST, "xai"))
        assert (held.audio.output.voice, held.audio.input.transcription) == (
            "Ara",
            Transcription(model="grok-transcribe"),
        )

    def test_g711_goes_out_at_8000(self) -> None:
        """G.711 formats carry their one rate, 8000 Hz, and decode back."""
        session = encode(change("audio.input.format", AudioPCMU()), "xai")["session"]  # type: ignore[index]
        assert session == {"audio": {"input": {"format": {"type": "audio/pcmu", "rate": 8000}}}}
        assert decode_update(session, "xai") == change("audio.input.format", AudioPCMU())
        assert (
            decode({"audio": {"output": {"format": {"type": "audio/pcma"}}}}, "xai").audio.output.format
            == AudioPCMA()
        )

    def test_error_params_name_ga_paths(self) -> None:
        """An xAI error's ``param`` names the GA option path."""
        codec = OpenAICodec(dialect="xai")
        assert codec.param_path("session.voice") == "audio.output.voice"
        assert codec.param_path("session.turn_detection.threshold") == "audio.input.turn_detection.threshold"
        assert codec.param_path("session.audio.output.speed") == "audio.output.speed"

    def test_voices_include_the_documented_five(self) -> None:
        """The guide's five voices are xAI voices, in any case."""
        assert {"eve", "ara", "rex", "sal", "leo"} <= XAI_VOICES
        encode(change("audio.output.voice", "Eve"), "xai")


class TestLimits:
    """What xAI refuses raises before anything is sent, naming the option path and the value."""

    @pytest.mark.parametrize(
        ("path", "value", "where", "error"),
        [
            ("audio.output.voice", "marin", "audio.output.voice", InvalidOption),
            ("audio.output.voice", VoiceId(id="v1"), "audio.output.voice", UnsupportedInDialect),
            (
                "audio.input.turn_detection",
                SemanticVad(),
                "audio.input.turn_detection.eagerness",
                UnsupportedInDialect,
            ),
            (
                "audio.input.turn_detection",
                ServerVad(idle_timeout_ms=5),
                "audio.input.turn_detection.idle_timeout_ms",
                UnsupportedInDialect,
            ),
            (
                "audio.input.transcription",
                Transcription(model="whisper-1"),
                "audio.input.transcription.model",
                InvalidOption,
            ),
            (
                "audio.input.transcription",
                Transcription(model="grok-transcribe", language="en"),
                "audio.input.transcription.language",
                UnsupportedInDialect,
            ),
            ("tools", [McpTool(server_label="x")], "tools[0]", UnsupportedInDialect),
            ("truncation", "disabled", "truncation", UnsupportedInDialect),
        ],
    )
    def test_refused_values_raise(self, path: str, value: Any, where: str, error: type[Exception]) -> None:
        """The error is of its kind and names the path and the value."""
        with pytest.raises(error) as info:
            encode(change(path, value), "xai")
        assert type(info.value) is error
        assert info.value.path == where  # type: ignore[attr-defined]
        assert "xai" in str(info.value) or "xAI" in str(info.value) or "grok" in str(info.value)

    @pytest.mark.parametrize(
        ("session", "where"),
        [
            ({"voice": "alloy"}, "session.voice"),
            ({"turn_detection": {"type": "semantic_vad"}}, "session.turn_detection"),
            (
                {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 96000}}}},
                "session.audio.input.format.rate",
            ),
            (
                {"audio": {"output": {"format": {"type": "audio/pcmu", "rate": 16000}}}},
                "session.audio.output.format.rate",
            ),
            (
                {"input_audio_transcription": {"model": "grok-transcribe"}},
                "session.input_audio_transcription",
            ),
            ({"type": "transcription"}, "session.type"),
            ({"truncation": "auto"}, "session.truncation"),
        ],
    )
    def test_the_validator_names_the_wire_path(self, session: dict[str, Any], where: str) -> None:
        """The harness' xAI validator rejects what xAI refuses, naming the wire path."""
        with pytest.raises(InvalidOption) as info:
            validate_xai_event({"type": "session.update", "session": session})
        assert info.value.path.startswith(where)

    def test_the_validator_rejects_unknown_event_keys(self) -> None:
        """Only type, session and event_id make an event."""
        with pytest.raises(InvalidOption, match="not a key"):
            validate_xai_event({"type": "session.update", "session": {}, "extra": 1})

    def test_xai_table_has_no_option_the_sources_lack(self) -> None:
        """truncation, include, prompt and parallel_tool_calls have no xAI name."""
        assert not {"truncation", "include", "prompt", "parallel_tool_calls"} & set(XAI.options)
