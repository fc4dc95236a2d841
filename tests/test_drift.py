"""Drift guard: every field of the installed ``openai`` package's GA session
models is either modelled by optstate's records or listed here as deliberately
not modelled. A new field in a newer ``openai`` release fails a test naming it,
so a schema change is a decision, never a silent gap."""

from __future__ import annotations

import types
import typing
from typing import Any

import pytest

pytest.importorskip("openai")

from openai.types.realtime import (
    AudioTranscription,
    RealtimeAudioConfig,
    RealtimeAudioConfigInput,
    RealtimeAudioConfigOutput,
    RealtimeFunctionTool,
    RealtimeReasoning,
    RealtimeSessionCreateRequest,
    RealtimeTruncationRetentionRatio,
)
from openai.types.realtime import realtime_audio_formats as formats
from openai.types.realtime import realtime_audio_input_turn_detection as vad
from openai.types.realtime.realtime_audio_config_input import NoiseReduction as OaNoiseReduction
from openai.types.realtime.realtime_tools_config_union import Mcp
from openai.types.realtime.realtime_tracing_config import TracingConfiguration
from openai.types.realtime.realtime_truncation_retention_ratio import TokenLimits as OaTokenLimits
from openai.types.responses.response_prompt import ResponsePrompt
from openai.types.responses.tool_choice_function import ToolChoiceFunction as OaToolChoiceFunction
from openai.types.responses.tool_choice_mcp import ToolChoiceMcp as OaToolChoiceMcp
from pydantic import BaseModel

from optstate._record import specs
from optstate.openai import (
    Audio,
    AudioInput,
    AudioOutput,
    AudioPCM,
    AudioPCMA,
    AudioPCMU,
    FunctionTool,
    McpTool,
    NoiseReduction,
    Prompt,
    RealtimeOptions,
    Reasoning,
    RetentionRatio,
    SemanticVad,
    ServerVad,
    TokenLimits,
    ToolChoiceFunction,
    ToolChoiceMcp,
    TracingConfig,
    Transcription,
)

#: Each record and the official model it mirrors (GA).
PAIRS: dict[type[BaseModel], type] = {
    RealtimeSessionCreateRequest: RealtimeOptions,
    RealtimeAudioConfig: Audio,
    RealtimeAudioConfigInput: AudioInput,
    RealtimeAudioConfigOutput: AudioOutput,
    formats.AudioPCM: AudioPCM,
    formats.AudioPCMU: AudioPCMU,
    formats.AudioPCMA: AudioPCMA,
    vad.ServerVad: ServerVad,
    vad.SemanticVad: SemanticVad,
    OaNoiseReduction: NoiseReduction,
    AudioTranscription: Transcription,
    RealtimeFunctionTool: FunctionTool,
    Mcp: McpTool,
    OaToolChoiceFunction: ToolChoiceFunction,
    OaToolChoiceMcp: ToolChoiceMcp,
    TracingConfiguration: TracingConfig,
    RealtimeTruncationRetentionRatio: RetentionRatio,
    OaTokenLimits: TokenLimits,
    RealtimeReasoning: Reasoning,
    ResponsePrompt: Prompt,
}

#: Official models reachable from the session that optstate deliberately keeps
#: as plain data inside a record it does model, each with the reason.
NOT_MODELLED_MODELS: dict[str, str] = {
    # MCP tool filters and approval policies: kept as validated JSON in McpTool.
    "McpAllowedToolsMcpToolFilter": "McpTool.allowed_tools holds the filter as JSON",
    "McpRequireApprovalMcpToolApprovalFilter": "McpTool.require_approval holds the policy as JSON",
    "McpRequireApprovalMcpToolApprovalFilterAlways": "McpTool.require_approval holds the policy as JSON",
    "McpRequireApprovalMcpToolApprovalFilterNever": "McpTool.require_approval holds the policy as JSON",
    # Prompt variables may be input content parts: kept as JSON in Prompt.variables.
    "ResponseInputText": "Prompt.variables holds them as JSON",
    "ResponseInputImage": "Prompt.variables holds them as JSON",
    "ResponseInputFile": "Prompt.variables holds them as JSON",
    "PromptCacheBreakpoint": "inside a prompt variable's content part: JSON in Prompt.variables",
    # A custom voice id object.
    "VoiceID": "AudioOutput.voice takes a VoiceId record or a voice name",
}

#: Fields of paired models that optstate deliberately does not model, with why.
NOT_MODELLED_FIELDS: dict[str, str] = {
    "RealtimeSessionCreateRequest.type": "the session type tag, always 'realtime': written by encode",
    # Newer MCP options (openai 3.x): a server's value is kept at its path by decode
    # (unknown keys inside a record) and shown back; the application cannot write them yet.
    "Mcp.allowed_callers": "newer MCP option, kept as server data, not writable yet",
    "Mcp.defer_loading": "newer MCP option, kept as server data, not writable yet",
    "Mcp.tunnel_id": "newer MCP option, kept as server data, not writable yet",
}


def reachable(model: type[BaseModel]) -> set[type[BaseModel]]:
    """Every pydantic model class reachable from ``model``'s field annotations."""
    seen: set[type[BaseModel]] = set()
    todo = [model]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        for f in m.model_fields.values():
            todo.extend(models_in(f.annotation))
    return seen


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic model classes inside a (possibly nested generic) annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out.extend(models_in(arg))
    if isinstance(annotation, types.UnionType):
        for arg in annotation.__args__:
            out.extend(models_in(arg))
    return out


def wire_names(model: type[BaseModel]) -> set[str]:
    """The JSON keys a model's fields use."""
    return {f.alias or name for name, f in model.model_fields.items()}


class TestDrift:
    def test_every_reachable_model_is_paired_or_listed(self) -> None:
        """A new kind of object in the GA session (a tool type, a format, a VAD)
        is either mirrored by a record or listed as kept as JSON."""
        missing = sorted(
            m.__name__
            for m in reachable(RealtimeSessionCreateRequest)
            if m not in PAIRS and m.__name__ not in NOT_MODELLED_MODELS
        )
        assert not missing, f"official models optstate neither models nor lists: {missing}"

    @pytest.mark.parametrize("official", list(PAIRS), ids=lambda m: m.__name__)
    def test_every_field_is_modelled_or_listed(self, official: type[BaseModel]) -> None:
        """Each field of the official model is a field of its record (by wire
        name, the ``type`` tag counting for tagged records) or listed here."""
        record = PAIRS[official]
        known = {s.wire for s in specs(record)}
        if getattr(record, "TYPE", None) is not None:
            known.add("type")
        missing = sorted(
            f"{official.__name__}.{name}"
            for name in wire_names(official) - known
            if f"{official.__name__}.{name}" not in NOT_MODELLED_FIELDS
        )
        assert not missing, f"fields optstate neither models nor lists as not modelled: {missing}"

    def test_the_lists_name_only_what_exists(self) -> None:
        """The not-modelled lists stay true: each entry still exists upstream."""
        names = {m.__name__ for m in reachable(RealtimeSessionCreateRequest)}
        assert set(NOT_MODELLED_MODELS) <= names, set(NOT_MODELLED_MODELS) - names
        for entry in NOT_MODELLED_FIELDS:
            model, _, field = entry.partition(".")
            official = next(m for m in PAIRS if m.__name__ == model)
            assert field in wire_names(official), entry
