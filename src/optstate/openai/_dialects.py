"""The flat wire dialects: one name table each, and their few real differences.

GA nests the session (``audio.input.turn_detection``); a *flat* dialect names
some options at the top level (``turn_detection``, ``input_audio_transcription``,
``max_response_output_tokens``, …). A :class:`FlatDialect` is one table from GA
option path to :class:`Flat` (its flat name, and how its value differs, if it
does). Encoding and decoding are a rename of the GA JSON in both directions,
driven by that table (:meth:`FlatDialect.encode`, :meth:`FlatDialect.to_ga`);
an option the table does not list has no flat name and is sent only at its
default (else :class:`~optstate.UnsupportedInDialect`). Everything else that
needs a flat name is derived from these tables: the wire codec
(:mod:`._wire`), :meth:`~optstate.openai.OpenAICodec.param_path`, the test
server's error ``param`` paths (:mod:`optstate.server`) and the realtime
plugins' keyword names (:data:`~optstate.openai.PLUGIN_KEYWORDS`).

:data:`BETA` is the Realtime beta session, as the ``openai`` package models it
(``openai.types.beta.realtime.session_update_event``, which the tests validate
every beta event against) and as Azure OpenAI serves it at
``/openai/realtime?api-version=...&deployment=...`` for the preview
api-versions (``2024-10-01-preview``, the one the tests use, and
``2025-04-01-preview``); GA (``/openai/v1/realtime``) is the nested session.

To add a dialect (xAI's flat session, say): write its table next to
:data:`BETA`, reusing BETA's entries where they agree (``{**BETA.options,
"audio.output.voice": Flat("voice", out=...)}``) and giving only the real
differences their own ``out``/``back`` functions; add it to
:data:`FLAT_DIALECTS` and its name to :data:`~optstate.openai.Dialect`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
from pyrsistent import PVector, pvector

from .._errors import InvalidOption, UnsupportedInDialect
from .._record import MERGE, specs
from .._unknown import Unknown, is_reading, unknown_at
from ._extra import SERVER_ONLY
from ._schema import AudioPCM, AudioPCMA, AudioPCMU, FunctionTool, RealtimeOptions
from ._values import to_json, to_wire

__all__ = ["BETA", "FLAT_DIALECTS", "Flat", "FlatDialect"]


def _as_json(path: str, value: Any) -> Any:
    return to_json(value)


def _as_is(key: str, raw: Any) -> Any:
    return raw


@attrs.frozen
class Flat:
    """One option in a flat dialect: its flat ``key``; ``out`` gives the flat JSON
    of a GA field value at ``path`` (``out(path, value)``, raising
    UnsupportedInDialect for what the flat shape cannot express); ``back`` gives
    the GA JSON of the flat JSON value of ``key`` (``back(key, raw)``, raising
    InvalidOption when it is malformed)."""

    key: str
    out: Callable[[str, Any], Any] = _as_json
    back: Callable[[str, Any], Any] = _as_is


@attrs.frozen
class FlatDialect:
    """A flat session: which GA option paths it has, under which names."""

    name: str
    #: GA option path -> its flat form, for every option the dialect has.
    options: Mapping[str, Flat]
    #: Flat key -> GA option path (derived).
    paths: Mapping[str, str] = attrs.field(init=False)

    @paths.default
    def _paths(self) -> Mapping[str, str]:
        return {flat.key: path for path, flat in self.options.items()}

    def key(self, path: str) -> str:
        """The flat name of the GA option ``path`` (its own name if it has none)."""
        flat = self.options.get(path)
        return path if flat is None else flat.key

    def wire_path(self, path: str) -> str:
        """A dotted GA path (an option, or a place inside one) in flat names:
        ``"audio.input.turn_detection.threshold"`` -> ``"turn_detection.threshold"``."""
        return _rename(path, {p: f.key for p, f in self.options.items()})

    def ga_path(self, wire: str) -> str:
        """The inverse of :meth:`wire_path`."""
        return _rename(wire, self.paths)

    def encode(self, paths: Mapping[str, Any], *, keep: bool = False) -> dict[str, Any]:
        """The flat session for ``paths`` (GA option path -> field value). An
        :class:`~optstate.openai.Unknown` (a whole value, or an element of a
        list) goes as its raw JSON when ``keep`` (a server's view of its
        session), else raises :class:`~optstate.InvalidOption`: it is never sent."""
        session: dict[str, Any] = {}
        for path, value in paths.items():
            flat = self.options.get(path)
            if type(value) is Unknown or (isinstance(value, PVector) and _has_unknown(value)):
                if not keep:
                    try:
                        to_wire(value)
                    except InvalidOption as e:
                        raise e.located(path) from None
                session[self.key(path)] = _out_keeping(flat, path, value)
            elif flat is not None:
                session[flat.key] = flat.out(path, value)
            elif value != _default(path):
                raise _unsupported(path, value, self.name)
        return session

    def to_ga(
        self, session: Mapping[Any, Any], *, strict: bool = False, extra: dict[Any, Any] | None = None
    ) -> dict[str, Any]:
        """The GA form of a flat ``session``. Keys the dialect does not know raise
        when ``strict``; else they go into ``extra`` (when given), or to GA as
        they are when GA knows them (a flat server sending a GA field)."""
        paths: dict[str, Any] = {}
        for key, raw in session.items():
            path = self.paths.get(key)
            if path is not None:
                try:
                    paths[path] = self.options[path].back(key, raw)
                except InvalidOption:
                    if not is_reading():
                        raise
                    paths[path] = unknown_at(raw, key)  # a value of a newer server
            elif key in SERVER_ONLY:
                continue
            elif strict:
                raise InvalidOption(str(key), raw, f"is not an option of the {self.name} session")
            elif extra is not None:
                if key in _GA_NAMES:
                    paths[key] = raw
                else:
                    extra[key] = raw
        return _nest(RealtimeOptions, paths)


def _has_unknown(value: PVector[Any]) -> bool:
    return any(type(v) is Unknown for v in value)


def _out_keeping(flat: Flat | None, path: str, value: Any) -> Any:
    """The flat JSON of ``value``, its :class:`Unknown` parts as their raw JSON."""
    if type(value) is Unknown:
        return value.to_json()
    known = [v for v in value if type(v) is not Unknown]
    out = iter(to_json(known) if flat is None else flat.out(path, pvector(known)))
    return [v.to_json() if type(v) is Unknown else next(out) for v in value]


def _rename(path: str, names: Mapping[str, str]) -> str:
    for old, new in names.items():
        if path == old or path.startswith(old + "."):
            return new + path[len(old) :]
    return path


def _nest(cls: type, paths: Mapping[str, Any]) -> dict[str, Any]:
    """GA JSON from dotted paths: this level's keys in the order given, then
    the merge nodes in field order."""
    out = {p: v for p, v in paths.items() if "." not in p}
    for s in specs(cls):
        if s.kind is MERGE:
            head = s.wire + "."
            below = {p[len(head) :]: v for p, v in paths.items() if p.startswith(head)}
            if below:
                out[s.wire] = _nest(s.record, below)  # type: ignore[arg-type]
    return out


_GA_NAMES = frozenset(s.wire for s in specs(RealtimeOptions))
_DEFAULT = RealtimeOptions()


def _default(path: str) -> Any:
    found: Any = _DEFAULT
    for part in path.split("."):
        found = getattr(found, part)
    return found


def _unsupported(path: str, value: Any, dialect: str, what: str = "") -> UnsupportedInDialect:
    return UnsupportedInDialect(path, value, f"cannot be sent in the {dialect} dialect{what}")


# -- the beta dialect's differences ----------------------------------------------------

_BETA_FORMATS: dict[type, str] = {AudioPCM: "pcm16", AudioPCMU: "g711_ulaw", AudioPCMA: "g711_alaw"}
_FROM_BETA_FORMAT = {v: {"type": k.TYPE} for k, v in _BETA_FORMATS.items()}  # type: ignore[attr-defined]


def _format_out(path: str, value: Any) -> Any:
    return _BETA_FORMATS[type(value)]


def _format_back(key: str, raw: Any) -> Any:
    found = _FROM_BETA_FORMAT.get(raw) if type(raw) is str else None
    if found is None:
        raise InvalidOption(key, raw, "must be 'pcm16', 'g711_ulaw' or 'g711_alaw'")
    return dict(found)


def _modalities_out(path: str, value: Any) -> Any:
    return ["text"] if list(value) == ["text"] else ["text", "audio"]


def _modalities_back(key: str, raw: Any) -> Any:
    if not isinstance(raw, list | tuple | PVector) or not raw:
        raise InvalidOption(key, raw, "must be a non-empty list of 'text'/'audio'")
    return pvector(["audio"]) if "audio" in raw else pvector(["text"])


def _voice_out(path: str, value: Any) -> Any:
    if type(value) is not str:
        raise _unsupported(path, value, "beta", " (custom voice ids are GA only)")
    return value


def _function_tools_out(path: str, value: Any) -> Any:
    for i, tool in enumerate(value):
        if type(tool) is not FunctionTool:
            raise _unsupported(f"tools[{i}]", tool, "beta", " (only function tools)")
    return to_json(value)


def _tool_mode_out(path: str, value: Any) -> Any:
    if type(value) is not str:
        raise _unsupported(path, value, "beta", " (only 'auto', 'none', 'required')")
    return value


def _only(*allowed: str, tag: bool = False) -> Callable[[str, Any], Any]:
    """``out`` for a record-valued option of which the flat shape has just the
    keys ``allowed`` (and ``type`` when ``tag``); any other key set is unsupported."""

    def out(path: str, value: Any) -> Any:
        if value is None:
            return None
        found = to_json(value)
        for key in found:
            if key not in allowed and not (tag and key == "type"):
                raise _unsupported(f"{path}.{key}", found[key], "beta")
        return found

    return out


#: The turn detection settings beta has (both kinds of VAD).
_BETA_VAD = (
    "threshold", "prefix_padding_ms", "silence_duration_ms",
    "create_response", "interrupt_response", "eagerness",
)  # fmt: skip

BETA = FlatDialect(
    "beta",
    {
        "model": Flat("model"),
        "instructions": Flat("instructions"),
        "tracing": Flat("tracing"),
        "tools": Flat("tools", out=_function_tools_out),
        "tool_choice": Flat("tool_choice", out=_tool_mode_out),
        "max_output_tokens": Flat("max_response_output_tokens"),
        "output_modalities": Flat("modalities", out=_modalities_out, back=_modalities_back),
        "audio.output.voice": Flat("voice", out=_voice_out),
        "audio.output.speed": Flat("speed"),
        "audio.output.format": Flat("output_audio_format", out=_format_out, back=_format_back),
        "audio.input.format": Flat("input_audio_format", out=_format_out, back=_format_back),
        "audio.input.noise_reduction": Flat("input_audio_noise_reduction", out=_only("type")),
        "audio.input.transcription": Flat(
            "input_audio_transcription", out=_only("model", "language", "prompt")
        ),
        "audio.input.turn_detection": Flat(
            "turn_detection",
            out=_only(*_BETA_VAD, tag=True),
        ),
    },
)

#: Every flat dialect, by its name in :data:`~optstate.openai.Dialect`.
FLAT_DIALECTS: Mapping[str, FlatDialect] = {"beta": BETA}
