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

import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import attrs
from pyrsistent import PMap, PVector, pvector

from .._errors import InvalidOption, redact
from .._record import (
    MERGE,
    PVECTOR,
    boolean,
    check_json,
    either,
    instance,
    json_value,
    leaf,
    node,
    number,
    one_of,
    optional,
    passthrough,
    specs,
    str_map,
    text,
    to_frozen,
    to_frozen_map,
    to_vector,
    vector_of,
)

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

Decoder = Callable[[Any], Any]


def _redacted(_value: Any) -> str:
    return "'<redacted>'" if _value is not None else "None"


# -- decoders: JSON value -> field value, raising InvalidOption with a relative path ---


def _decode_record(cls: type) -> Decoder:
    """A decoder for a record from its JSON object (wire names; ``type`` checked)."""

    def decode(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise InvalidOption("", value, f"must be an object ({cls.__name__})")
        tag = getattr(cls, "TYPE", None)
        kwargs: dict[str, Any] = {}
        known = {"type"} if tag is not None else set()
        for s in specs(cls):
            known.add(s.wire)
            if s.wire in value:
                raw = value[s.wire]
                try:
                    kwargs[s.name] = raw if s.decode is None or raw is None else s.decode(raw)
                except InvalidOption as e:
                    raise e.located(s.wire) from None
        if tag is not None and value.get("type", tag) != tag:
            raise InvalidOption("type", value.get("type"), f"must be {tag!r}")
        unknown = [k for k in value if k not in known]
        if unknown:
            raise InvalidOption(str(unknown[0]), value[unknown[0]], f"is not a field of {cls.__name__}")
        try:
            return cls(**kwargs)
        except InvalidOption as e:
            wire = {s.name: s.wire for s in specs(cls)}
            head, dot, rest = e.path.partition(".")
            base, bracket, index = head.partition("[")
            raise InvalidOption(
                wire.get(base, base) + bracket + index + dot + rest, e.value, e.rule
            ) from None
        except TypeError as e:
            raise InvalidOption("", value, f"is not a valid {cls.__name__}: {e}") from None

    return decode


def _decode_union(*classes: type, strings: tuple[str, ...] = ()) -> Decoder:
    """A decoder for a tagged union: a record chosen by its ``type``, or a string mode."""
    by_tag = {c.TYPE: (c, _decode_record(c)) for c in classes}  # type: ignore[attr-defined]
    choices = [*(repr(s) for s in strings), *(f"{{'type': {t!r}}}" for t in by_tag)]
    rule = "must be one of " + ", ".join(choices)
    tag_rule = "must be one of " + ", ".join(repr(t) for t in by_tag)  # said of the ``type`` key

    def decode(value: Any) -> Any:
        if type(value) is str:
            if value in strings:
                return value
            raise InvalidOption("", value, rule)
        if type(value) in classes:
            return value
        if isinstance(value, Mapping):
            tag = value.get("type")
            found = by_tag.get(tag) if type(tag) is str else None
            if found is None:
                raise InvalidOption("type", value.get("type"), tag_rule)
            return found[1](value)
        raise InvalidOption("", value, rule)

    return decode


def _decode_vector(item: Decoder) -> Decoder:
    def decode(value: Any) -> Any:
        if not isinstance(value, list | tuple | PVector):
            raise InvalidOption("", value, "must be a list")
        out = []
        for i, x in enumerate(value):
            try:
                out.append(item(x))
            except InvalidOption as e:
                raise InvalidOption(f"[{i}]" + (f".{e.path}" if e.path else ""), e.value, e.rule) from None
        return pvector(out)

    return decode


def _converter(decoder: Decoder, name: str) -> Callable[[Any], Any]:
    """Field converter: JSON dicts/lists become records; errors name the field."""

    def convert(value: Any) -> Any:
        # Exact-type checks first: records (the common case) and strings pass as they are.
        if value is None or type(value) is str or hasattr(type(value), "__attrs_attrs__"):
            return value
        if isinstance(value, Mapping | list | tuple):
            try:
                return decoder(value)
            except InvalidOption as e:
                raise e.located(name) from None
        return value

    return convert


def _is(*classes: type, rule: str) -> Callable[[Any, Any, Any], None]:
    return instance(*classes, rule=rule)


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
_decode_format = _decode_union(*_FORMATS)
_format_rule = "must be an audio format ({'type': 'audio/pcm'|'audio/pcmu'|'audio/pcma'})"

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
_decode_turn = _decode_union(ServerVad, SemanticVad)


@attrs.frozen(kw_only=True)
class AudioInput:
    """``audio.input``: a merge node."""

    format: AudioFormat = leaf(
        factory=AudioPCM,
        converter=_converter(_decode_format, "format"),
        validator=_is(*_FORMATS, rule=_format_rule),
        decode=_decode_format,
    )
    noise_reduction: NoiseReduction | None = leaf(
        None,
        converter=_converter(_decode_record(NoiseReduction), "noise_reduction"),
        validator=optional(_is(NoiseReduction, rule="must be a NoiseReduction or None")),
        decode=_decode_record(NoiseReduction),
    )
    transcription: Transcription | None = leaf(
        None,
        converter=_converter(_decode_record(Transcription), "transcription"),
        validator=optional(_is(Transcription, rule="must be a Transcription or None")),
        decode=_decode_record(Transcription),
    )
    turn_detection: TurnDetection | None = leaf(
        factory=ServerVad,
        converter=_converter(_decode_turn, "turn_detection"),
        validator=optional(_is(ServerVad, SemanticVad, rule="must be ServerVad, SemanticVad or None")),
        decode=_decode_turn,
    )


# -- audio output ---------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class VoiceId:
    """A custom voice, by id."""

    id: str = leaf(validator=text(nonempty=True))


_decode_voice_id = _decode_record(VoiceId)


def _convert_voice(value: Any) -> Any:
    if type(value) is str:
        return value
    if isinstance(value, Mapping):
        try:
            return _decode_voice_id(value)
        except InvalidOption as e:
            raise e.located("voice") from None
    return value


@attrs.frozen(kw_only=True)
class AudioOutput:
    """``audio.output``: a merge node."""

    format: AudioFormat = leaf(
        factory=AudioPCM,
        converter=_converter(_decode_format, "format"),
        validator=_is(*_FORMATS, rule=_format_rule),
        decode=_decode_format,
    )
    voice: str | VoiceId = leaf(
        "alloy",
        converter=_convert_voice,
        validator=either(
            text(nonempty=True), _is(VoiceId, rule=""), rule="must be a voice name or a VoiceId"
        ),
        decode=lambda v: v if type(v) is str else _decode_voice_id(v),
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
    authorization: str | None = leaf(None, validator=optional(text()), repr=_redacted)
    headers: PMap[str, str] | None = leaf(
        None,
        converter=to_frozen_map,
        validator=optional(str_map),
        decode=to_frozen_map,
        repr=_redacted,
    )
    allowed_tools: Any = leaf(None, converter=to_frozen, validator=json_value, decode=to_frozen)
    require_approval: Any = leaf(None, converter=to_frozen, validator=json_value, decode=to_frozen)


Tool = FunctionTool | McpTool
_decode_tool = _decode_union(FunctionTool, McpTool)
_decode_tools = _decode_vector(_decode_tool)


def _convert_tools(value: Any) -> Any:
    """Lists become a ``PVector`` of tools; JSON tool objects become records."""
    if type(value) is PVECTOR:
        return value
    if isinstance(value, list | tuple) and any(isinstance(x, Mapping) for x in value):
        try:
            return _decode_tools(value)
        except InvalidOption as e:
            raise e.located("tools") from None
    return to_vector(value)


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
_decode_tool_choice = _decode_union(ToolChoiceFunction, ToolChoiceMcp, strings=TOOL_CHOICE_MODES)

# -- tracing, truncation, reasoning, prompt -------------------------------------------


@attrs.frozen(kw_only=True)
class TracingConfig:
    """Tracing with explicit names (``"auto"`` picks defaults; ``None`` is off)."""

    workflow_name: str | None = leaf(None, validator=optional(text()))
    group_id: str | None = leaf(None, validator=optional(text()))
    metadata: Any = leaf(None, converter=to_frozen, validator=json_value, decode=to_frozen)


_decode_tracing_config = _decode_record(TracingConfig)


def _decode_tracing(value: Any) -> Any:
    if value == "auto" or isinstance(value, TracingConfig):
        return value
    if isinstance(value, Mapping):
        return _decode_tracing_config(value)
    raise InvalidOption("", value, "must be 'auto', a TracingConfig or None")


@attrs.frozen(kw_only=True)
class TokenLimits:
    """Token limits for retention-ratio truncation."""

    post_instructions: int | None = leaf(None, validator=optional(number(0, integer=True)))


@attrs.frozen(kw_only=True)
class RetentionRatio:
    """Truncation that keeps a fraction of the conversation."""

    TYPE: ClassVar[str] = "retention_ratio"
    retention_ratio: float = leaf(validator=number(0, 1))
    token_limits: TokenLimits | None = leaf(
        None,
        converter=_converter(_decode_record(TokenLimits), "token_limits"),
        validator=optional(_is(TokenLimits, rule="must be TokenLimits or None")),
        decode=_decode_record(TokenLimits),
    )


_decode_truncation = _decode_union(RetentionRatio, strings=("auto", "disabled"))


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

_MODALITIES = (pvector(["audio"]), pvector(["text"]))


def _modalities(_inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, PVector) or value not in _MODALITIES:
        both = isinstance(value, PVector) and all(type(x) is str for x in value)
        if both and sorted(value) == ["audio", "text"]:
            rule = "must be ['audio'] or ['text'], not both"
        else:
            rule = "must be ['audio'] or ['text']"
        raise InvalidOption(a.name, value, rule)


def _max_tokens(_inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
    if value == "inf" and type(value) is str:
        return
    if type(value) is not int or not 1 <= value <= 4096:
        raise InvalidOption(a.name, value, "must be an integer between 1 and 4096, or 'inf'")


def _record_leaf(*classes: type, rule: str, strings: tuple[str, ...] = ()) -> Any:
    """Validator for a leaf holding one of ``classes`` or one of ``strings``."""

    def check(_inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
        if type(value) in classes or (type(value) is str and value in strings):
            return
        raise InvalidOption(a.name, value, rule)

    return check


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
        validator=_modalities,
        decode=to_vector,
    )
    audio: Audio = node(Audio)
    tools: PVector[Tool] = leaf(
        factory=pvector,
        converter=_convert_tools,
        validator=vector_of(_is(FunctionTool, McpTool, rule="must be a FunctionTool or McpTool")),
        decode=_decode_tools,
    )
    tool_choice: ToolChoice = leaf(
        "auto",
        converter=_converter(_decode_tool_choice, "tool_choice"),
        validator=_record_leaf(
            ToolChoiceFunction,
            ToolChoiceMcp,
            strings=TOOL_CHOICE_MODES,
            rule="must be 'auto', 'none', 'required', a ToolChoiceFunction or a ToolChoiceMcp",
        ),
        decode=_decode_tool_choice,
    )
    max_output_tokens: int | str = leaf("inf", validator=_max_tokens)
    tracing: str | TracingConfig | None = leaf(
        None,
        converter=_converter(_decode_tracing, "tracing"),
        validator=optional(
            _record_leaf(
                TracingConfig,
                strings=("auto",),
                rule="must be 'auto', a TracingConfig or None",
            )
        ),
        decode=_decode_tracing,
    )
    truncation: str | RetentionRatio = leaf(
        "auto",
        converter=_converter(_decode_truncation, "truncation"),
        validator=_record_leaf(
            RetentionRatio,
            strings=("auto", "disabled"),
            rule="must be 'auto', 'disabled' or a RetentionRatio",
        ),
        decode=_decode_truncation,
    )
    reasoning: Reasoning | None = leaf(
        None,
        converter=_converter(_decode_record(Reasoning), "reasoning"),
        validator=optional(_is(Reasoning, rule="must be a Reasoning or None")),
        decode=_decode_record(Reasoning),
    )
    include: PVector[str] = leaf(
        factory=pvector,
        converter=to_vector,
        validator=vector_of(one_of("item.input_audio_transcription.logprobs"), unique=True),
        decode=to_vector,
    )
    prompt: Prompt | None = leaf(
        None,
        converter=_converter(_decode_record(Prompt), "prompt"),
        validator=optional(_is(Prompt, rule="must be a Prompt or None")),
        decode=_decode_record(Prompt),
    )
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
        validator=lambda _inst, a, value: _check_extra(a.name, value),
        repr=lambda value: repr(redact(value)),
    )


#: Top-level wire names that are not options: they never go into ``extra``.
SERVER_ONLY = frozenset({"id", "object", "expires_at", "client_secret", "type", "temperature"})


def wire_keys(cls: type) -> frozenset[str]:
    """The keys a record of ``cls`` knows in its JSON form: its fields' wire
    names, and ``type`` when it is a member of a tagged union."""
    found = _WIRE_KEYS.get(cls)
    if found is None:
        tag = () if getattr(cls, "TYPE", None) is None else ("type",)
        found = _WIRE_KEYS[cls] = frozenset((*(s.wire for s in specs(cls)), *tag))
    return found


#: What a field that holds records can hold: the record classes, and whether
#: it is a list of them (``tools``) rather than one.
Holds = tuple[tuple[type, ...], bool]


def record_fields(cls: type) -> Mapping[str, Holds]:
    """The fields of record class ``cls`` that hold records, by wire name: its
    merge nodes and its record-valued leaves (``turn_detection``, ``tools``,
    ``tracing``, …). Found from the type annotations, once per class."""
    found = _RECORD_FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        table: dict[str, Holds] = {}
        for s in specs(cls):
            if s.kind is MERGE and s.record is not None:
                table[s.wire] = ((s.record,), False)
            elif (held := _records_in(hints[s.name]))[0]:
                table[s.wire] = held
        found = _RECORD_FIELDS[cls] = table
    return found


def record_for(classes: tuple[type, ...], obj: Mapping[Any, Any]) -> type | None:
    """Which of ``classes`` the JSON object ``obj`` is: the one its ``type`` tag
    names (the first untagged one else), or ``None`` when it names none."""
    tag = obj.get("type")
    for cls in classes:
        mine = getattr(cls, "TYPE", None)
        if mine is None or (type(tag) is str and tag == mine):
            return cls
    return None


_WIRE_KEYS: dict[type, frozenset[str]] = {}
_RECORD_FIELDS: dict[type, dict[str, Holds]] = {}


def _records_in(hint: Any) -> Holds:
    origin = typing.get_origin(hint)
    if isinstance(origin, type) and issubclass(origin, PVector):
        return _records_in(typing.get_args(hint)[0])[0], True
    if isinstance(hint, type):
        return ((hint,) if attrs.has(hint) else ()), False
    return tuple(a for a in typing.get_args(hint) if isinstance(a, type) and attrs.has(a)), False


def _check_extra(path: str, value: Any, classes: tuple[type, ...] = (RealtimeOptions,)) -> None:
    """``extra`` is JSON whose keys are not options. A key may name a field that
    holds records (a merge node such as ``audio``, or a record-valued leaf such
    as ``turn_detection``) only to hold more unknown fields below it, in wire
    shape; for ``tools``, a list with one object per tool (``{}`` for none).

    Which keys are unknown cannot depend on the value the leaf holds now (a
    write may change it while ``extra`` stays), so under a union leaf
    (``turn_detection``, ``format``, ``tool_choice``, ``truncation``, tools) a
    key is refused only when *every* record of the union knows it (``type``,
    ``create_response``, …): a key that just some members know (``eagerness``
    under a ``server_vad``) is one a server may send for a member that does not
    know it yet. :func:`~optstate.openai.encode_session` puts a key back only
    under a record that does not know it."""
    if not isinstance(value, PMap):
        if isinstance(value, Mapping):
            check_json(path, value)  # too deep for to_frozen, or not plain JSON
        raise InvalidOption(path, value, "must be an object of session fields unknown to optstate")
    if not value:
        return  # the common case: every record built by a write checks its extra
    below = _record_fields_of(classes)
    for key, item in value.items():
        where = f"{path}.{key}"
        if type(key) is not str:
            raise InvalidOption(path, key, "must have string keys")
        records, many = below.get(key, ((), False))
        if records and many and isinstance(item, PVector):
            for i, element in enumerate(item):
                _check_extra(f"{where}[{i}]", element, records)
        elif records and not many and isinstance(item, PMap):
            _check_extra(where, item, records)
        elif all(key in wire_keys(c) for c in classes) or (
            classes == (RealtimeOptions,) and key in SERVER_ONLY
        ):
            raise InvalidOption(where, item, "is known to optstate, so it cannot be an extra field")
        else:
            check_json(where, item)


def _record_fields_of(classes: tuple[type, ...]) -> Mapping[str, Holds]:
    """:func:`record_fields` of any of ``classes`` (the members of a union)."""
    found = _UNION_FIELDS.get(classes)
    if found is None:
        table: dict[str, Holds] = {}
        for cls in classes:
            for key, (records, many) in record_fields(cls).items():
                held = table.get(key, ((), many))[0]
                table[key] = ((*held, *(r for r in records if r not in held)), many)
        found = _UNION_FIELDS[classes] = table
    return found


_UNION_FIELDS: dict[tuple[type, ...], dict[str, Holds]] = {}
