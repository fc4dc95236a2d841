"""``session.update`` on the wire: GA and beta dialects, both ways.

* ``ga``: the nested GA session (``type: "realtime"``, ``audio.input/output``).
* ``beta``: the older flat session still used by Azure deployments pinned to an
  ``api-version`` (``voice``, ``turn_detection``, ``input_audio_transcription``,
  ``max_response_output_tokens``, ``modalities``, ``"pcm16"`` formats, …).

A value that beta cannot express (an MCP tool, a custom voice id, truncation,
reasoning, …) raises :class:`~optstate.UnsupportedInDialect` when it differs
from the default; at its default it is simply left out, because the beta
server behaves that way already.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pyrsistent import PMap, PVector, pvector

from .._errors import InvalidOption, UnsupportedInDialect
from .._patch import Patch, full_patch
from .._record import MERGE, is_record, specs, specs_by_name
from ._schema import (
    SERVER_ONLY,
    AudioPCM,
    AudioPCMA,
    AudioPCMU,
    FunctionTool,
    RealtimeOptions,
)

__all__ = ["Dialect", "decode", "decode_update", "encode", "encode_session", "to_json"]

Dialect = Literal["ga", "beta"]


def to_json(value: Any) -> Any:
    """The JSON form of a field value: records become objects (with their ``type``
    tag, ``None`` fields left out), persistent collections become lists and dicts."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, PVector | list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, PMap | dict):
        return {k: to_json(v) for k, v in value.items()}
    if is_record(value):
        tag = getattr(type(value), "TYPE", None)
        out: dict[str, Any] = {} if tag is None else {"type": tag}
        for s in specs(type(value)):
            v = getattr(value, s.name)
            if v is not None:
                out[s.wire] = to_json(v)
        return out
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _check_dialect(dialect: str) -> None:
    if dialect not in ("ga", "beta"):
        raise InvalidOption("dialect", dialect, "must be 'ga' or 'beta'")


# -- encode -----------------------------------------------------------------------------


def encode(change: Patch, dialect: Dialect = "ga", *, event_id: str | None = None) -> dict[str, Any] | None:
    """The ``session.update`` event for ``change``, ready for ``json.dumps``.

    Returns ``None`` for an empty patch: no change, no event. Null clears stay
    null, ``instructions=""`` and ``tools=[]`` stay as they are.
    """
    _check_dialect(dialect)
    if not change:
        return None
    if dialect == "ga":
        session: dict[str, Any] = {"type": "realtime"}
        _encode_ga(RealtimeOptions, change, session)
    else:
        session = _encode_beta(change.paths())
    event: dict[str, Any] = {"type": "session.update", "session": session}
    if event_id is not None:
        event["event_id"] = event_id
    return event


def encode_session(state: RealtimeOptions, dialect: Dialect = "ga") -> dict[str, Any]:
    """The whole session object for ``state`` (every field), as a server shows it."""
    _check_dialect(dialect)
    if dialect == "ga":
        session: dict[str, Any] = {"type": "realtime"}
        _encode_ga(RealtimeOptions, full_patch(state), session)
        _overlay(session, state.extra)
        return session
    session = _encode_beta(full_patch(state).paths())
    _overlay(session, state.extra.discard("audio"))  # GA nesting means nothing in beta
    return session


def _overlay(out: dict[str, Any], extra: PMap[str, Any]) -> None:
    """Put the fields of ``extra`` (unknown to optstate) back where they were;
    a field optstate encoded itself is never overwritten."""
    for key, value in extra.items():
        mine = out.get(key)
        if mine is None and key not in out:
            out[key] = to_json(value)
        elif isinstance(mine, dict) and isinstance(value, PMap):
            _overlay(mine, value)


def _encode_ga(cls: type, change: Patch, out: dict[str, Any]) -> None:
    plan = _GA_PLANS.get(cls)
    if plan is None:
        plan = _GA_PLANS[cls] = {
            s.name: (s.wire, s.record if s.kind is MERGE else None) for s in specs(cls)
        }  # fmt: skip
    for name, value in change.items():
        step = plan.get(name)
        if step is None:
            raise InvalidOption(name, value, f"is not an option of {cls.__name__}")
        wire, record = step
        if record is not None:
            sub: dict[str, Any] = {}
            _encode_ga(record, value, sub)
            out[wire] = sub
        elif value is None or type(value) in _SCALARS:
            out[wire] = value
        else:
            out[wire] = to_json(value)


#: Per record class: field name -> (wire name, the merge node's record class or None).
_GA_PLANS: dict[type, dict[str, tuple[str, type | None]]] = {}
_SCALARS = frozenset({str, int, float, bool})


_BETA_FORMATS: dict[type, str] = {AudioPCM: "pcm16", AudioPCMU: "g711_ulaw", AudioPCMA: "g711_alaw"}
_FROM_BETA_FORMAT = {v: k for k, v in _BETA_FORMATS.items()}
_DEFAULT = RealtimeOptions()


def _unsupported(path: str, value: Any, what: str = "") -> UnsupportedInDialect:
    return UnsupportedInDialect(path, value, f"cannot be sent in the beta dialect{what}")


def _beta_only(path: str, value: Any, allowed: tuple[str, ...], tag: bool) -> dict[str, Any]:
    out = to_json(value)
    for key in list(out):
        if key not in allowed and not (tag and key == "type"):
            raise _unsupported(f"{path}.{key}", out[key])
    return out  # type: ignore[no-any-return]


def _beta_value(path: str, value: Any) -> tuple[str, Any] | None:
    """(beta key, beta JSON value) for one GA leaf, or None to leave it out."""
    if path in ("model", "instructions", "tracing", "audio.output.speed"):
        return path.rpartition(".")[2], to_json(value)
    if path == "max_output_tokens":
        return "max_response_output_tokens", value
    if path == "output_modalities":
        return "modalities", ["text"] if list(value) == ["text"] else ["text", "audio"]
    if path in ("audio.input.format", "audio.output.format"):
        side = path.split(".")[1]
        return f"{side}_audio_format", _BETA_FORMATS[type(value)]
    if path == "audio.output.voice":
        if type(value) is not str:
            raise _unsupported(path, value, " (custom voice ids are GA only)")
        return "voice", value
    if path == "audio.input.noise_reduction":
        v = None if value is None else _beta_only(path, value, ("type",), False)
        return "input_audio_noise_reduction", v
    if path == "audio.input.transcription":
        allowed: tuple[str, ...] = ("model", "language", "prompt")
        v = None if value is None else _beta_only(path, value, allowed, False)
        return "input_audio_transcription", v
    if path == "audio.input.turn_detection":
        allowed = (
            "threshold", "prefix_padding_ms", "silence_duration_ms",
            "create_response", "interrupt_response", "eagerness",
        )  # fmt: skip
        v = None if value is None else _beta_only(path, value, allowed, True)
        return "turn_detection", v
    if path == "tools":
        for i, tool in enumerate(value):
            if type(tool) is not FunctionTool:
                raise _unsupported(f"tools[{i}]", tool, " (only function tools)")
        return "tools", to_json(value)
    if path == "tool_choice":
        if type(value) is not str:
            raise _unsupported(path, value, " (only 'auto', 'none', 'required')")
        return "tool_choice", value
    # truncation, reasoning, include, prompt, parallel_tool_calls: GA only.
    default: Any = _DEFAULT
    for part in path.split("."):
        default = getattr(default, part)
    if value == default:
        return None
    raise _unsupported(path, value)


def _encode_beta(paths: Mapping[str, Any]) -> dict[str, Any]:
    session: dict[str, Any] = {}
    for path, value in paths.items():
        found = _beta_value(path, value)
        if found is not None:
            session[found[0]] = found[1]
    return session


# -- decode -----------------------------------------------------------------------------


def decode(session: Mapping[str, Any], dialect: Dialect = "ga") -> RealtimeOptions:
    """The options state a server's session object describes.

    Takes the ``session`` of a ``session.created``/``session.updated`` event.
    Missing fields take their defaults; a null where the option cannot be null
    means the server's default too. Server-only fields (``id``, ``object``,
    ``expires_at``, …) are ignored. Fields optstate does not know (a newer API
    version) are kept in ``extra``, so :func:`encode_session` gives them back.
    A malformed value raises :class:`~optstate.InvalidOption` naming its wire path.
    """
    _check_dialect(dialect)
    if not isinstance(session, Mapping):
        raise InvalidOption("session", session, "must be an object")
    extra: dict[str, Any] = {}
    if dialect == "beta":
        session = _beta_to_ga(session, extra=extra)
    else:
        extra = _unknown(RealtimeOptions, session, SERVER_ONLY)
    return _decode_record(RealtimeOptions, session, "", extra)  # type: ignore[no-any-return]


def _unknown(cls: type, obj: Mapping[Any, Any], skip: frozenset[str] = frozenset()) -> dict[Any, Any]:
    """The keys of ``obj`` that are no field of ``cls`` (nor in ``skip``), looking
    into merge nodes: what ``decode`` keeps in ``extra``."""
    fields = {s.wire: s for s in specs(cls)}
    out: dict[Any, Any] = {}
    for key, raw in obj.items():
        s = fields.get(key)
        if s is None:
            if key not in skip:
                out[key] = raw
        elif s.kind is MERGE and isinstance(raw, Mapping):
            sub = _unknown(s.record, raw)  # type: ignore[arg-type]
            if sub:
                out[key] = sub
    return out


def decode_update(session: Mapping[str, Any], dialect: Dialect = "ga") -> Patch:
    """The patch a ``session.update``'s ``session`` object carries: exactly the
    fields present in it (``null`` is a real value: clear). The inverse of
    :func:`encode`: ``decode_update(encode(p)["session"]) == p``.

    A malformed value or a field that is no option raises
    :class:`~optstate.InvalidOption` naming its wire path.
    """
    _check_dialect(dialect)
    if not isinstance(session, Mapping):
        raise InvalidOption("session", session, "must be an object")
    if dialect == "beta":
        session = _beta_to_ga(session, strict=True)
    elif session.get("type", "realtime") != "realtime":
        raise InvalidOption("type", session.get("type"), "must be 'realtime'")
    return _decode_patch(RealtimeOptions, session, "", dialect == "ga")


def _decode_patch(cls: type, obj: Mapping[str, Any], prefix: str, strict: bool) -> Patch:
    fields = {s.wire: s for s in specs(cls)}
    changes: dict[str, Any] = {}
    for key, raw in obj.items():
        path = prefix + str(key)
        s = fields.get(key)
        if s is None:
            if strict and not (key == "type" and not prefix):
                raise InvalidOption(path, raw, f"is not an option of {cls.__name__}")
            continue
        if s.kind is MERGE:
            if not isinstance(raw, Mapping):
                raise InvalidOption(path, raw, "must be an object")
            sub = _decode_patch(s.record, raw, path + ".", strict)  # type: ignore[arg-type]
            if sub:
                changes[s.name] = sub
            continue
        try:
            value = raw if raw is None or s.decode is None else s.decode(raw)
            a = s.attribute
            if a.converter is not None:
                value = a.converter(value)  # type: ignore[operator]
            if a.validator is not None:
                a.validator(None, a, value)
        except InvalidOption as e:
            if e.path.startswith(s.name):
                raise InvalidOption(prefix + s.wire + e.path[len(s.name) :], e.value, e.rule) from None
            raise e.located(path) from None
        changes[s.name] = value
    return Patch(changes)


def _decode_record(
    cls: type, obj: Mapping[str, Any], prefix: str, extra: Mapping[str, Any] | None = None
) -> Any:
    kwargs: dict[str, Any] = {"extra": extra} if extra else {}
    for s in specs(cls):
        if s.wire not in obj:
            continue
        raw = obj[s.wire]
        path = prefix + s.wire
        if s.kind is MERGE:
            if raw is None:
                continue
            if not isinstance(raw, Mapping):
                raise InvalidOption(path, raw, "must be an object")
            kwargs[s.name] = _decode_record(s.record, raw, path + ".")  # type: ignore[arg-type]
            continue
        if raw is None:
            if _nullable(s.attribute):
                kwargs[s.name] = None
            continue  # else null where the option cannot be null: the default
        try:
            kwargs[s.name] = raw if s.decode is None else s.decode(raw)
        except InvalidOption as e:
            raise e.located(path) from None
    try:
        return cls(**kwargs)
    except InvalidOption as e:
        raise e.located(prefix[:-1]) from None


def _nullable(a: Any) -> bool:
    """Whether the field takes ``None`` (null) as a value."""
    if a.validator is None:
        return True
    try:
        a.validator(None, a, None)
    except InvalidOption:
        return False
    return True


def _beta_to_ga(
    beta: Mapping[str, Any], *, strict: bool = False, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The GA form of a beta session. Keys beta does not know raise when
    ``strict``; else they go into ``extra`` (when given), or to GA as they are
    when GA knows them (a beta server sending a GA field)."""
    ga: dict[str, Any] = {}
    audio_in: dict[str, Any] = {}
    audio_out: dict[str, Any] = {}

    def fmt(key: str) -> Any:
        raw = beta[key]
        cls = _FROM_BETA_FORMAT.get(raw) if type(raw) is str else None
        if cls is None:
            raise InvalidOption(key, raw, "must be 'pcm16', 'g711_ulaw' or 'g711_alaw'")
        return {"type": cls.TYPE}  # type: ignore[attr-defined]

    simple: dict[str, tuple[dict[str, Any], str, Callable[[str], Any]]] = {
        "model": (ga, "model", lambda k: beta[k]),
        "instructions": (ga, "instructions", lambda k: beta[k]),
        "tracing": (ga, "tracing", lambda k: beta[k]),
        "tools": (ga, "tools", lambda k: beta[k]),
        "tool_choice": (ga, "tool_choice", lambda k: beta[k]),
        "max_response_output_tokens": (ga, "max_output_tokens", lambda k: beta[k]),
        "modalities": (ga, "output_modalities", _modalities_from_beta(beta)),
        "voice": (audio_out, "voice", lambda k: beta[k]),
        "speed": (audio_out, "speed", lambda k: beta[k]),
        "output_audio_format": (audio_out, "format", fmt),
        "input_audio_format": (audio_in, "format", fmt),
        "input_audio_noise_reduction": (audio_in, "noise_reduction", lambda k: beta[k]),
        "input_audio_transcription": (audio_in, "transcription", lambda k: beta[k]),
        "turn_detection": (audio_in, "turn_detection", lambda k: beta[k]),
    }
    for key in beta:
        target = simple.get(key)
        if target is None and strict and key not in SERVER_ONLY:
            raise InvalidOption(str(key), beta[key], "is not an option of the beta session")
        if target is None and extra is not None and key not in SERVER_ONLY:
            if key in _GA_NAMES:
                ga[key] = beta[key]
            else:
                extra[key] = beta[key]
        if target is not None:
            into, name, get = target
            into[name] = get(key)
    audio: dict[str, Any] = {}
    if audio_in:
        audio["input"] = audio_in
    if audio_out:
        audio["output"] = audio_out
    if audio:
        ga["audio"] = audio
    return ga


_GA_NAMES = frozenset(s.wire for s in specs(RealtimeOptions))


def _modalities_from_beta(beta: Mapping[str, Any]) -> Callable[[str], Any]:
    def get(key: str) -> Any:
        raw = beta[key]
        if not isinstance(raw, list | tuple | PVector) or not raw:
            raise InvalidOption(key, raw, "must be a non-empty list of 'text'/'audio'")
        return pvector(["audio"]) if "audio" in raw else pvector(["text"])

    return get
