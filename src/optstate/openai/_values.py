"""How the schema's field values are checked and read from and written to JSON.

The field specifications in :mod:`._schema` use what is here: decoders (JSON
value -> field value, raising :class:`~optstate.InvalidOption` with a path
relative to the field), converters (the ``dict`` form of a record becomes the
record), validators, :func:`holding` (a record-valued field, its converter,
validator and decoder derived from its record classes) and :func:`to_json`
(field value -> JSON value).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
from pyrsistent import PMap, PVector, pmap, pvector

from .._errors import InvalidOption
from .._record import PVECTOR, is_record, specs
from .._record import leaf as _leaf
from .._unknown import Unknown, admit, admitting, is_reading, unknown_at
from .._validators import either, instance, optional, text, to_vector, vector_of

__all__ = [
    "Decoder",
    "NotAField",
    "holding",
    "leaf",
    "max_tokens",
    "modalities",
    "record_decoder",
    "redacted",
    "to_json",
    "to_wire",
    "voice_field",
]

Decoder = Callable[[Any], Any]
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def to_json(value: Any) -> Any:
    """The JSON form of a field value: records become objects (with their ``type``
    tag, ``None`` fields left out), persistent collections become lists and dicts,
    an :class:`~optstate.openai.Unknown` its raw JSON."""
    return _json(value, True)


def to_wire(value: Any) -> Any:
    """:func:`to_json` for a ``session.update``: an
    :class:`~optstate.openai.Unknown` (at any depth) raises
    :class:`~optstate.InvalidOption` (its path relative to ``value``), as
    optstate never sends back what it does not model."""
    return _json(value, False)


def _json(value: Any, keep: bool) -> Any:
    kind = type(value)
    if value is None or kind in _SCALARS:
        return value
    plan = _PLANS.get(kind)
    if plan is not None:  # a record: the common case, by exact type
        tag, fields = plan
        out: dict[str, Any] = {} if tag is None else {"type": tag}
        for name, wire in fields:
            v = getattr(value, name)
            if v is not None:
                out[wire] = v if type(v) in _SCALARS else _json(v, keep)
        return out
    if kind is PVECTOR or isinstance(value, PVector | list | tuple):
        try:
            return [_json(v, keep) for v in value]
        except InvalidOption as e:
            i = next((i for i, v in enumerate(value) if type(v) is Unknown), None)
            raise (e if i is None else e.located(f"[{i}]")) from None
    if kind is _PMAP or isinstance(value, PMap | dict):
        return {k: _json(v, keep) for k, v in value.items()}
    if is_record(value):
        _PLANS[kind] = (getattr(kind, "TYPE", None), tuple((s.name, s.wire) for s in specs(kind)))
        return _json(value, keep)
    if kind is Unknown:
        if keep:
            return value.to_json()
        raise InvalidOption("", value, _UNSENDABLE)
    raise TypeError(f"cannot encode {kind.__name__} as JSON")


#: Per record class: its ``type`` tag (or None) and its fields' (name, wire name).
_PLANS: dict[type, tuple[str | None, tuple[tuple[str, str], ...]]] = {}
_SCALARS = frozenset({str, int, float, bool})
_PMAP: type = type(pmap())
_UNSENDABLE = "is a value the server reported that optstate does not model; it cannot be sent"


def leaf(default: Any = attrs.NOTHING, *, validator: Validator | None = None, **kwargs: Any) -> Any:
    """:func:`optstate._record.leaf` for this schema: its validator lets an
    :class:`~optstate.openai.Unknown` in only while a server's report is read
    (:func:`~optstate._unknown.admit`)."""
    return _leaf(default, validator=admitting(validator), **kwargs)


def redacted(value: Any) -> str:
    """The repr of a secret: never its value."""
    return "'<redacted>'" if value is not None else "None"


# -- record-valued fields ------------------------------------------------------------


def holding(
    name: str,
    *classes: type,
    rule: str,
    default: Any = attrs.NOTHING,
    factory: Callable[[], Any] | None = None,
    strings: tuple[str, ...] = (),
    nullable: bool | None = None,
    many: bool = False,
) -> Any:
    """A leaf named ``name`` that holds a record of one of ``classes``, or one of
    ``strings``, or ``None`` when ``nullable`` (by default: when ``default`` is
    ``None``); when ``many``, a list of such records. Its decoder reads the
    records' JSON form (the member of a union chosen by its ``type`` tag), its
    converter turns that form into the record as the field is set (errors name
    the field ``name``), and its validator refuses anything else with ``rule``."""
    if len(classes) == 1 and getattr(classes[0], "TYPE", None) is None:
        decoder = _strings_or(classes[0], strings, rule) if strings else record_decoder(classes[0])
    else:
        decoder = _union_decoder(*classes, strings=strings)
    check = _records_or(classes, strings, rule)
    if many:
        decoder = _vector_decoder(decoder)
        check = vector_of(check)
    if nullable is None:
        nullable = default is None
    validator = optional(check) if nullable else check
    return leaf(
        default,
        factory=factory,
        converter=_many_converter(decoder, name) if many else _converter(decoder, name),
        validator=validator,
        decode=decoder,
    )


def voice_field(name: str, cls: type, *, default: str, rule: str) -> Any:
    """A leaf that holds a name (a non-empty string) or a record of ``cls``."""
    decoder = record_decoder(cls)

    def convert(value: Any) -> Any:
        if type(value) is str or not isinstance(value, Mapping):
            return value
        try:
            return decoder(value)
        except InvalidOption as e:
            raise e.located(name) from None

    return leaf(
        default,
        converter=convert,
        validator=either(text(nonempty=True), instance(cls, rule=""), rule=rule),
        decode=lambda v: v if type(v) is str else decoder(v),
    )


def _records_or(classes: tuple[type, ...], strings: tuple[str, ...], rule: str) -> Validator:
    """Validator: a record of exactly one of ``classes``, or one of ``strings``."""

    def check(_inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
        if type(value) in classes or (type(value) is str and value in strings):
            return
        if type(value) is Unknown:  # an element of a list (tools); a whole leaf is admitted by leaf()
            admit(a.name, value)
            return
        raise InvalidOption(a.name, value, rule)

    return check


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


def _many_converter(decoder: Decoder, name: str) -> Callable[[Any], Any]:
    """Lists become a ``PVector`` of records; JSON objects in them become records."""

    def convert(value: Any) -> Any:
        if type(value) is PVECTOR:
            return value
        if isinstance(value, list | tuple) and any(isinstance(x, Mapping) for x in value):
            try:
                return decoder(value)
            except InvalidOption as e:
                raise e.located(name) from None
        return to_vector(value)

    return convert


# -- decoders: JSON value -> field value, raising InvalidOption with a relative path ---


def record_decoder(cls: type) -> Decoder:
    """A decoder for a record from its JSON object (wire names; ``type`` checked)."""

    known = frozenset((*(s.wire for s in specs(cls)), *(("type",) if getattr(cls, "TYPE", None) else ())))

    def decode(value: Any) -> Any:
        if isinstance(value, cls) or type(value) is Unknown:
            return value
        if not isinstance(value, Mapping):
            raise InvalidOption("", value, f"must be an object ({cls.__name__})")
        tag = getattr(cls, "TYPE", None)
        # Keys first: a key that is no field is a different error (NotAField)
        # from a value that is not allowed, whatever else the object holds.
        unknown = [k for k in value if k not in known]
        if unknown:
            raise NotAField(str(unknown[0]), value[unknown[0]], f"is not a field of {cls.__name__}")
        kwargs: dict[str, Any] = {}
        for s in specs(cls):
            if s.wire in value:
                raw = value[s.wire]
                try:
                    kwargs[s.name] = raw if s.decode is None or raw is None else s.decode(raw)
                except InvalidOption as e:
                    raise e.located(s.wire) from None
        if tag is not None and value.get("type", tag) != tag:
            raise InvalidOption("type", value.get("type"), f"must be {tag!r}")
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


def _union_decoder(*classes: type, strings: tuple[str, ...] = ()) -> Decoder:
    """A decoder for a tagged union: a record chosen by its ``type``, or a string mode."""
    by_tag = {c.TYPE: (c, record_decoder(c)) for c in classes}  # type: ignore[attr-defined]
    choices = [*(repr(s) for s in strings), *(f"{{'type': {t!r}}}" for t in by_tag)]
    rule = "must be one of " + ", ".join(choices)
    tag_rule = "must be one of " + ", ".join(repr(t) for t in by_tag)  # said of the ``type`` key

    def decode(value: Any) -> Any:
        if type(value) is str:
            if value in strings:
                return value
            raise InvalidOption("", value, rule)
        if type(value) in classes or type(value) is Unknown:
            return value
        if isinstance(value, Mapping):
            tag = value.get("type")
            found = by_tag.get(tag) if type(tag) is str else None
            if found is None:
                raise InvalidOption("type", value.get("type"), tag_rule)
            return found[1](value)
        raise InvalidOption("", value, rule)

    return decode


def _strings_or(cls: type, strings: tuple[str, ...], rule: str) -> Decoder:
    """A decoder for one of ``strings`` or the JSON object of ``cls`` (untagged)."""
    record = record_decoder(cls)

    def decode(value: Any) -> Any:
        if type(value) is Unknown or value in strings or isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            return record(value)
        raise InvalidOption("", value, rule)

    return decode


def _vector_decoder(item: Decoder) -> Decoder:
    """A decoder for a list of what ``item`` decodes. While a server's report is
    read, an element it cannot model is kept as an
    :class:`~optstate.openai.Unknown` (a tool of a new type; the known ones stay
    records); a key that is no field of its record still raises."""

    def decode(value: Any) -> Any:
        if not isinstance(value, list | tuple | PVector):
            raise InvalidOption("", value, "must be a list")
        out = []
        for i, x in enumerate(value):
            try:
                out.append(item(x))
            except NotAField as e:
                raise e.located(f"[{i}]") from None
            except InvalidOption as e:
                if not is_reading():
                    raise e.located(f"[{i}]") from None
                out.append(unknown_at(x, f"[{i}]"))
        return pvector(out)

    return decode


class NotAField(InvalidOption):
    """A key in a record's JSON form that is no field of the record (a value
    optstate could model, but does not know all of)."""


# -- validators of the root's scalar fields --------------------------------------------

_MODALITIES = (pvector(["audio"]), pvector(["text"]))


def modalities(_inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
    """``["audio"]`` or ``["text"]``."""
    if not isinstance(value, PVector) or value not in _MODALITIES:
        both = isinstance(value, PVector) and all(type(x) is str for x in value)
        if both and sorted(value) == ["audio", "text"]:
            rule = "must be ['audio'] or ['text'], not both"
        else:
            rule = "must be ['audio'] or ['text']"
        raise InvalidOption(a.name, value, rule)


def max_tokens(_inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
    """An integer between 1 and 4096, or ``"inf"``."""
    if value == "inf" and type(value) is str:
        return
    if type(value) is not int or not 1 <= value <= 4096:
        raise InvalidOption(a.name, value, "must be an integer between 1 and 4096, or 'inf'")
