"""The wire: every encoded event validates against the official ``openai`` schema,
and encode/decode round-trip in both dialects, null clears included."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import optstate
from optstate import Patch, UnsupportedInDialect, apply, diff
from optstate.openai import (
    PLUGIN_KEYWORDS,
    McpTool,
    OpenAICodec,
    RealtimeOptions,
    RetentionRatio,
    VoiceId,
    decode,
    decode_update,
    encode,
    encode_session,
)
from optstate.openai._dialects import BETA
from optstate.openai.official import SchemaViolation, validate_event
from optstate.strategies import patches, realtime_options

DIALECTS = ["ga", "beta"]


class TestOfficialSchema:
    @given(old=realtime_options(), new=realtime_options())
    def test_every_ga_event_validates(self, old: RealtimeOptions, new: RealtimeOptions) -> None:
        """encode(diff(old, new)) is a GA session.update the openai package accepts."""
        event = encode(diff(old, new), event_id="evt_1")
        if event is not None:
            validate_event(json.loads(json.dumps(event)), "ga")

    @given(old=realtime_options(dialect="beta"), new=realtime_options(dialect="beta"))
    def test_every_beta_event_validates(self, old: RealtimeOptions, new: RealtimeOptions) -> None:
        """For beta-expressible states, the beta event validates against the beta models."""
        change = diff(old, new).without({"model"})  # beta's model list is older than GA's
        event = encode(change, "beta", event_id="evt_1")
        if event is not None:
            validate_event(json.loads(json.dumps(event)), "beta")

    def test_validator_catches_unknown_keys(self) -> None:
        """The strict validator rejects keys the official schema does not define."""
        with pytest.raises(SchemaViolation, match="bogus"):
            validate_event({"type": "session.update", "session": {"type": "realtime", "bogus": 1}})
        with pytest.raises(SchemaViolation):
            validate_event(
                {
                    "type": "session.update",
                    "session": {
                        "type": "realtime",
                        "audio": {"input": {"turn_detection": {"threshold": 0.5}}},
                    },
                }
            )

    def test_turn_detection_always_carries_its_type(self) -> None:
        """A sub-field change of turn_detection sends the whole value with its type."""
        s = RealtimeOptions()
        new = optstate.set(s, "audio.input.turn_detection", {"type": "server_vad", "threshold": 0.8})
        td = encode(diff(s, new))["session"]["audio"]["input"]["turn_detection"]  # type: ignore[index]
        assert td["type"] == "server_vad"
        assert td["threshold"] == 0.8
        assert td["silence_duration_ms"] == 500


class TestRoundTrip:
    @given(state=realtime_options())
    def test_ga_full_state(self, state: RealtimeOptions) -> None:
        """decode(encode_session(s)) == s in GA."""
        assert decode(json.loads(json.dumps(encode_session(state)))) == state

    @given(state=realtime_options(dialect="beta"))
    def test_beta_full_state(self, state: RealtimeOptions) -> None:
        """decode(encode_session(s, beta), beta) == s for beta-expressible states."""
        wire = json.loads(json.dumps(encode_session(state, "beta")))
        assert decode(wire, "beta") == state

    @given(p=patches())
    def test_ga_patch(self, p: Patch) -> None:
        """decode_update(encode(p).session) == p in GA: every leaf, nulls included."""
        event = encode(p)
        if event is None:
            assert not p
        else:
            assert decode_update(json.loads(json.dumps(event["session"]))) == p

    @given(p=patches(realtime_options(dialect="beta")))
    def test_beta_patch(self, p: Patch) -> None:
        """The same in beta, for patches beta can express (GA-only defaults drop out)."""
        event = encode(p, "beta")
        sent = Patch() if event is None else decode_update(json.loads(json.dumps(event["session"])), "beta")
        base = RealtimeOptions()
        assert apply(base, sent) == apply(base, p)

    @pytest.mark.parametrize("dialect", DIALECTS)
    @pytest.mark.parametrize(
        ("path", "value", "wire"),
        [
            (
                "audio.input.turn_detection",
                None,
                {"ga": ("audio", "input", "turn_detection"), "beta": ("turn_detection",)},
            ),
            (
                "audio.input.transcription",
                None,
                {"ga": ("audio", "input", "transcription"), "beta": ("input_audio_transcription",)},
            ),
            (
                "audio.input.noise_reduction",
                None,
                {
                    "ga": ("audio", "input", "noise_reduction"),
                    "beta": ("input_audio_noise_reduction",),
                },
            ),
            ("tracing", None, {"ga": ("tracing",), "beta": ("tracing",)}),
            ("instructions", "", {"ga": ("instructions",), "beta": ("instructions",)}),
            ("tools", [], {"ga": ("tools",), "beta": ("tools",)}),
        ],
    )
    def test_clears_survive(self, dialect: str, path: str, value: Any, wire: dict[str, Any]) -> None:
        """null/""/[] clears are sent as such and decode back to the cleared state."""
        start = {
            "audio.input.turn_detection": {"type": "semantic_vad"},
            "audio.input.transcription": {"model": "whisper-1"},
            "audio.input.noise_reduction": {"type": "near_field"},
            "tracing": "auto",
            "instructions": "be brief",
            "tools": [{"type": "function", "name": "f"}],
        }
        old = apply(RealtimeOptions(), optstate.patch(RealtimeOptions, start))
        new = optstate.set(old, path, value)
        event = encode(diff(old, new), dialect)  # type: ignore[arg-type]
        assert event is not None
        node: Any = event["session"]
        for key in wire[dialect]:
            node = node[key]
        assert node == value
        server = apply(old, decode_update(json.loads(json.dumps(event["session"])), dialect))  # type: ignore[arg-type]
        assert server == new
        validate_event(event, dialect)

    @pytest.mark.parametrize("dialect", DIALECTS)
    def test_empty_patch_is_no_event(self, dialect: str) -> None:
        """No change, no event."""
        assert encode(Patch(), dialect) is None  # type: ignore[arg-type]
        s = RealtimeOptions()
        assert encode(diff(s, s), dialect) is None  # type: ignore[arg-type]


class TestBetaLimits:
    @pytest.mark.parametrize(
        ("path", "value"),
        [
            ("audio.output.voice", VoiceId(id="v1")),
            ("tools", [McpTool(server_label="m", server_url="https://x")]),
            ("truncation", RetentionRatio(retention_ratio=0.5)),
            ("tool_choice", {"type": "function", "name": "f"}),
            ("audio.input.noise_reduction", {"type": "near_field", "strength": 0.5}),
            ("audio.input.turn_detection", {"type": "server_vad", "idle_timeout_ms": 100}),
        ],
    )
    def test_unsupported_values_raise(self, path: str, value: Any) -> None:
        """A value beta cannot express raises UnsupportedInDialect naming the path."""
        change = optstate.patch(RealtimeOptions, {path: value})
        with pytest.raises(UnsupportedInDialect) as info:
            encode(change, "beta")
        assert info.value.path.startswith(path.split(".")[0])
        assert "beta" in str(info.value)

    def test_ga_only_field_at_default_is_left_out(self) -> None:
        """Setting a GA-only field back to its default sends nothing for it in beta."""
        change = optstate.patch(RealtimeOptions, {"truncation": "auto", "audio.output.speed": 1.1})
        assert encode(change, "beta") == {"type": "session.update", "session": {"speed": 1.1}}

    def test_modalities_map_between_dialects(self) -> None:
        """GA ['audio'] is beta ['text', 'audio']; ['text'] is ['text']."""
        s = RealtimeOptions()
        text_only = optstate.set(s, "output_modalities", ["text"])
        assert encode(diff(s, text_only), "beta")["session"] == {"modalities": ["text"]}  # type: ignore[index]
        assert decode({"modalities": ["audio", "text"]}, "beta").output_modalities == ["audio"]


class TestDecode:
    def test_server_only_fields_are_ignored(self) -> None:
        """A session.created payload with ids and expiry decodes to options."""
        wire = {
            **encode_session(RealtimeOptions()),
            "id": "sess_1",
            "object": "realtime.session",
            "expires_at": 0,
        }
        assert decode(wire) == RealtimeOptions()

    def test_null_for_non_nullable_means_default(self) -> None:
        """The server's null include/instructions decode to the defaults."""
        assert decode({"include": None, "instructions": None}) == RealtimeOptions()

    @given(st.dictionaries(st.sampled_from(["speed", "voice", "threshold"]), st.integers()))
    def test_bad_update_values_raise_invalid_option(self, junk: dict[str, Any]) -> None:
        """A malformed update raises InvalidOption with a wire path, never anything else."""
        try:
            decode_update({"type": "realtime", "audio": {"output": junk}})
        except optstate.InvalidOption as e:
            assert e.path.startswith("audio.output.")


class TestNameTable:
    """The beta name table (``optstate.openai._dialects.BETA``) and what is derived from it."""

    @pytest.mark.parametrize("path", sorted(BETA.options))
    def test_every_listed_option_round_trips_under_its_flat_name(self, path: str) -> None:
        """A change of any option beta has is sent under its flat name and decodes back."""
        change = optstate.patch(RealtimeOptions, {path: optstate.get(RealtimeOptions(), path)})
        session = encode(change, "beta")["session"]  # type: ignore[index]
        assert list(session) == [BETA.key(path)]
        assert decode_update(session, "beta") == change

    def test_paths_map_both_ways(self) -> None:
        """wire_path renames a GA path (and places below it); ga_path undoes it."""
        for path in BETA.options:
            inside = path + ".x"
            assert BETA.ga_path(BETA.wire_path(inside)) == inside
        assert BETA.wire_path("audio.input.turn_detection.threshold") == "turn_detection.threshold"
        assert BETA.wire_path("truncation") == "truncation"

    def test_codec_param_path_reads_beta_names(self) -> None:
        """An error's beta ``param`` names the GA option path."""
        codec = OpenAICodec(dialect="beta")
        assert codec.param_path("session.max_response_output_tokens") == "max_output_tokens"
        assert codec.param_path("session.audio.output.speed") == "audio.output.speed"
        assert OpenAICodec().param_path("session.turn_detection") == "turn_detection"

    def test_plugin_keywords_are_flat_names(self) -> None:
        """Each plugin keyword is its option's beta name, or its GA name where beta has none."""
        for keyword, path in PLUGIN_KEYWORDS.items():
            assert keyword == BETA.key(path)


class TestAzureCarries:
    """The flat dialect is what livekit's Azure conversion sends to Azure's api-versions."""

    def test_reasoning_goes_out_flat_and_validates(self) -> None:
        """``reasoning`` is carried as livekit-plugins-openai 1.8.9's ``_oai_session_to_azure`` does."""
        from optstate.openai import Reasoning

        event = encode(optstate.patch(RealtimeOptions, {"reasoning": Reasoning(effort="low")}), "beta")
        assert event == {"type": "session.update", "session": {"reasoning": {"effort": "low"}}}
        validate_event(event, "beta")
        with pytest.raises(SchemaViolation):
            validate_event({"type": "session.update", "session": {"reasoning": {"effort": "x"}}}, "beta")
