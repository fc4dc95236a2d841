"""The OpenAI Realtime (GA) session options as frozen records.

Field names follow the GA ``session`` object (the ``openai`` package's
``RealtimeSessionCreateRequest``); defaults are the server's documented
defaults. ``None`` means null on the wire (off, cleared). Tagged unions
(``format``, ``turn_detection``, ``truncation``, ``tool_choice``, tools) are
records with a class-level ``TYPE`` tag, or plain strings for their string
modes. Record-valued leaves also accept the JSON ``dict`` form, so
``{"type": "server_vad", "threshold": 0.7}`` and ``ServerVad(threshold=0.7)``
are the same value.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import attrs
from pyrsistent import PMap, PVector, pvector

from .._errors import redact
from .._record import node, passthrough
from .._validators import (
    boolean,
    json_value,
    number,
    one_of,
    optional,
    str_map,
    text,
    to_frozen,
    to_frozen_map,
    to_vector,
    vector_of,
)
from ._extra import SERVER_ONLY, check_extra
from ._values import holding, leaf, max_tokens, modalities, redacted, voice_field

__all__ = [
    "Audio",
    "AudioInput",
    "AudioOutput",
    "AudioPCM",
    "AudioPCMA",
    "AudioPCMU",
    "FunctionTool",
    "McpTool",
    "NoiseReduction",
    "Prompt",
    "RealtimeOptions",
    "Reasoning",
    "RetentionRatio",
    "SemanticVad",
    "ServerVad",
    "TokenLimits",
    "ToolChoiceFunction",
    "ToolChoiceMcp",
    "TracingConfig",
    "Transcription",
    "VoiceId",
]

# -- audio formats ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AudioPCM:
    """16-bit PCM at 24 kHz (the only PCM rate the API takes)."""

    TYPE: ClassVar[str] = "audio/pcm"
    rate: int = leaf(24000, validator=one_of(24000))


@attrs.frozen(kw_only=True)
class AudioPCMU:
    """G.711 mu-law."""

    TYPE: ClassVar[str] = "audio/pcmu"


@attrs.frozen(kw_only=True)
class AudioPCMA:
    """G.711 A-law."""

    TYPE: ClassVar[str] = "audio/pcma"


AudioFormat = AudioPCM | AudioPCMU | AudioPCMA
_FORMATS = (AudioPCM, AudioPCMU, AudioPCMA)
_FORMAT_RULE = "must be an audio format ({'type': 'audio/pcm'|'audio/pcmu'|'audio/pcma'})"

# -- audio input ----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class NoiseReduction:
    """Input noise reduction; ``None`` in the options turns it off."""

    type: Literal["near_field", "far_field"] = leaf("near_field", validator=one_of("near_field", "far_field"))
    strength: float | None = leaf(None, validator=optional(number(0, 10)))


_str_vector = vector_of(text())


@attrs.frozen(kw_only=True)
class Transcription:
    """Input audio transcription; ``None`` in the options turns it off."""

    model: str | None = leaf(None, validator=optional(text(nonempty=True)))
    language: str | None = leaf(None, validator=optional(text()))
    prompt: str | None = leaf(None, validator=optional(text()))
    languages: PVector[str] | None = leaf(
        None, converter=to_vector, validator=optional(_str_vector), decode=to_vector
    )
    keywords: PVector[str] | None = leaf(
        None, converter=to_vector, validator=optional(_str_vector), decode=to_vector
    )
    delay: str | None = leaf(None, validator=optional(one_of("minimal", "low", "medium", "high", "xhigh")))


_ms = number(0, integer=True)


@attrs.frozen(kw_only=True)
class ServerVad:
    """Turn detection by voice activity (the server's default)."""

    TYPE: ClassVar[str] = "server_vad"
    threshold: float = leaf(0.5, validator=number(0, 1))
    prefix_padding_ms: int = leaf(300, validator=_ms)
    silence_duration_ms: int = leaf(500, validator=_ms)
    create_response: bool = leaf(True, validator=boolean)
    interrupt_response: bool = leaf(True, validator=boolean)
    idle_timeout_ms: int | None = leaf(None, validator=optional(_ms))


@attrs.frozen(kw_only=True)
class SemanticVad:
    """Turn detection by a model that judges when the user has finished."""

    TYPE: ClassVar[str] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] = leaf(
        "auto", validator=one_of("low", "medium", "high", "auto")
    )
    create_response: bool = leaf(True, validator=boolean)
    interrupt_response: bool = leaf(True, validator=boolean)


TurnDetection = ServerVad | SemanticVad


@attrs.frozen(kw_only=True)
class AudioInput:
    """``audio.input``: a merge node."""

    format: AudioFormat = holding("format", *_FORMATS, factory=AudioPCM, rule=_FORMAT_RULE)
    noise_reduction: NoiseReduction | None = holding(
        "noise_reduction", NoiseReduction, default=None, rule="must be a NoiseReduction or None"
    )
    transcription: Transcription | None = holding(
        "transcription", Transcription, default=None, rule="must be a Transcription or None"
    )
    turn_detection: TurnDetection | None = holding(
        "turn_detection",
        ServerVad,
        SemanticVad,
        factory=ServerVad,
        nullable=True,
        rule="must be ServerVad, SemanticVad or None",
    )


# -- audio output ---------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class VoiceId:
    """A custom voice, by id."""

    id: str = leaf(validator=text(nonempty=True))


@attrs.frozen(kw_only=True)
class AudioOutput:
    """``audio.output``: a merge node."""

    format: AudioFormat = holding("format", *_FORMATS, factory=AudioPCM, rule=_FORMAT_RULE)
    voice: str | VoiceId = voice_field(
        "voice", VoiceId, default="alloy", rule="must be a voice name or a VoiceId"
    )
    speed: float = leaf(1.0, validator=number(0.25, 1.5))


@attrs.frozen(kw_only=True)
class Audio:
    """``audio``: a merge node holding ``input`` and ``output``."""

    input: AudioInput = node(AudioInput)
    output: AudioOutput = node(AudioOutput)


# -- tools and tool choice ------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FunctionTool:
    """A function the model may call; ``parameters`` is a JSON Schema (frozen)."""

    TYPE: ClassVar[str] = "function"
    name: str = leaf(validator=text(nonempty=True))
    description: str | None = leaf(None, validator=optional(text()))
    parameters: PMap[str, Any] | None = leaf(
        None, converter=to_frozen, validator=optional(json_value), decode=to_frozen
    )


@attrs.frozen(kw_only=True)
class McpTool:
    """A remote MCP server's tools. ``authorization`` and ``headers`` are secrets:
    they are sent on the wire but never shown in a repr or an error."""

    TYPE: ClassVar[str] = "mcp"
    server_label: str = leaf(validator=text(nonempty=True))
    server_url: str | None = leaf(None, validator=optional(text()))
    connector_id: str | None = leaf(None, validator=optional(text()))
    server_description: str | None = leaf(None, validator=optional(text()))
    authorization: str | None = leaf(None, validator=optional(text()), repr=redacted)
    headers: PMap[str, str] | None = leaf(
        None,
        converter=to_frozen_map,
        validator=optional(str_map),
        decode=to_frozen_map,
        repr=redacted,
    )
    allowed_tools: Any = leaf(None, converter=to_frozen, validator=json_value, decode=to_frozen)
    require_approval: Any = leaf(None, converter=to_frozen, validator=json_value, decode=to_frozen)


Tool = FunctionTool | McpTool


@attrs.frozen(kw_only=True)
class ToolChoiceFunction:
    """Force a call of the named function."""

    TYPE: ClassVar[str] = "function"
    name: str = leaf(validator=text(nonempty=True))


@attrs.frozen(kw_only=True)
class ToolChoiceMcp:
    """Force a call of a tool on the labelled MCP server."""

    TYPE: ClassVar[str] = "mcp"
    server_label: str = leaf(validator=text(nonempty=True))
    name: str | None = leaf(None, validator=optional(text()))


ToolChoice = str | ToolChoiceFunction | ToolChoiceMcp
TOOL_CHOICE_MODES = ("auto", "none", "required")

# -- tracing, truncation, reasoning, prompt -------------------------------------------


@attrs.frozen(kw_only=True)
class TracingConfig:
    """Tracing with explicit names (``"auto"`` picks defaults; ``None`` is off)."""

    workflow_name: str | None = leaf(None, validator=optional(text()))
    group_id: str | None = leaf(None, validator=optional(text()))
    metadata: Any = leaf(None, converter=to_frozen, validator=json_value, decode=to_frozen)


@attrs.frozen(kw_only=True)
class TokenLimits:
    """Token limits for retention-ratio truncation."""

    post_instructions: int | None = leaf(None, validator=optional(number(0, integer=True)))


@attrs.frozen(kw_only=True)
class RetentionRatio:
    """Truncation that keeps a fraction of the conversation."""

    TYPE: ClassVar[str] = "retention_ratio"
    retention_ratio: float = leaf(validator=number(0, 1))
    token_limits: TokenLimits | None = holding(
        "token_limits", TokenLimits, default=None, rule="must be TokenLimits or None"
    )


@attrs.frozen(kw_only=True)
class Reasoning:
    """Reasoning effort, for reasoning-capable realtime models."""

    effort: str | None = leaf(None, validator=optional(one_of("minimal", "low", "medium", "high", "xhigh")))


@attrs.frozen(kw_only=True)
class Prompt:
    """A reference to a stored prompt template and its variables."""

    id: str = leaf(validator=text(nonempty=True))
    version: str | None = leaf(None, validator=optional(text()))
    variables: Any = leaf(None, converter=to_frozen, validator=json_value, decode=to_frozen)


# -- the root -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RealtimeOptions:
    """The options of one OpenAI Realtime session (the GA ``session`` object).

    Build it with keywords, change it with :func:`optstate.set` or
    :func:`optstate.apply`; it is immutable and hashable, so one value can be
    shared by every session and thread.
    """

    model: str = leaf("gpt-realtime", validator=text(nonempty=True))
    instructions: str = leaf("", validator=text())
    output_modalities: PVector[str] = leaf(
        factory=lambda: pvector(["audio"]),
        converter=to_vector,
        validator=modalities,
        decode=to_vector,
    )
    audio: Audio = node(Audio)
    tools: PVector[Tool] = holding(
        "tools",
        FunctionTool,
        McpTool,
        factory=pvector,
        many=True,
        rule="must be a FunctionTool or McpTool",
    )
    tool_choice: ToolChoice = holding(
        "tool_choice",
        ToolChoiceFunction,
        ToolChoiceMcp,
        default="auto",
        strings=TOOL_CHOICE_MODES,
        rule="must be 'auto', 'none', 'required', a ToolChoiceFunction or a ToolChoiceMcp",
    )
    max_output_tokens: int | str = leaf("inf", validator=max_tokens)
    tracing: str | TracingConfig | None = holding(
        "tracing",
        TracingConfig,
        default=None,
        strings=("auto",),
        rule="must be 'auto', a TracingConfig or None",
    )
    truncation: str | RetentionRatio = holding(
        "truncation",
        RetentionRatio,
        default="auto",
        strings=("auto", "disabled"),
        rule="must be 'auto', 'disabled' or a RetentionRatio",
    )
    reasoning: Reasoning | None = holding(
        "reasoning", Reasoning, default=None, rule="must be a Reasoning or None"
    )
    include: PVector[str] = leaf(
        factory=pvector,
        converter=to_vector,
        validator=vector_of(one_of("item.input_audio_transcription.logprobs"), unique=True),
        decode=to_vector,
    )
    prompt: Prompt | None = holding("prompt", Prompt, default=None, rule="must be a Prompt or None")
    parallel_tool_calls: bool | None = leaf(None, validator=optional(boolean))
    #: Session fields the server reported that optstate does not know (a newer
    #: API version), nested as on the wire: ``{"new_field": 1, "audio":
    #: {"input": {"new_knob": 2, "turn_detection": {"new_vad_knob": 3}}},
    #: "tools": [{}, {"new_tool_knob": 4}]}`` (unknown keys inside a
    #: record-valued option are kept at its path; for ``tools``, one object
    #: per tool, by index). Kept so that a decoded session encodes back whole
    #: (:func:`~optstate.openai.encode_session`); not an option: never
    #: compared, diffed, patched or sent in a ``session.update``.
    extra: PMap[str, Any] = passthrough(  # noqa: RUF009 - a field specifier, like leaf()
        converter=to_frozen,
        validator=lambda _inst, a, value: check_extra(a.name, value, (RealtimeOptions,), SERVER_ONLY),
        repr=lambda value: repr(redact(value)),
    )
