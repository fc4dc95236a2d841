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
api-versions (:data:`AZURE_API_VERSIONS`); GA (``/openai/v1/realtime``) is the
nested session.
It also carries ``reasoning``, as livekit-plugins-openai 1.8.9's Azure
conversion sends it (``_oai_session_to_azure`` in
``livekit/agents/llm/_realtime/openai.py`` maps every field it has, and
``reasoning`` 1:1, outside the ``openai`` package's beta model): the
dialect is what those Azure api-versions are sent, not only OpenAI's retired
beta shape. ``truncation``, ``include`` and ``prompt`` are not carried by
that conversion, so they have no flat name.

:data:`XAI` is xAI's Voice Agent session (``wss://api.x.ai/v1/realtime``): GA
names and nesting, except ``voice`` and ``turn_detection`` at the top level.
A key with dots is nested on the wire (``"audio.input.format"`` is
``{"audio": {"input": {"format": ...}}}``). Its table and its value rules
(:data:`XAI_VOICES`, :data:`XAI_TRANSCRIPTION_MODELS`, :func:`xai_check`)
say their sources.

To add a dialect: write its table next to these, reusing BETA's entries
where they agree and giving only the real differences their own
``out``/``back`` functions (and a ``check`` of the values its server
refuses); add it to :data:`FLAT_DIALECTS` and its name to
:data:`~optstate.openai.Dialect`.
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

__all__ = [
    "AZURE_API_VERSIONS",
    "BETA",
    "FLAT_DIALECTS",
    "XAI",
    "XAI_TRANSCRIPTION_MODELS",
    "XAI_VOICES",
    "Flat",
    "FlatDialect",
    "xai_check",
]


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
    """A flat session: which GA option paths it has, under which names (a
    dotted name is nested on the wire)."""

    name: str
    #: GA option path -> its flat form, for every option the dialect has.
    options: Mapping[str, Flat]
    #: Keys a session may carry with exactly this value (xAI's ``type: "realtime"``):
    #: never sent, skipped when read.
    fixed: Mapping[str, Any] = attrs.field(factory=dict)
    #: Raises InvalidOption (naming the wire path) for a value of a wire session the
    #: dialect's server refuses; run on every update :meth:`encode_update` makes.
    check: Callable[[Mapping[str, Any]], None] | None = None
    #: Flat key -> GA option path (derived).
    paths: Mapping[str, str] = attrs.field(init=False)
    #: The objects that nested keys live in (``"audio"``, ``"audio.input"``; derived).
    nested: frozenset[str] = attrs.field(init=False)

    @paths.default
    def _paths(self) -> Mapping[str, str]:
        return {flat.key: path for path, flat in self.options.items()}

    @nested.default
    def _nested(self) -> frozenset[str]:
        heads: set[str] = set()
        for flat in self.options.values():
            parts = flat.key.split(".")
            heads.update(".".join(parts[:i]) for i in range(1, len(parts)))
        return frozenset(heads)

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
                out = _out_keeping(flat, path, value)
            elif flat is not None:
                out = flat.out(path, value)
            elif value != _default(path):
                raise _unsupported(path, value, self.name)
            else:
                continue
            *heads, last = self.key(path).split(".")
            place = session
            for head in heads:
                place = place.setdefault(head, {})
            place[last] = out
        return session

    def encode_update(self, paths: Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`encode`, then :attr:`check`: a value the dialect's server refuses
        raises InvalidOption (UnsupportedInDialect for what it cannot say) naming
        the GA option path."""
        session = self.encode(paths)
        if self.check is not None:
            try:
                self.check(session)
            except InvalidOption as e:
                raise type(e)(self.ga_path(e.path), e.value, e.rule) from None
        return session

    def _items(self, session: Mapping[Any, Any], prefix: str = "") -> Any:
        """``(flat key, raw)`` for each value of ``session``, nested objects flattened."""
        for key, raw in session.items():
            dotted = prefix + str(key)
            if dotted in self.nested and isinstance(raw, Mapping):
                yield from self._items(raw, dotted + ".")
            else:
                yield dotted, raw

    def to_ga(
        self, session: Mapping[Any, Any], *, strict: bool = False, extra: dict[Any, Any] | None = None
    ) -> dict[str, Any]:
        """The GA form of a flat ``session``. Keys the dialect does not know raise
        when ``strict``; else they go into ``extra`` (when given), or to GA as
        they are when GA knows them (a flat server sending a GA field)."""
        paths: dict[str, Any] = {}
        for key, raw in self._items(session):
            path = self.paths.get(key)
            if path is not None:
                try:
                    paths[path] = self.options[path].back(key, raw)
                except InvalidOption:
                    if not is_reading():
                        raise
                    paths[path] = unknown_at(raw, key)  # a value of a newer server
            elif key in self.fixed:
                if strict and raw != self.fixed[key]:
                    raise InvalidOption(key, raw, f"must be {self.fixed[key]!r}")
            elif key in SERVER_ONLY:
                continue
            elif strict:
                raise InvalidOption(str(key), raw, f"is not an option of the {self.name} session")
            elif extra is not None:
                if key in _GA_NAMES or "." in key:  # GA's own name, or nested as in GA
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


def _voice_out(dialect: str) -> Callable[[str, Any], Any]:
    def out(path: str, value: Any) -> Any:
        if type(value) is not str:
            raise _unsupported(path, value, dialect, " (custom voice ids are GA only)")
        return value

    return out


def _function_tools_out(dialect: str) -> Callable[[str, Any], Any]:
    def out(path: str, value: Any) -> Any:
        for i, tool in enumerate(value):
            if type(tool) is not FunctionTool:
                raise _unsupported(f"tools[{i}]", tool, dialect, " (only function tools)")
        return to_json(value)

    return out


def _tool_mode_out(dialect: str) -> Callable[[str, Any], Any]:
    def out(path: str, value: Any) -> Any:
        if type(value) is not str:
            raise _unsupported(path, value, dialect, " (only 'auto', 'none', 'required')")
        return value

    return out


def _only(*allowed: str, tag: bool = False, dialect: str = "beta") -> Callable[[str, Any], Any]:
    """``out`` for a record-valued option of which the flat shape has just the
    keys ``allowed`` (and ``type`` when ``tag``); any other key set is unsupported."""

    def out(path: str, value: Any) -> Any:
        if value is None:
            return None
        found = to_json(value)
        for key in found:
            if key not in allowed and not (tag and key == "type"):
                raise _unsupported(f"{path}.{key}", found[key], dialect)
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
        "reasoning": Flat("reasoning"),
        "tools": Flat("tools", out=_function_tools_out("beta")),
        "tool_choice": Flat("tool_choice", out=_tool_mode_out("beta")),
        "max_output_tokens": Flat("max_response_output_tokens"),
        "output_modalities": Flat("modalities", out=_modalities_out, back=_modalities_back),
        "audio.output.voice": Flat("voice", out=_voice_out("beta")),
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

#: The Azure api-versions :data:`BETA` covers: livekit-plugins-openai's legacy Azure path
#: (``with_azure(..., api_version=...)``, ``/openai/realtime?api-version=...``) sends it
#: to them: ``2024-10-01-preview`` is the one livekit's ``with_azure`` docstring shows
#: (and optstate's tests use), ``2025-04-01-preview`` the later preview, ``2025-08-28``
#: the one livekit's own test of ``reasoning`` on the legacy path uses
#: (``tests/test_plugin_openai_realtime_reasoning.py`` in livekit/agents).
AZURE_API_VERSIONS = ("2024-10-01-preview", "2025-04-01-preview", "2025-08-28")


# -- the xAI dialect ---------------------------------------------------------------------
#
# Sources, each rule naming its own:
# [guide] docs.x.ai/docs/guides/voice/agent ("Session Parameters", "Voice Options",
#         "Audio Format", quick start): voice and turn_detection at the top level of
#         session.update; voices Eve, Ara, Rex, Sal, Leo; turn_detection {"type":
#         "server_vad"} or null; audio.input/output.format {type, rate}: audio/pcm at
#         8000-48000 Hz, audio/pcmu and audio/pcma at 8000 Hz; instructions; tools.
# [builder] docs.x.ai/developers/model-capabilities/audio/agent-builder: voice ids
#         eve/ara/rex/sal/leo (lower case); VAD threshold 0.0-1.0 and silence duration.
# [plugin] livekit-plugins-xai 1.8.9, livekit/plugins/xai/realtime/realtime_model.py:
#         _wrap_session_update hoists audio.output.voice and audio.input.turn_detection
#         to the top level and keeps the rest of the GA session (type "realtime", model,
#         output_modalities, audio.input.{format,noise_reduction,transcription},
#         audio.output.{format,speed}, max_output_tokens, tool_choice, tracing,
#         instructions, tools, reasoning); XAI_DEFAULT_TURN_DETECTION is server_vad with
#         threshold, prefix_padding_ms, silence_duration_ms, create_response,
#         interrupt_response; XAI_DEFAULT_INPUT_AUDIO_TRANSCRIPTION is grok-transcribe;
#         types.py GrokVoices lists 26 lower-case voice names.
# Options neither source has (truncation, include, prompt, parallel_tool_calls) have
# no xAI name: sent only at their default, i.e. never.

#: xAI's voices, compared case-insensitively ([guide] writes "Eve", [builder] "eve"):
#: the five [guide]/[builder] document and the 26 of [plugin]'s ``GrokVoices``.
XAI_VOICES = frozenset(
    {
        "eve", "ara", "rex", "sal", "leo",
        "carina", "zagan", "helix", "orion", "luna", "iris", "altair", "zenith", "perseus",
        "helios", "lux", "kepler", "rigel", "cosmo", "celeste", "ursa", "sirius", "lumen",
        "castor", "naksh", "atlas",
    }
)  # fmt: skip

#: The transcription models xAI takes ([plugin]'s default; no other is documented).
XAI_TRANSCRIPTION_MODELS = frozenset({"grok-transcribe"})

#: The server VAD settings xAI takes ([plugin]'s default turn detection; [builder]).
_XAI_VAD = ("threshold", "prefix_padding_ms", "silence_duration_ms", "create_response", "interrupt_response")

#: Audio formats ([guide] "Audio Format"): type -> the sample rates xAI takes.
_XAI_RATES: dict[str, range] = {
    "audio/pcm": range(8000, 48001),
    "audio/pcmu": range(8000, 8001),
    "audio/pcma": range(8000, 8001),
}


def _xai_format_out(path: str, value: Any) -> Any:
    """G.711 goes out with its one rate, 8000 ([guide]); PCM as GA has it."""
    found = to_json(value)
    if found.get("type") in ("audio/pcmu", "audio/pcma"):
        found["rate"] = 8000
    return found


def _xai_format_back(key: str, raw: Any) -> Any:
    """G.711's ``rate`` (always 8000) is not a field of optstate's records."""
    if isinstance(raw, Mapping) and raw.get("type") in ("audio/pcmu", "audio/pcma"):
        if raw.get("rate", 8000) != 8000:
            raise InvalidOption(f"{key}.rate", raw.get("rate"), "must be 8000 for G.711 ([guide])")
        return {k: v for k, v in raw.items() if k != "rate"}
    return raw


def xai_check(session: Mapping[str, Any]) -> None:
    """Raise InvalidOption (naming the wire path and value) for a value of an xAI
    wire ``session`` that xAI refuses: a voice not in :data:`XAI_VOICES`, turn
    detection other than ``server_vad``, a transcription model not in
    :data:`XAI_TRANSCRIPTION_MODELS`, an audio format or rate [guide] does not
    list. UnsupportedInDialect for a GA value xAI has no way to say (semantic VAD)."""
    voice = session.get("voice")
    if "voice" in session and not (isinstance(voice, str) and voice.lower() in XAI_VOICES):
        raise InvalidOption(
            "voice", voice, "must be one of xAI's voices (" + ", ".join(sorted(XAI_VOICES)) + ")"
        )
    vad = session.get("turn_detection")
    if isinstance(vad, Mapping) and vad.get("type") != "server_vad":
        raise UnsupportedInDialect("turn_detection.type", vad.get("type"), "xAI has 'server_vad' only")
    audio = session.get("audio")
    for side in ("input", "output"):
        where = audio.get(side) if isinstance(audio, Mapping) else None
        if not isinstance(where, Mapping):
            continue
        found = where.get("format")
        if isinstance(found, Mapping):
            rates = _XAI_RATES.get(found.get("type"))  # type: ignore[arg-type]
            path = f"audio.{side}.format"
            if rates is None:
                raise InvalidOption(f"{path}.type", found.get("type"), "must be " + ", ".join(_XAI_RATES))
            rate = found.get("rate", 24000 if found["type"] == "audio/pcm" else 8000)
            if type(rate) is not int or rate not in rates:
                raise InvalidOption(f"{path}.rate", rate, f"must be in {rates.start}-{rates.stop - 1} Hz")
        heard = where.get("transcription") if side == "input" else None
        if isinstance(heard, Mapping) and heard.get("model") not in XAI_TRANSCRIPTION_MODELS:
            model = heard.get("model")
            raise InvalidOption("audio.input.transcription.model", model, "must be 'grok-transcribe'")


XAI = FlatDialect(
    "xai",
    {
        "model": Flat("model"),  # [plugin]
        "instructions": Flat("instructions"),  # [guide]
        "tools": Flat("tools", out=_function_tools_out("xai")),  # [guide]; [plugin]: function tools
        "tool_choice": Flat("tool_choice", out=_tool_mode_out("xai")),  # [plugin]
        "max_output_tokens": Flat("max_output_tokens"),  # [plugin]
        "tracing": Flat("tracing"),  # [plugin]
        "reasoning": Flat("reasoning"),  # [plugin] (a constructor option)
        "output_modalities": Flat("output_modalities"),  # [plugin]
        "audio.output.voice": Flat("voice", out=_voice_out("xai")),  # [guide] top level
        "audio.output.speed": Flat("audio.output.speed"),  # [plugin]
        "audio.output.format": Flat("audio.output.format", out=_xai_format_out, back=_xai_format_back),
        "audio.input.format": Flat("audio.input.format", out=_xai_format_out, back=_xai_format_back),
        "audio.input.noise_reduction": Flat("audio.input.noise_reduction", out=_only("type", dialect="xai")),
        "audio.input.transcription": Flat(  # [plugin]: grok-transcribe
            "audio.input.transcription", out=_only("model", dialect="xai")
        ),
        "audio.input.turn_detection": Flat(  # [guide] top level; [plugin] its keys
            "turn_detection", out=_only(*_XAI_VAD, tag=True, dialect="xai")
        ),
    },
    fixed={"type": "realtime"},  # [plugin] sends it; [guide]'s examples leave it out, as optstate does
    check=xai_check,
)

#: Every flat dialect, by its name in :data:`~optstate.openai.Dialect`.
FLAT_DIALECTS: Mapping[str, FlatDialect] = {"beta": BETA, "xai": XAI}
