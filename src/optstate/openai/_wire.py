"""``session.update`` on the wire: GA and the flat dialects, both ways.

* ``ga``: the nested GA session (``type: "realtime"``, ``audio.input/output``).
* ``beta``: the older flat session still used by Azure deployments pinned to an
  ``api-version``; its names and differences are its table in :mod:`._dialects`.
* ``xai``: xAI's Voice Agent session (GA, with ``voice`` and ``turn_detection``
  at the top level), its table and value rules in :mod:`._dialects`.

A flat dialect is the GA JSON renamed by its table in :mod:`._dialects`. A
value that it cannot express (an MCP tool, a custom voice id, truncation,
reasoning, …) raises :class:`~optstate.UnsupportedInDialect` when it differs
from the default; at its default it is simply left out, because the beta
server behaves that way already.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from pyrsistent import pmap, pvector

from .._errors import InvalidOption
from .._patch import Patch, full_patch
from .._record import MERGE, specs
from .._unknown import Unknown, reading, unknown_at
from ._dialects import FLAT_DIALECTS
from ._extra import (
    SERVER_ONLY,
    extra_at,
    holds_at,
    keep,
    overlay,
    overlay_field,
    record_fields,
    split,
    wire_keys,
)
from ._schema import RealtimeOptions
from ._values import NotAField, to_json, to_wire

__all__ = ["Dialect", "decode", "decode_update", "encode", "encode_session"]

Dialect = Literal["ga", "beta", "xai"]


def _check_dialect(dialect: str) -> None:
    if dialect != "ga" and dialect not in FLAT_DIALECTS:
        raise InvalidOption("dialect", dialect, _DIALECT_RULE)


_DIALECT_RULE = "must be " + " or ".join(repr(d) for d in ("ga", *FLAT_DIALECTS))


# -- encode -----------------------------------------------------------------------------


def encode(change: Patch, dialect: Dialect = "ga", *, event_id: str | None = None) -> dict[str, Any] | None:
    """The ``session.update`` event for ``change``, ready for ``json.dumps``.

    Returns ``None`` for an empty patch: no change, no event. Null clears stay
    null, ``instructions=""`` and ``tools=[]`` stay as they are. A patch holding
    an :class:`~optstate.openai.Unknown` (a server's value optstate does not
    model) raises :class:`~optstate.InvalidOption` naming its path: it is never
    sent back.
    """
    if dialect != "ga":
        _check_dialect(dialect)
    if not change:
        return None
    if dialect == "ga":
        session: dict[str, Any] = {"type": "realtime"}
        _encode_ga(RealtimeOptions, change, session, False)
    else:
        session = FLAT_DIALECTS[dialect].encode_update(change.paths())
    return session_update(session, event_id)


def session_update(session: dict[str, Any], event_id: str | None) -> dict[str, Any]:
    """The ``session.update`` event carrying ``session`` (with ``event_id`` if given)."""
    event: dict[str, Any] = {"type": "session.update", "session": session}
    if event_id is not None:
        event["event_id"] = event_id
    return event


def copy_json(value: Any) -> Any:
    """A copy of a JSON tree: every dict and list in it new, the rest shared
    (strings, numbers, ``None`` are immutable)."""
    kind = type(value)
    if kind is dict:
        return {key: copy_json(item) for key, item in value.items()}
    if kind is list:
        return [copy_json(item) for item in value]
    return value


class Copies:
    """Fresh copies of one JSON object tree (a session object sent to many sessions).

    The first :data:`TEMPLATE_AFTER` copies walk the tree (:func:`copy_json`);
    after that, a small tree (at most :data:`TEMPLATE_NODES` dicts, lists and
    values) is copied by a function compiled for it, one dict and list display
    that Python builds without a call per node (the values are shared: they are
    immutable). A copy made either way equals the tree and shares no dict or
    list with it or with another copy.
    """

    __slots__ = ("_left", "_make", "_tree")

    def __init__(self, tree: dict[str, Any]) -> None:
        self._tree = copy_json(tree)  # kept untouched: the caller may change ``tree``
        self._left = TEMPLATE_AFTER
        self._make: Callable[[], dict[str, Any]] | None = None

    def __call__(self) -> dict[str, Any]:
        make = self._make
        if make is not None:
            return make()
        self._left -= 1
        if self._left == 0:
            self._make = _template(self._tree)
        return copy_json(self._tree)  # type: ignore[no-any-return]


#: How many copies :class:`Copies` makes by walking before it compiles a template.
TEMPLATE_AFTER: Final = 16
#: The largest tree (dicts, lists and values) :class:`Copies` compiles a template for.
TEMPLATE_NODES: Final = 64


def _template(tree: dict[str, Any]) -> Callable[[], dict[str, Any]] | None:
    """A function returning a fresh copy of ``tree`` (``None`` when it is too big)."""
    values: list[Any] = []

    def source(value: Any) -> str:
        if len(values) > TEMPLATE_NODES:
            raise _TooBig
        kind = type(value)
        if kind is dict:
            values.append(None)  # counts the node
            return "{" + ", ".join(f"{key!r}: {source(item)}" for key, item in value.items()) + "}"
        if kind is list:
            values.append(None)
            return "[" + ", ".join(source(item) for item in value) + "]"
        values.append(value)
        return f"v[{len(values) - 1}]"

    try:
        body = source(tree)
    except _TooBig:
        return None
    # The keys are JSON object keys (strings, shown with repr); values are indexed.
    made: Callable[[], dict[str, Any]] = eval(f"lambda v=v: {body}", {"v": tuple(values)})
    return made


class _TooBig(Exception):
    pass


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
    by index, onto the tool at that index if there is one. In a flat dialect
    (``beta``) the GA nesting of ``audio`` means nothing, except that what was
    kept inside an option the dialect has (``turn_detection``,
    ``transcription``, ``noise_reduction``, …) goes back under its flat name.
    An :class:`~optstate.openai.Unknown` goes back as the raw JSON it holds.
    """
    _check_dialect(dialect)
    if dialect == "ga":
        session: dict[str, Any] = {"type": "realtime"}
        _encode_ga(RealtimeOptions, full_patch(state), session, True)
        overlay(session, state.extra, (RealtimeOptions,))
        return session
    flat = FLAT_DIALECTS[dialect]
    session = flat.encode(full_patch(state).paths(), keep=True)
    below = record_fields(RealtimeOptions)
    overlay(session, pmap({k: v for k, v in state.extra.items() if k not in below}), (RealtimeOptions,))
    for path, option in flat.options.items():
        holds = holds_at(RealtimeOptions, path)
        more = extra_at(state.extra, path)
        if holds is not None and more is not None:
            overlay_field(session.get(option.key), more, holds)
    return session


def _encode_ga(cls: type, change: Patch, out: dict[str, Any], keep: bool) -> None:
    """``change`` (a patch of records of ``cls``) into ``out``, in GA shape; an
    :class:`Unknown` as its raw JSON when ``keep``, else an InvalidOption."""
    plan = _GA_PLANS.get(cls)
    if plan is None:
        plan = _GA_PLANS[cls] = {
            s.name: (s.wire, s.record if s.kind is MERGE else None) for s in specs(cls)
        }  # fmt: skip
    for name, value in change._changes.items():
        step = plan.get(name)
        if step is None:
            raise InvalidOption(name, value, f"is not an option of {cls.__name__}")
        wire, record = step
        if record is not None:
            sub: dict[str, Any] = {}
            try:
                _encode_ga(record, value, sub, keep)
            except InvalidOption as e:
                raise e.located(wire) from None
            out[wire] = sub
        elif value is None or type(value) in _SCALARS:
            out[wire] = value
        elif keep:
            out[wire] = to_json(value)
        else:
            try:
                out[wire] = to_wire(value)
            except InvalidOption as e:
                raise e.located(wire) from None


#: Per record class: field name -> (wire name, the merge node's record class or None).
_GA_PLANS: dict[type, dict[str, tuple[str, type | None]]] = {}
_SCALARS = frozenset({str, int, float, bool})


# -- decode -----------------------------------------------------------------------------


def decode(session: Mapping[str, Any], dialect: Dialect = "ga") -> RealtimeOptions:
    """The options state a server's session object describes.

    Takes the ``session`` of a ``session.created``/``session.updated`` event.
    Missing fields take their defaults; a null where the option cannot be null
    means the server's default too. Server-only fields (``id``, ``object``,
    ``expires_at``, …) are ignored.

    What optstate does not model never makes it fail (a newer server):

    * a *value* it cannot hold (an input rate of 16000, an ``audio/opus``
      format, a turn detection type ``semantic_vad_v2``, a new ``tool_choice``
      mode, ``include`` value or modality, a speed out of today's range) is
      kept as an :class:`~optstate.openai.Unknown` holding the raw JSON, at the
      smallest enclosing replace leaf (the whole ``audio.input.format``; for
      ``tools``, the one tool, so the known tools stay records);
    * a *field* it does not know is kept in ``extra``, nested at its wire
      path, so :func:`encode_session` gives it back. That holds at the top
      level, in ``audio``, ``audio.input`` and ``audio.output``, and inside
      record-valued options: an unknown key in ``turn_detection`` (say
      ``{"type": "server_vad", …, "new_knob": 3}``) decodes the known part as
      usual and keeps ``extra == {"audio": {"input": {"turn_detection":
      {"new_knob": 3}}}}``; likewise in ``noise_reduction``,
      ``transcription``, both audio ``format`` options, ``voice``,
      ``tool_choice``, ``tracing``, ``truncation``, ``reasoning``, ``prompt``
      and each tool (``extra["tools"]`` is then a list with one object per
      tool, ``{}`` for a tool with nothing unknown). In a tagged union
      (``turn_detection``, ``format``, tools, …) a key is unknown when the
      member the ``type`` names does not know it. In a flat dialect
      (``beta``), what is kept inside an option goes at its GA path, and an
      ``Unknown`` holds the flat JSON.

    Only data that is not JSON raises :class:`~optstate.InvalidOption`,
    naming its wire path: a non-finite number, a key that is no string, data
    nested too deep; so does a merge node (``audio``, ``audio.input``,
    ``audio.output``) that is no object.
    """
    _check_dialect(dialect)
    if not isinstance(session, Mapping):
        raise InvalidOption("session", session, "must be an object")
    extra: dict[str, Any] = {}
    with reading():
        if dialect != "ga":
            unknown: dict[Any, Any] = {}
            session = FLAT_DIALECTS[dialect].to_ga(session, extra=unknown)
            for key, raw in unknown.items():
                keep(extra, key, raw, "")
        return _decode_record(RealtimeOptions, session, "", extra)  # type: ignore[no-any-return]


def decode_update(session: Mapping[str, Any], dialect: Dialect = "ga") -> Patch:
    """The patch a ``session.update``'s ``session`` object carries: exactly the
    fields present in it (``null`` is a real value: clear). The inverse of
    :func:`encode`: ``decode_update(encode(p)["session"]) == p``.

    A value optstate cannot model is kept as an
    :class:`~optstate.openai.Unknown` at its leaf, as by :func:`decode` (apply
    such a patch inside ``optstate._unknown.reading()``, as a server
    model does). A field or key that is no option, or data that is not JSON,
    raises :class:`~optstate.InvalidOption` naming its wire path.
    """
    _check_dialect(dialect)
    if not isinstance(session, Mapping):
        raise InvalidOption("session", session, "must be an object")
    with reading():
        if dialect != "ga":
            session = FLAT_DIALECTS[dialect].to_ga(session, strict=True)
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
        changes[s.name] = _decode_leaf(s, raw, path, strict_keys=True)
    return Patch(changes)


def _decode_leaf(s: Any, raw: Any, path: str, *, strict_keys: bool = False) -> Any:
    """The value of the replace leaf ``s`` from its JSON ``raw`` (at wire
    ``path``), decoded, converted and validated as a write would be, except
    that what optstate cannot model becomes an :class:`Unknown` (inside a list
    of records, element by element). Only data that is no JSON raises (and,
    when ``strict_keys``, a key that is no field of its record)."""
    a = s.attribute
    try:
        value = raw if raw is None or s.decode is None else s.decode(raw)
        if a.converter is not None:
            value = a.converter(value)
        if a.validator is not None:
            a.validator(None, a, value)
    except NotAField as e:
        if strict_keys:
            raise e.located(path) from None
        return unknown_at(raw, path)
    except InvalidOption:
        return unknown_at(raw, path)
    return value


def _decode_record(cls: type, obj: Mapping[Any, Any], prefix: str, extra: dict[str, Any]) -> Any:
    """The record of ``cls`` (a merge node or the root) that the JSON object
    ``obj`` describes. What optstate does not know in it goes into ``extra``
    (nested in wire shape); the root keeps that in its own ``extra``."""
    for key, raw in obj.items():
        if key not in wire_keys(cls) and not (cls is RealtimeOptions and key in SERVER_ONLY):
            keep(extra, key, raw, prefix)
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
        unknown = None
        known = raw
        if s.wire in below:
            known, unknown = split(raw, below[s.wire], path)
        value = _decode_leaf(s, known, path)
        if type(value) is Unknown:
            value, unknown = unknown_at(raw, path), None  # kept whole, unknown keys and all
        elif unknown is not None and below[s.wire][1]:
            value, unknown = _whole_unknown_items(value, raw, unknown, path)
        kwargs[s.name] = value
        if unknown:
            extra[s.wire] = unknown
    if not prefix and extra:
        kwargs["extra"] = pmap(extra)
    try:
        return cls(**kwargs)
    except InvalidOption as e:
        raise e.located(prefix[:-1]) from None


def _whole_unknown_items(value: Any, raw: Any, unknown: Any, path: str) -> tuple[Any, Any]:
    """For a list leaf (``tools``): each element decoded as an :class:`Unknown`
    holds its whole raw JSON, its unknown keys included, rather than keeping
    them in ``extra``."""
    if not any(type(v) is Unknown and i < len(unknown) and unknown[i] for i, v in enumerate(value)):
        return value, unknown
    items = list(value)
    kept = list(unknown)
    for i, v in enumerate(items):
        if type(v) is Unknown and i < len(kept) and kept[i]:
            items[i] = unknown_at(raw[i], f"{path}[{i}]")
            kept[i] = pmap()
    while kept and not kept[-1]:
        kept.pop()
    return pvector(items), (pvector(kept) if kept else None)


def _nullable(a: Any) -> bool:
    """Whether the field takes ``None`` (null) as a value."""
    if a.validator is None:
        return True
    try:
        a.validator(None, a, None)
    except InvalidOption:
        return False
    return True
