"""Validation in the records: clear errors naming the dotted path and the value,
and the state being changed left exactly as it was."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import optstate
from optstate import InvalidOption, OptStateError
from optstate.openai import (
    McpTool,
    RealtimeOptions,
    ServerVad,
    ToolChoiceFunction,
)
from optstate.strategies import realtime_options

BAD = [
    (
        "audio.output.speed",
        2.0,
        "audio.output.speed must be a number between 0.25 and 1.5 (got 2.0)",
    ),
    ("audio.output.speed", 0.1, "between 0.25 and 1.5"),
    ("audio.output.speed", math.nan, "got nan"),
    ("audio.output.speed", math.inf, "got inf"),
    ("audio.output.speed", True, "must be a number"),
    ("audio.output.speed", "fast", "must be a number"),
    (
        "audio.input.turn_detection",
        {"type": "server_vad", "threshold": 1.5},
        "audio.input.turn_detection.threshold must be a number between 0 and 1",
    ),
    (
        "audio.input.turn_detection",
        {"type": "server_vad", "silence_duration_ms": -1},
        "audio.input.turn_detection.silence_duration_ms must be an integer >= 0",
    ),
    (
        "audio.input.turn_detection",
        {"type": "server_vad", "prefix_padding_ms": 1.5},
        "prefix_padding_ms must be an integer",
    ),
    (
        "audio.input.turn_detection",
        {"type": "magic_vad"},
        "audio.input.turn_detection.type must be one of",
    ),
    (
        "audio.input.turn_detection",
        {"type": "server_vad", "bogus": 1},
        "audio.input.turn_detection.bogus is not a field of ServerVad",
    ),
    ("max_output_tokens", 0, "max_output_tokens must be an integer between 1 and 4096, or 'inf'"),
    ("max_output_tokens", 4097, "between 1 and 4096"),
    ("max_output_tokens", "infinite", "or 'inf'"),
    ("output_modalities", ["text", "audio"], "not both"),
    ("output_modalities", [], "must be ['audio'] or ['text']"),
    (
        "truncation",
        {"type": "retention_ratio", "retention_ratio": 2},
        "truncation.retention_ratio must be a number between 0 and 1",
    ),
    ("truncation", "sometimes", "truncation must be 'auto', 'disabled' or a RetentionRatio"),
    ("tool_choice", "maybe", "tool_choice must be 'auto', 'none', 'required'"),
    ("tool_choice", {"type": "function"}, "tool_choice"),
    ("tools", [{"type": "function", "name": ""}], "tools[0].name must be a non-empty string"),
    ("tools", [{"type": "web_search"}], "tools[0].type must be one of"),
    ("tracing", "on", "tracing must be 'auto', a TracingConfig or None"),
    ("audio.output.voice", "", "audio.output.voice must be a voice name or a VoiceId"),
    ("audio.input.noise_reduction", {"type": "mid_field"}, "noise_reduction.type must be one of"),
    ("instructions", None, "instructions must be a string"),
    ("model", 42, "model must be a non-empty string"),
    ("include", ["everything"], "include[0] must be one of"),
    ("audio.bogus", 1, "audio.bogus is not an option of Audio"),
    ("nonsense", 1, "nonsense is not an option of RealtimeOptions"),
    ("audio.output.speed.more", 1, "audio.output.speed is a single option"),
]


class TestValidation:
    @pytest.mark.parametrize(("path", "value", "message"), BAD)
    def test_bad_value_names_path_and_value(self, path: str, value: Any, message: str) -> None:
        """A bad value raises InvalidOption (a ValueError) whose message names the path."""
        state = RealtimeOptions()
        with pytest.raises(InvalidOption) as info:
            optstate.set(state, path, value)
        assert message in str(info.value)
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, OptStateError)
        assert info.value.path.startswith(path.split(".")[0])
        assert state == RealtimeOptions()

    @pytest.mark.parametrize(("path", "value", "message"), BAD)
    def test_bad_value_through_apply_leaves_state_as_it_was(
        self, path: str, value: Any, message: str
    ) -> None:
        """The unvalidated Patch + apply path gives the same error; the state is untouched."""
        from optstate import Patch

        parts = path.split(".")
        raw: Any = value
        for part in reversed(parts):
            raw = Patch({part: raw})
        state = RealtimeOptions(instructions="keep")
        before = state
        with pytest.raises(InvalidOption):
            optstate.apply(state, raw)
        assert state is before
        assert state == RealtimeOptions(instructions="keep")

    def test_error_carries_path_value_rule(self) -> None:
        """The exception carries path, value and rule as attributes."""
        with pytest.raises(InvalidOption) as info:
            optstate.set(RealtimeOptions(), "audio.output.speed", 2.0)
        e = info.value
        assert (e.path, e.value) == ("audio.output.speed", 2.0)
        assert e.rule == "must be a number between 0.25 and 1.5"

    def test_direct_construction_validates(self) -> None:
        """Records validate in their constructor, so an invalid state cannot exist."""
        with pytest.raises(InvalidOption, match=r"threshold must be a number between 0 and 1"):
            ServerVad(threshold=-0.1)
        with pytest.raises(InvalidOption, match="tool_choice"):
            RealtimeOptions(tool_choice=ToolChoiceFunction)  # type: ignore[arg-type]

    def test_secrets_never_in_messages(self) -> None:
        """An invalid secret is reported without its value."""
        with pytest.raises(InvalidOption) as info:
            optstate.set(
                RealtimeOptions(),
                "tools",
                [{"type": "mcp", "server_label": "s", "headers": {"Authorization": 5}}],
            )
        assert "Authorization" not in str(info.value) or "redacted" in str(info.value)
        tool = McpTool(server_label="s", authorization="sk-live-123", headers={"x": "sk-live-456"})
        assert "sk-live" not in repr(tool)
        assert "sk-live" not in repr(RealtimeOptions(tools=[tool]))

    @given(state=realtime_options())
    def test_states_are_hashable_and_immutable(self, state: RealtimeOptions) -> None:
        """Every state is hashable; attributes cannot be assigned."""
        hash(state)
        with pytest.raises(AttributeError):
            state.instructions = "x"  # type: ignore[misc]
        with pytest.raises(AttributeError):
            state.audio.output.speed = 1.0  # type: ignore[misc]


class TestPaths:
    def test_set_and_get(self) -> None:
        """set returns a new state with one field changed; get reads by path."""
        s = RealtimeOptions()
        t = optstate.set(s, "audio.output.speed", 1.5)
        assert optstate.get(t, "audio.output.speed") == 1.5
        assert optstate.get(s, "audio.output.speed") == 1.0
        assert t.audio.input is s.audio.input

    def test_patch_accepts_nested_dicts_and_records(self) -> None:
        """A merge node may be given as nested dicts or as a whole record."""
        p1 = optstate.patch(RealtimeOptions, {"audio": {"output": {"speed": 1.2}}})
        p2 = optstate.patch(RealtimeOptions, {"audio.output.speed": 1.2})
        assert p1 == p2
        out = RealtimeOptions().audio.output
        p3 = optstate.patch(RealtimeOptions, {"audio.output": out})
        assert set(p3.paths()) == {
            "audio.output.format",
            "audio.output.voice",
            "audio.output.speed",
        }

    @given(state=realtime_options(), speed=st.floats(0.25, 1.5))
    def test_set_changes_only_the_named_leaf(self, state: RealtimeOptions, speed: float) -> None:
        """set changes the named leaf and keeps every other leaf identical."""
        new = optstate.set(state, "audio.output.speed", speed)
        assert set(optstate.diff(state, new).paths()) <= {"audio.output.speed"}
        assert new.tools is state.tools
        assert new.audio.input is state.audio.input
