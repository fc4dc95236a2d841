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

from pyrsistent import PMap, PVector, pmap, pvector

from .._errors import InvalidOption, UnsupportedInDialect
from .._patch import Patch, full_patch
from .._record import MERGE, check_json, is_record, specs, to_frozen
from ._schema import (
    SERVER_ONLY,
    AudioInput,
    AudioPCM,
    AudioPCMA,
    AudioPCMU,
    FunctionTool,
    Holds,
    RealtimeOptions,
    record_fields,
    record_for,
    wire_keys,
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
    """The whole session object for ``state`` (every field), as a server shows it.

    The fields of ``state.extra`` (what :func:`decode` kept but optstate does
    not know) are put back where they were, with two rules: a field optstate
    encodes itself is never overwritten or shadowed (a key the record there
    knows is left out even when that record leaves it out, being ``None``),
    and keys kept from inside a record-valued option go back only while that
    option still holds a record of its kind: if it was changed to ``None`` or
    to a string mode (``turn_detection=None``, ``tracing="auto"``) there is
    nothing to put them in and they are left out; for ``tools`` they go back
    by index, onto the tool at that index if there is one. In ``beta`` the
    GA nesting of ``audio`` means nothing, except that what was kept inside
    ``turn_detection``, ``transcription`` and ``noise_reduction`` goes back
    under their beta names.
    """
    _check_dialect(dialect)
    if dialect == "ga":
        session: dict[str, Any] = {"type": "realtime"}
        _encode_ga(RealtimeOptions, full_patch(state), session)
        _overlay(session, state.extra, (RealtimeOptions,))
        return session
    session = _encode_beta(full_patch(state).paths())
    _overlay(session, state.extra.discard("audio"), (RealtimeOptions,))
    audio_in = state.extra.get("audio", pmap()).get("input", pmap())
    for name, beta in _BETA_INPUT_LEAVES.items():
        more, mine = audio_in.get(name), session.get(beta)
        if isinstance(more, PMap) and isinstance(mine, dict):
            _overlay(mine, more, _INPUT_LEAVES[name][0])
    return session


#: The record-valued ``audio.input`` options beta has, by their beta names.
_BETA_INPUT_LEAVES = {
    "turn_detection": "turn_detection",
    "transcription": "input_audio_transcription",
    "noise_reduction": "input_audio_noise_reduction",
}
_INPUT_LEAVES = record_fields(AudioInput)


def _overlay(out: dict[str, Any], extra: PMap[str, Any], classes: tuple[type, ...]) -> None:
    """Put the fields of ``extra`` (unknown to optstate) back into ``out``, the
    JSON object of a record of one of ``classes``: never over a key that record
    knows, and below a field that holds records only where ``out`` holds one."""
    cls = record_for(classes, out)
    if cls is None:
        return
    known = wire_keys(cls)
    below = record_fields(cls)
    for key, value in extra.items():
        if key in below:
            records, many = below[key]
            mine = out.get(key)
            if many and isinstance(mine, list) and isinstance(value, PVector):
                for item, more in zip(mine, value, strict=False):
                    if isinstance(item, dict) and isinstance(more, PMap):
                        _overlay(item, more, records)
            elif not many and isinstance(mine, dict) and isinstance(value, PMap):
                _overlay(mine, value, records)
        elif key not in known and key not in out:
            out[key] = to_json(value)


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
    ``expires_at``, …) are ignored.

    Fields optstate does not know (a newer API version) never make it fail:
    they are kept in ``extra``, nested at their wire path, so
    :func:`encode_session` gives them back. That holds at the top level, in
    ``audio``, ``audio.input`` and ``audio.output``, and inside record-valued
    options: an unknown key in ``turn_detection`` (say ``{"type":
    "server_vad", …, "new_knob": 3}``) decodes the known part as usual and
    keeps ``extra == {"audio": {"input": {"turn_detection": {"new_knob":
    3}}}}``; likewise in ``noise_reduction``, ``transcription``, both audio
    ``format`` options, ``voice``, ``tool_choice``, ``tracing``, ``truncation``,
    ``reasoning``, ``prompt`` and each tool (``extra["tools"]`` is then a list
    with one object per tool, ``{}`` for a tool with nothing unknown). In a
    tagged union (``turn_detection``, ``format``, tools, …) a key is unknown
    when the member the ``type`` names does not know it. In ``beta``, what is
    kept inside ``turn_detection``, ``input_audio_transcription`` and
    ``input_audio_noise_reduction`` goes at their GA paths.

    A malformed value raises :class:`~optstate.InvalidOption` naming its wire
    path: a known field of the wrong type or out of range, a ``type`` tag
    that names no record optstate knows (``turn_detection`` of type
    ``"new_vad"``: optstate cannot hold that option, so the whole session
    is refused), or an unknown field that is not JSON data.
    """
    _check_dialect(dialect)
    if not isinstance(session, Mapping):
        raise InvalidOption("session", session, "must be an object")
    extra: dict[str, Any] = {}
    if dialect == "beta":
        unknown: dict[Any, Any] = {}
        session = _beta_to_ga(session, extra=unknown)
        for key, raw in unknown.items():
            _keep(extra, key, raw, "")
    return _decode_record(RealtimeOptions, session, "", extra)  # type: ignore[no-any-return]


def _keep(extra: dict[str, Any], key: Any, raw: Any, prefix: str) -> None:
    """Keep ``raw``, the value of ``key`` that optstate does not know, in
    ``extra``: frozen, if it is JSON data (else InvalidOption at its path)."""
    if type(key) is not str:
        raise InvalidOption(prefix[:-1] or "session", key, "must have string keys")
    value = to_frozen(raw)
    check_json(prefix + key, value)
    extra[key] = value


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


def _decode_record(cls: type, obj: Mapping[Any, Any], prefix: str, extra: dict[str, Any]) -> Any:
    """The record of ``cls`` (a merge node or the root) that the JSON object
    ``obj`` describes. What optstate does not know in it goes into ``extra``
    (nested in wire shape); the root keeps that in its own ``extra``."""
    for key, raw in obj.items():
        if key not in wire_keys(cls) and not (cls is RealtimeOptions and key in SERVER_ONLY):
            _keep(extra, key, raw, prefix)
    below = record_fields(cls)
    kwargs: dict[str, Any] = {}
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
            more: dict[str, Any] = {}
            kwargs[s.name] = _decode_record(s.record, raw, path + ".", more)  # type: ignore[arg-type]
            if more:
                extra[s.wire] = pmap(more)
            continue
        if raw is None:
            if _nullable(s.attribute):
                kwargs[s.name] = None
            continue  # else null where the option cannot be null: the default
        if s.wire in below:
            raw, unknown = _split(raw, below[s.wire], path)
            if unknown:
                extra[s.wire] = unknown
        try:
            kwargs[s.name] = raw if s.decode is None else s.decode(raw)
        except InvalidOption as e:
            raise e.located(path) from None
    if not prefix and extra:
        kwargs["extra"] = pmap(extra)
    try:
        return cls(**kwargs)
    except InvalidOption as e:
        raise e.located(prefix[:-1]) from None


def _split(raw: Any, holds: Holds, path: str) -> tuple[Any, Any]:
    """``raw``, the JSON value of a record-valued option at ``path``, without
    the keys its record does not know; and those keys, nested in wire shape
    (for a list, one object per element, cut after the last that is not
    empty), or ``None``. A value that is no object, or whose ``type`` names no
    record, is left whole for the option's decoder to refuse."""
    records, many = holds
    if many:
        if not isinstance(raw, list | tuple | PVector):
            return raw, None
        pairs = [_split(item, (records, False), f"{path}[{i}]") for i, item in enumerate(raw)]
        kept = [pmap() if u is None else u for _, u in pairs]
        while kept and not kept[-1]:
            kept.pop()
        return [k for k, _ in pairs], pvector(kept) if kept else None
    if not isinstance(raw, Mapping):
        return raw, None
    cls = record_for(records, raw)
    if cls is None:
        return raw, None
    known = wire_keys(cls)
    below = record_fields(cls)
    out: dict[Any, Any] = {}
    unknown: dict[str, Any] = {}
    for key, value in raw.items():
        if key in known or type(key) is not str:  # a key that is no string: the decoder names it
            if key in below and value is not None:
                value, more = _split(value, below[key], f"{path}.{key}")
                if more:
                    unknown[key] = more
            out[key] = value
        else:
            _keep(unknown, key, value, path + ".")
    return out, pmap(unknown) if unknown else None


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
