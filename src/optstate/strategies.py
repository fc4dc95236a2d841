"""Hypothesis strategies for OpenAI Realtime options, patches and writes.

Importing this module registers :func:`realtime_options` for
``st.from_type(RealtimeOptions)`` (it is also loaded by Hypothesis' entry point
once optstate is installed). Every strategy shrinks towards the defaults: the
first branch of each choice is the server's default value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from hypothesis import strategies as st

from . import _patch
from ._patch import Patch
from ._record import MERGE, specs
from .openai import (
    PLUGIN_KEYWORDS,
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
    VoiceId,
)

__all__ = [
    "DIALECT_VALUES",
    "PLUGIN_VALUES",
    "leaf_paths",
    "patches",
    "plugin_writes",
    "realtime_options",
    "turn_detections",
    "voices",
]

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
_short = st.text(max_size=12)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``None`` first (shrinks to it), else ``strategy``."""
    return st.none() | strategy


def _default_first(default: Any, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.just(default) | strategy


_json_leaf = st.none() | st.booleans() | st.integers(-5, 5) | _short
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_names, inner, max_size=3),
    max_leaves=6,
)

_ms = st.integers(0, 2000)


def turn_detections(*, beta: bool = False, xai: bool = False) -> st.SearchStrategy[Any]:
    """``ServerVad`` (the default first), ``SemanticVad`` or ``None`` (off).

    Shrinks towards ``ServerVad()``. With ``beta=True`` only values the beta
    dialect can express (no ``idle_timeout_ms``); with ``xai=True`` only server
    VAD (xAI's one kind) or ``None``."""
    server = st.builds(
        ServerVad,
        threshold=_default_first(0.5, st.floats(0, 1)),
        prefix_padding_ms=_default_first(300, _ms),
        silence_duration_ms=_default_first(500, _ms),
        create_response=st.booleans(),
        interrupt_response=st.booleans(),
        idle_timeout_ms=st.none() if beta or xai else _maybe(_ms),
    )
    if xai:
        return st.just(ServerVad()) | st.none() | server
    semantic = st.builds(
        SemanticVad,
        eagerness=st.sampled_from(["auto", "low", "medium", "high"]),
        create_response=st.booleans(),
        interrupt_response=st.booleans(),
    )
    return st.just(ServerVad()) | st.none() | server | semantic


def voices(*, beta: bool = False, xai: bool = False) -> st.SearchStrategy[Any]:
    """Voice names (``"alloy"`` first) and, unless ``beta``, custom ``VoiceId`` values;
    with ``xai=True`` xAI's voice names (``"ara"`` first, some capitalised)."""
    if xai:
        return st.sampled_from(["ara", "Eve", "rex", "Sal", "leo", "carina", "orion"])
    names = st.sampled_from(["alloy", "ash", "ballad", "coral", "echo", "marin", "cedar"])
    return names if beta else names | st.builds(VoiceId, id=_names)


def _transcriptions(beta: bool, xai: bool = False) -> st.SearchStrategy[Any]:
    if xai:
        return _maybe(st.just(Transcription(model="grok-transcribe")))
    extra = st.none() if beta else _maybe(st.lists(_names, max_size=2))
    return _maybe(
        st.builds(
            Transcription,
            model=_maybe(st.sampled_from(["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"])),
            language=_maybe(st.sampled_from(["en", "fr", "de"])),
            prompt=_maybe(_short),
            languages=extra,
            keywords=extra,
            delay=st.none() if beta else _maybe(st.sampled_from(["low", "high"])),
        )
    )


def _tools(beta: bool) -> st.SearchStrategy[Any]:
    function = st.builds(
        FunctionTool,
        name=_names,
        description=_maybe(_short),
        parameters=_maybe(st.dictionaries(_names, _json, max_size=3)),
    )
    mcp = st.builds(
        McpTool,
        server_label=_names,
        server_url=_maybe(st.just("https://mcp.example/sse")),
        authorization=_maybe(st.just("sk-test-secret")),
        headers=_maybe(st.dictionaries(_names, _short, max_size=2)),
        require_approval=_maybe(st.sampled_from(["always", "never"])),
    )
    tool = function if beta else function | mcp
    return st.lists(tool, max_size=3)


def _tool_choices(beta: bool) -> st.SearchStrategy[Any]:
    modes = st.sampled_from(["auto", "none", "required"])
    if beta:
        return modes
    return (
        modes
        | st.builds(ToolChoiceFunction, name=_names)
        | st.builds(ToolChoiceMcp, server_label=_names, name=_maybe(_names))
    )


def realtime_options(*, dialect: Literal["ga", "beta", "xai"] = "ga") -> st.SearchStrategy[RealtimeOptions]:
    """Valid ``RealtimeOptions``, every field varied; shrinks towards the defaults.

    With ``dialect="beta"`` (or ``"xai"``), only states that wire dialect can
    express (the fields it lacks keep their defaults; xAI's own voices,
    transcription model and server VAD).
    """
    xai = dialect == "xai"
    beta = dialect == "beta" or xai
    formats = st.sampled_from([AudioPCM(), AudioPCMU(), AudioPCMA()])
    audio_input = st.builds(
        AudioInput,
        format=formats,
        noise_reduction=_maybe(
            st.builds(
                NoiseReduction,
                type=st.sampled_from(["near_field", "far_field"]),
                strength=st.none() if beta else _maybe(st.floats(0, 10)),
            )
        ),
        transcription=_transcriptions(beta, xai),
        turn_detection=turn_detections(beta=beta, xai=xai),
    )
    audio_output = st.builds(
        AudioOutput,
        format=formats,
        voice=voices(beta=beta, xai=xai),
        speed=_default_first(1.0, st.floats(0.25, 1.5)),
    )
    reasoning = _maybe(st.builds(Reasoning, effort=st.sampled_from(["low", "medium", "high"])))
    ga_only: dict[str, st.SearchStrategy[Any]] = (
        {"reasoning": reasoning}  # livekit's Azure conversion and xAI plugin carry it
        if beta
        else {
            "truncation": st.sampled_from(["auto", "disabled"])
            | st.builds(
                RetentionRatio,
                retention_ratio=st.floats(0, 1),
                token_limits=_maybe(st.builds(TokenLimits, post_instructions=_maybe(_ms))),
            ),
            "reasoning": reasoning,
            "include": st.sampled_from([[], ["item.input_audio_transcription.logprobs"]]),
            "prompt": _maybe(
                st.builds(
                    Prompt,
                    id=_names,
                    version=_maybe(st.just("2")),
                    variables=_maybe(st.dictionaries(_names, _short, max_size=2)),
                )
            ),
            "parallel_tool_calls": _maybe(st.booleans()),
        }
    )
    tracing = _maybe(
        st.just("auto") | st.builds(TracingConfig, workflow_name=_maybe(_names), group_id=_maybe(_names))
    )
    return st.builds(
        _make_options,
        model=_default_first("gpt-realtime", st.sampled_from(["gpt-realtime-1.5", "gpt-realtime-mini"])),
        instructions=_default_first("", st.text(max_size=40)),
        output_modalities=st.sampled_from([["audio"], ["text"]]),
        audio_input=audio_input,
        audio_output=audio_output,
        tools=_tools(beta),
        tool_choice=_tool_choices(beta),
        max_output_tokens=_default_first("inf", st.integers(1, 4096)),
        tracing=tracing,
        **ga_only,
    )


def _make_options(*, audio_input: Any, audio_output: Any, **kw: Any) -> RealtimeOptions:
    return RealtimeOptions(audio=Audio(input=audio_input, output=audio_output), **kw)


def leaf_paths(cls: type = RealtimeOptions) -> list[str]:
    """Every replace-leaf path of a record class, in declaration order."""
    out: list[str] = []

    def walk(c: type, prefix: str) -> None:
        for s in specs(c):
            if s.kind is MERGE:
                walk(s.record, f"{prefix}{s.name}.")  # type: ignore[arg-type]
            else:
                out.append(prefix + s.name)

    walk(cls, "")
    return out


@st.composite
def patches(
    draw: st.DrawFn,
    states: st.SearchStrategy[Any] | None = None,
    *,
    cls: type = RealtimeOptions,
) -> Patch:
    """Valid patches: some leaves of ``cls`` set to values drawn from ``states``.

    A patch may name a leaf with the value a given state already has (a no-op
    write). Shrinks towards the empty patch.
    """
    source = draw(states if states is not None else realtime_options())
    chosen = draw(st.lists(st.sampled_from(leaf_paths(cls)), unique=True, max_size=6))
    return _patch.patch(cls, {p: _patch.get(source, p) for p in chosen})


#: Neutral (JSON-like) values for the option each plugin keyword sets, simplest first.
_VALUES_AT: dict[str, st.SearchStrategy[Any]] = {
    "audio.output.voice": st.sampled_from(["alloy", "marin", "cedar", "ash"]),
    "audio.output.speed": st.sampled_from([1.0, 1.5, 0.75, 1.25]) | st.floats(0.25, 1.5),
    "audio.input.turn_detection": st.none()
    | st.builds(lambda t: {"type": "server_vad", "threshold": t}, st.sampled_from([0.5, 0.7, 0.9]))
    | st.builds(lambda e: {"type": "semantic_vad", "eagerness": e}, st.sampled_from(["auto", "high"])),
    "audio.input.transcription": st.none()
    | st.sampled_from([{"model": "gpt-4o-transcribe"}, {"model": "whisper-1", "language": "en"}]),
    "audio.input.noise_reduction": st.none()
    | st.sampled_from([{"type": "near_field"}, {"type": "far_field"}]),
    "tool_choice": st.sampled_from(["auto", "none", "required"]),
    "max_output_tokens": st.sampled_from(["inf", 100, 4096]) | st.integers(1, 4096),
    "tracing": st.none() | st.just("auto"),
    "truncation": st.sampled_from(["auto", "disabled"]),
}

#: Neutral (JSON-like) values for each plugin keyword (``PLUGIN_KEYWORDS``), simplest first.
PLUGIN_VALUES: dict[str, st.SearchStrategy[Any]] = {
    keyword: _VALUES_AT[path] for keyword, path in PLUGIN_KEYWORDS.items() if path in _VALUES_AT
}


#: The values of :data:`PLUGIN_VALUES` that differ in a dialect: xAI's voices, its
#: transcription model and its one kind of turn detection (``optstate.openai._dialects.XAI``).
_DIALECT_VALUES_AT: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "xai": {
        "audio.output.voice": st.sampled_from(["ara", "Eve", "rex", "sal", "Leo"]),
        "audio.input.turn_detection": st.none()
        | st.builds(lambda t: {"type": "server_vad", "threshold": t}, st.sampled_from([0.5, 0.7, 0.9])),
        "audio.input.transcription": st.none() | st.just({"model": "grok-transcribe"}),
    },
}

DIALECT_VALUES: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    dialect: {keyword: table[path] for keyword, path in PLUGIN_KEYWORDS.items() if path in table}
    for dialect, table in _DIALECT_VALUES_AT.items()
}


def plugin_writes(
    keywords: Sequence[str] | None = None, *, dialect: str = "ga"
) -> st.SearchStrategy[dict[str, Any]]:
    """``update_options`` keyword arguments in a plugin's own vocabulary (``voice``,
    ``speed``, ``turn_detection``, … as in ``optstate.openai.PLUGIN_KEYWORDS``), one or more
    at a time, with neutral JSON-like values including ``None`` clears, as the
    wire ``dialect`` takes them (:data:`DIALECT_VALUES`). Shrinks towards a single
    keyword with its simplest value."""
    values = {**PLUGIN_VALUES, **DIALECT_VALUES.get(dialect, {})}
    names = [k for k in (keywords or PLUGIN_VALUES) if k in values]
    return st.fixed_dictionaries({}, optional={k: values[k] for k in names}).filter(bool)


st.register_type_strategy(RealtimeOptions, realtime_options())
