"""Bad data for the tests of bad input (validation, server events, secrets), in one place.

``garbage`` is anything a caller or a server might hand over by mistake: wrong
types, out-of-range and non-finite numbers, a 1 MB string, unknown enum values,
nested containers with known and unknown keys, records of the wrong kind.
Known field and wire names are mixed into the keys so that Hypothesis gets past
the first check and into the nested validators.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import attrs
from hypothesis import strategies as st
from pyrsistent import pmap, pvector

import optstate
import optstate.openai._schema
from optstate import InvalidOption, Patch
from optstate._record import MERGE, specs
from optstate.openai import (
    Audio,
    AudioPCM,
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

#: Every record class a caller can build: the option records ``optstate.openai``
#: exports (its codec and Refusal are not options), so a new one is fuzzed at once.
RECORDS: list[type] = sorted(
    (
        cls
        for name in optstate.openai.__all__
        # The records the schema module defines (they report ``optstate.openai``).
        if attrs.has(cls := getattr(optstate.openai, name)) and name in optstate.openai._schema.__all__
    ),
    key=lambda cls: cls.__name__,
)

#: A string no error message, repr or log line may ever show.
SECRET = "sk-SECRET-0123456789"

#: One megabyte of text: a value must never be copied whole into a message.
HUGE = "x" * 1_000_000
HUGE_DICT_KEY = "k" * 1_000_000

#: Strings that are valid somewhere (enum values, tags): garbage elsewhere.
ENUMISH = [
    "",
    "audio",
    "text",
    "server_vad",
    "semantic_vad",
    "audio/pcm",
    "audio/pcmu",
    "pcm16",
    "g711_ulaw",
    "auto",
    "none",
    "required",
    "inf",
    "-inf",
    "nan",
    "mcp",
    "function",
    "retention_ratio",
    "disabled",
    "near_field",
    "far_field",
    "low",
    "xhigh",
    "alloy",
    "whisper-1",
    "item.input_audio_transcription.logprobs",
    "realtime",
    "session.updated",
    "\x00",
    "\ud800",
]


def _names(cls: type, seen: set[type] | None = None) -> set[str]:
    seen = seen if seen is not None else set()
    if cls in seen:
        return set()
    seen.add(cls)
    out: set[str] = set()
    for a in attrs.fields(cls):
        out.add(a.name)
    for s in specs(cls):
        out.add(s.wire)
        if s.record is not None:
            out |= _names(s.record, seen)
    return out


#: Every (record class, field name) pair.
RECORD_FIELDS: list[tuple[type, str]] = [(c, a.name) for c in RECORDS for a in attrs.fields(c)]

#: Every field and wire name of every record, and the names beta and servers use.
KNOWN_NAMES = sorted(
    set().union(*(_names(c) for c in RECORDS))
    | {
        "type",
        "id",
        "object",
        "session",
        "event_id",
        "error",
        "param",
        "voice",
        "modalities",
        "input_audio_transcription",
        "input_audio_noise_reduction",
        "max_response_output_tokens",
        "input_audio_format",
        "output_audio_format",
        "speed",
        "turn_detection",
    }
)

keys = st.sampled_from(KNOWN_NAMES) | st.text(max_size=6) | st.just("bogus")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, -1, 4096, 4097, 24000, 2**63, 10**100]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.25, 1.5, 1.5000001, 1e308]),
    st.text(max_size=12),
    st.sampled_from(ENUMISH),
    st.just(HUGE),
    st.binary(max_size=6),
    st.complex_numbers(max_magnitude=10),
    st.builds(object),
    st.just(Ellipsis),
    st.just(optstate.Patch()),
    st.sampled_from([RealtimeOptions(), ServerVad(), AudioPCM(), Audio(), VoiceId(id="v"), Reasoning()]),
    st.sampled_from([int, str, RealtimeOptions, print]),
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(keys, inner, max_size=4),
        st.dictionaries(st.integers(-2, 2) | st.none(), inner, max_size=2),
        st.frozensets(st.integers(0, 3), max_size=3),
        st.builds(pmap, st.dictionaries(keys, inner, max_size=3)),
        st.builds(pvector, st.lists(inner, max_size=3)),
        # A tagged-union shape with a known tag and garbage fields.
        st.builds(
            lambda tag, rest: {"type": tag, **rest},
            st.sampled_from(ENUMISH) | inner,
            st.dictionaries(keys, inner, max_size=3),
        ),
    )


#: Anything at all; shrinks towards ``None``.
garbage: st.SearchStrategy[Any] = st.recursive(scalars, _containers, max_leaves=12)

#: A dotted path that may or may not exist, or not be a string at all.
paths = st.one_of(
    st.sampled_from(
        [
            "",
            ".",
            "audio.",
            ".audio",
            "audio..output",
            "audio.output.speed.x",
            "audio.output.nope",
            "nope",
            "audio",
            "audio.input",
            "audio.output",
            "tools[0]",
            "tools.0",
            HUGE,
        ]
    ),
    st.lists(st.sampled_from(KNOWN_NAMES), min_size=1, max_size=4).map(".".join),
    st.integers(),
    st.none(),
    st.tuples(st.text(max_size=3)),
)


def leaf_and_node_paths(cls: type = RealtimeOptions) -> list[str]:
    """Every dotted path of ``cls``: merge nodes and replace leaves."""
    out: list[str] = []

    def walk(c: type, prefix: str) -> None:
        for s in specs(c):
            out.append(prefix + s.name)
            if s.kind is MERGE:
                walk(s.record, f"{prefix}{s.name}.")  # type: ignore[arg-type]

    walk(cls, "")
    return out


#: Writes as callers spell them: {path: value} with real and bad paths, garbage values.
write_maps = st.dictionaries(st.sampled_from(leaf_and_node_paths()) | paths, garbage, max_size=4)


@st.composite
def garbage_patches(draw: st.DrawFn, cls: type = RealtimeOptions, depth: int = 0) -> Patch:
    """A ``Patch`` built without validation: known and unknown names, garbage
    values, sub-patches where leaves belong and the other way round."""
    fields = specs(cls)
    names = st.sampled_from([f.name for f in fields]) | keys
    changes: dict[Any, Any] = {}
    for name in draw(st.lists(names, max_size=4, unique=True)):
        f = next((s for s in fields if s.name == name), None)
        if f is not None and f.kind is MERGE and depth < 3 and draw(st.booleans()):
            changes[name] = draw(garbage_patches(f.record, depth + 1))  # type: ignore[arg-type]
        else:
            changes[name] = draw(garbage | st.builds(Patch, st.dictionaries(keys, garbage, max_size=2)))
    return Patch(changes)


def head(path: str) -> str:
    """The first segment of a dotted path: ``tools`` for ``tools[2].name``."""
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def check_error(e: BaseException, *, roots: Iterable[Any] | None = None) -> None:
    """``e`` is a well-formed InvalidOption: a ValueError naming a path and the
    value, with a bounded message that shows no secret. With ``roots``, its path
    starts with one of them (the names the caller gave)."""
    assert isinstance(e, InvalidOption), f"{type(e).__name__} escaped: {e!r}"
    assert isinstance(e, ValueError)
    assert type(e.path) is str
    assert type(e.rule) is str
    assert e.rule
    message = str(e)
    assert len(message) < 2_000, "an error message copied a huge value"
    assert "(got " in message, message
    if len(e.path) <= 200:
        assert message.startswith(e.path or "options"), message
    assert SECRET not in message
    assert SECRET not in repr(e)
    if roots is not None:
        allowed = {head(str(r)) for r in roots} | {str(r) for r in roots}
        assert e.path == "" or head(e.path) in allowed or e.path in allowed, (e.path, allowed)


def contains_secret(value: Any) -> bool:
    """Whether SECRET occurs anywhere in ``value`` (a string or plain data)."""
    return SECRET in repr(value)


#: Where each record can be given in its JSON form: (path, class, how to wrap the dict).
DICT_FORMS: list[tuple[str, type, Any]] = [
    ("audio.input.transcription", Transcription, lambda d: d),
    ("audio.input.noise_reduction", NoiseReduction, lambda d: d),
    ("audio.input.turn_detection", ServerVad, lambda d: {"type": "server_vad", **d}),
    ("audio.input.turn_detection", SemanticVad, lambda d: {"type": "semantic_vad", **d}),
    ("audio.input.format", AudioPCM, lambda d: {"type": "audio/pcm", **d}),
    ("audio.output.voice", VoiceId, lambda d: d),
    ("tools", FunctionTool, lambda d: [{"type": "function", "name": "f", **d}]),
    ("tools", McpTool, lambda d: [{"type": "mcp", "server_label": "s", **d}]),
    ("tool_choice", ToolChoiceFunction, lambda d: {"type": "function", "name": "f", **d}),
    ("tool_choice", ToolChoiceMcp, lambda d: {"type": "mcp", "server_label": "s", **d}),
    ("tracing", TracingConfig, lambda d: d),
    ("truncation", RetentionRatio, lambda d: {"type": "retention_ratio", "retention_ratio": 0.5, **d}),
    (
        "truncation",
        TokenLimits,
        lambda d: {"type": "retention_ratio", "retention_ratio": 0.5, "token_limits": d},
    ),
    ("reasoning", Reasoning, lambda d: d),
    ("prompt", Prompt, lambda d: {"id": "p", **d}),
]

#: Every (path, wire field of the record given there as JSON, wrap) to fuzz.
DICT_FIELDS: list[tuple[str, str, Any]] = [
    (path, s.wire, wrap) for path, cls, wrap in DICT_FORMS for s in specs(cls)
]
