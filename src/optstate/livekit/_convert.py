"""livekit-plugins-openai option values <-> optstate values.

The only place in optstate that knows livekit's ``NOT_GIVEN`` and the forms the
plugin's ``update_options`` keywords take, in both directions: into optstate
(:func:`to_leaf`, :func:`to_change`, :func:`state_from_opts`, used by the
adapter) and out of it (:func:`from_leaf` for the plugin's ``_opts`` mirrors,
:func:`from_json` for the values the harness driver hands the plugin):

================================  ==============================  =====================================
livekit keyword                   optstate path                   livekit forms accepted
================================  ==============================  =====================================
``voice``                         ``audio.output.voice``          ``str``
``speed``                         ``audio.output.speed``          ``float``
``turn_detection``                ``audio.input.turn_detection``  GA ``ServerVad``/``SemanticVad``, beta
                                                                  ``TurnDetection``, ``dict``, ``None``
``input_audio_transcription``     ``audio.input.transcription``   GA ``AudioTranscription``, beta
                                                                  ``InputAudioTranscription``, ``None``
``input_audio_noise_reduction``   ``audio.input.noise_reduction``  ``"near_field"``/``"far_field"``, GA
                                                                  ``NoiseReduction``, beta, ``None``
``tool_choice``                   ``tool_choice``                 ``"auto"``/``"none"``/``"required"``,
                                                                  ``{"type": "function", "function":
                                                                  {"name": ...}}``, ``None`` (= auto)
``max_response_output_tokens``    ``max_output_tokens``           ``int``, ``"inf"``, ``None`` (= inf)
``tracing``                       ``tracing``                     ``"auto"``, ``TracingConfiguration``,
                                                                  ``None`` (off)
``truncation``                    ``truncation``                  ``"auto"``/``"disabled"``, retention
                                                                  ratio, ``None`` (= auto)
``reasoning`` (1.8+)              ``reasoning``                   ``RealtimeReasoning``, ``None``
================================  ==============================  =====================================

``None`` clears where the server has a null (turn detection, transcription, noise
reduction, tracing, reasoning); for the three options that have no null on the
wire it means what the plugin's own full ``session.update`` means by leaving
the option out: the server's default. optstate records and JSON ``dict`` forms
are accepted too. ``temperature`` is accepted and ignored, as the plugin does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from livekit.agents.utils import is_given
from openai.types.beta.realtime.session import TurnDetection as BetaTurnDetection
from openai.types.realtime import AudioTranscription, RealtimeTruncationRetentionRatio
from openai.types.realtime.realtime_audio_config_input import NoiseReduction
from openai.types.realtime.realtime_audio_input_turn_detection import SemanticVad, ServerVad
from openai.types.realtime.realtime_tracing_config import TracingConfiguration
from pydantic import BaseModel

from .. import InvalidOption, Patch, apply, patch
from .._patch import EMPTY, check_leaf, one_leaf
from .._record import MERGE, FieldSpec, specs_by_name
from ..openai import PLUGIN_KEYWORDS, Dialect, RealtimeOptions, ToolChoiceFunction, decode_update, to_json

_REASONING: type[BaseModel] | None
try:  # newer openai packages only; the plugins that take `reasoning` need it
    from openai.types.realtime import RealtimeReasoning as _REASONING
except ImportError:  # pragma: no cover - depends on the installed openai package
    _REASONING = None

__all__ = [
    "IGNORED",
    "PATHS",
    "TRANSCRIPTION",
    "from_json",
    "from_leaf",
    "keyword_of",
    "mirror_leaf",
    "state_from_opts",
    "stock_update_paths",
    "to_change",
    "to_leaf",
    "tool_records",
    "tools_to_json",
]

#: livekit ``update_options`` keyword -> the optstate option it sets, plus the
#: fields update_instructions() and update_tools() set.
PATHS: Final[Mapping[str, str]] = {
    **PLUGIN_KEYWORDS,
    "instructions": "instructions",
    "tools": "tools",
}

#: The keyword (and ``_opts`` attribute) of input transcription, which the plugin's
#: capabilities follow.
TRANSCRIPTION: Final = next(kw for kw, path in PLUGIN_KEYWORDS.items() if path == "audio.input.transcription")

#: Keywords the plugin accepts and the Realtime API ignores ("deprecated, unused in v1").
IGNORED: Final = frozenset({"temperature"})

#: What ``None`` means for the options that have no null on the wire.
_NONE_MEANS: Final[Mapping[str, Any]] = {
    "tool_choice": "auto",  # the plugin's to_oai_tool_choice(None)
    "max_response_output_tokens": "inf",
    "truncation": "auto",
}

_KEYWORDS_BY_PATH: Final = {path: kw for kw, path in PATHS.items()}


def keyword_of(path: str) -> str:
    """The livekit name of an optstate path (``audio.output.speed`` -> ``speed``)."""
    for prefix, kw in _KEYWORDS_BY_PATH.items():
        if path == prefix or path.startswith((prefix + ".", prefix + "[")):
            return kw + path[len(prefix) :]
    return path


_SERVER_VAD_FIELDS: Final = frozenset(ServerVad.model_fields)
_SEMANTIC_VAD_FIELDS: Final = frozenset(SemanticVad.model_fields)


def _dump(value: BaseModel) -> Any:
    return value.model_dump(mode="json", by_alias=True, exclude_none=True, warnings=False)


def _from_livekit(keyword: str, value: Any) -> Any:
    """The optstate (JSON or record) form of one livekit value."""
    if value is None:
        return _NONE_MEANS.get(keyword)
    if keyword == "input_audio_noise_reduction" and type(value) is str:
        return {"type": value}
    if keyword == "tool_choice" and isinstance(value, Mapping) and "function" in value:
        # livekit's NamedToolChoice {"type": "function", "function": {"name": ...}}
        fn = value["function"]
        return {"type": value.get("type"), "name": fn.get("name") if isinstance(fn, Mapping) else fn}
    if keyword == "turn_detection" and isinstance(value, BetaTurnDetection):
        # The beta class holds the fields of both kinds; keep those of its own kind,
        # as the plugin's to_turn_detection does.
        kept = {"server_vad": _SERVER_VAD_FIELDS, "semantic_vad": _SEMANTIC_VAD_FIELDS}.get(
            str(value.type), frozenset(_dump(value))
        )
        return {k: v for k, v in _dump(value).items() if k in kept}
    if type(value) in _PLAIN:
        return value  # the common case, without pydantic's isinstance machinery
    if isinstance(value, BaseModel):
        return _dump(value)
    return value


_PLAIN: Final = frozenset({str, int, float, bool})


def _renamed(e: InvalidOption, path: str, keyword: str) -> InvalidOption:
    """``e`` with its optstate path replaced by the livekit keyword."""
    if e.path == path or e.path.startswith((path + ".", path + "[")):
        where = keyword + e.path[len(path) :]
    elif e.path:
        where = f"{keyword}.{e.path}"
    else:
        where = keyword
    return type(e)(where, e.value, e.rule)


def to_leaf(keyword: str, value: Any) -> tuple[str, Any]:
    """``(optstate path, validated value)`` for one livekit keyword and value.

    Raises :class:`~optstate.InvalidOption` naming the livekit keyword (and the
    field inside it) and the bad value.
    """
    path = PATHS[keyword]
    return path, _checked(keyword, value, path, _leaf_spec(path)[1])


def _checked(keyword: str, value: Any, path: str, spec: FieldSpec) -> Any:
    """``value`` (a livekit one) converted and validated for the leaf ``spec`` at ``path``."""
    try:
        return check_leaf(spec, _from_livekit(keyword, value), path)
    except InvalidOption as e:
        raise _renamed(e, path, keyword) from None
    except (TypeError, ValueError, AttributeError, KeyError) as e:
        raise InvalidOption(keyword, value, f"is not a valid {keyword} ({e})") from None


def _leaf_patch(keyword: str, value: Any) -> Patch:
    """The validated one-leaf patch for one livekit keyword and value, built
    straight from the leaf's spec (the write path's hot spot)."""
    path = PATHS[keyword]
    names, spec = _leaf_spec(path)
    leaf = _checked(keyword, value, path, spec)
    return one_leaf(names, leaf)


def _leaf_spec(path: str) -> tuple[tuple[str, ...], FieldSpec]:
    """The names along a leaf path of ``RealtimeOptions`` and the leaf's spec."""
    found = _LEAVES.get(path)
    if found is None:
        names = tuple(path.split("."))
        cls: Any = RealtimeOptions
        for name in names[:-1]:
            cls = specs_by_name(cls)[name].record
        spec = specs_by_name(cls)[names[-1]]
        if spec.kind is MERGE:  # pragma: no cover - every keyword names a leaf
            raise AssertionError(f"{path} is not a leaf")
        found = _LEAVES[path] = (names, spec)
    return found


#: Leaf path -> (its names, its field spec), for :func:`_leaf_spec`.
_LEAVES: dict[str, tuple[tuple[str, ...], FieldSpec]] = {}


def to_change(values: Mapping[str, Any]) -> Patch:
    """One validated patch for livekit ``{keyword: value}`` (``NOT_GIVEN`` and
    ignored keywords left out). Nothing is built unless every value is valid:
    each keyword's one-leaf patch is validated, then they are composed."""
    change = EMPTY
    for keyword, value in values.items():
        if keyword in IGNORED or not is_given(value):
            continue
        one = _leaf_patch(keyword, value)
        change = one if change is EMPTY else change | one
    return change


def from_json(keyword: str, value: Any) -> Any:
    """A JSON option value (a neutral harness value) as the plugin's
    ``update_options`` takes it: the ``openai`` pydantic type where the plugin
    expects one, anything else as it is."""
    if value is None or not isinstance(value, Mapping):
        return value
    if keyword == "turn_detection":
        return (ServerVad if value.get("type") == "server_vad" else SemanticVad)(**value)
    if keyword == "input_audio_transcription":
        return AudioTranscription(**value)
    if keyword == "input_audio_noise_reduction":
        return NoiseReduction(**value)
    return value


def from_leaf(keyword: str, leaf: Any) -> Any:
    """The livekit form of an optstate value, as the plugin keeps it in ``_opts``."""
    if leaf is None:
        return None
    if keyword == "turn_detection":
        cls = ServerVad if getattr(type(leaf), "TYPE", None) == "server_vad" else SemanticVad
        return cls.model_validate(to_json(leaf))
    if keyword == "input_audio_transcription":
        return AudioTranscription.model_validate(to_json(leaf))
    if keyword == "input_audio_noise_reduction":
        return NoiseReduction.model_validate(to_json(leaf))
    if keyword == "tool_choice":
        if isinstance(leaf, ToolChoiceFunction):
            return {"type": "function", "function": {"name": leaf.name}}
        return to_json(leaf)
    if keyword == "tracing" and leaf != "auto":
        return TracingConfiguration.model_validate(to_json(leaf))
    if keyword == "truncation" and type(leaf) is not str:
        return RealtimeTruncationRetentionRatio.model_validate(to_json(leaf))
    if keyword == "reasoning" and _REASONING is not None:
        return _REASONING.model_validate(to_json(leaf))
    return to_json(leaf)


_UNREADABLE: Final[Any] = object()


def mirror_leaf(keyword: str, value: Any) -> Any:
    """The optstate value a livekit mirror value stands for (a sentinel that
    equals nothing when it cannot be read)."""
    try:
        return to_leaf(keyword, value)[1]
    except InvalidOption:
        return _UNREADABLE


def state_from_opts(opts: Any, base: RealtimeOptions | None = None) -> RealtimeOptions:
    """The options a plugin ``_RealtimeOptions`` (model or session) holds.

    Options the plugin version does not have keep their value in ``base``
    (default: the server's defaults).
    """
    leaves: dict[str, Any] = {"model": opts.model}
    modalities = getattr(opts, "modalities", None)
    if modalities is not None:
        leaves["output_modalities"] = ["audio"] if "audio" in modalities else ["text"]
    for keyword in PATHS:
        if hasattr(opts, keyword):
            path, leaf = to_leaf(keyword, getattr(opts, keyword))
            leaves[path] = leaf
    return apply(base if base is not None else RealtimeOptions(), patch(RealtimeOptions, leaves))


def stock_update_paths(event: Any, dialect: Dialect) -> frozenset[str]:
    """The option paths the plugin's own full ``session.update`` (a pydantic event
    or its dict) carries, serialised as the plugin's send task does: what the
    plugin's constructor sets, so what a connection must be sent."""
    if isinstance(event, BaseModel):
        event = event.model_dump(mode="json", by_alias=True, exclude_unset=True, warnings=False)
    session = event.get("session") if isinstance(event, Mapping) else None
    if not isinstance(session, Mapping):
        return frozenset()
    return frozenset(decode_update(session, dialect).paths())


def tools_to_json(oai_tools: list[Any]) -> list[Any]:
    """The plugin's converted tools (``RealtimeFunctionTool`` models) as JSON."""
    return [_dump(t) if isinstance(t, BaseModel) else t for t in oai_tools]


def tool_records(oai_tools: list[Any], index: int) -> tuple[tuple[Any, str], ...]:
    """``(record, name)`` for each of the plugin's converted tools (the
    conversion of one livekit tool: none or one), validated as a ``tools``
    write; an error names its place in the list, ``tools[index]`` on."""
    found = []
    for i, json in enumerate(tools_to_json(oai_tools)):
        try:
            record = to_leaf("tools", [json])[1][0]
        except InvalidOption as e:
            head = "tools[0]"
            where = f"tools[{index + i}]" + e.path[len(head) :] if e.path.startswith(head) else e.path
            raise type(e)(where, e.value, e.rule) from None
        found.append((record, str(json.get("name")) if isinstance(json, Mapping) else "None"))
    return tuple(found)
