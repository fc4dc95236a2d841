"""Session fields optstate does not know: found, kept, checked and put back.

A server of a newer API version may send fields optstate has no option for.
:func:`~optstate.openai.decode` keeps them (with :func:`keep` and
:func:`split`) in ``RealtimeOptions.extra``, nested at their wire path;
:func:`check_extra` is that field's validator; and
:func:`~optstate.openai.encode_session` puts them back with :func:`overlay`.
All of it is driven by the record classes: which keys a record knows
(:func:`wire_keys`) and which of its fields hold records (:func:`record_fields`).
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

import attrs
from pyrsistent import PMap, PVector, pmap, pvector

from .._errors import InvalidOption
from .._record import MERGE, specs, specs_by_name
from .._validators import check_json, to_frozen
from ._values import to_json

__all__ = [
    "SERVER_ONLY",
    "Holds",
    "check_extra",
    "extra_at",
    "holds_at",
    "keep",
    "overlay",
    "overlay_field",
    "record_fields",
    "split",
    "wire_keys",
]

#: Top-level wire names that are not options: they never go into ``extra``.
SERVER_ONLY = frozenset({"id", "object", "expires_at", "client_secret", "type", "temperature"})

#: What a field that holds records can hold: the record classes, and whether
#: it is a list of them (``tools``) rather than one.
Holds = tuple[tuple[type, ...], bool]


def wire_keys(cls: type) -> frozenset[str]:
    """The keys a record of ``cls`` knows in its JSON form: its fields' wire
    names, and ``type`` when it is a member of a tagged union."""
    found = _WIRE_KEYS.get(cls)
    if found is None:
        tag = () if getattr(cls, "TYPE", None) is None else ("type",)
        found = _WIRE_KEYS[cls] = frozenset((*(s.wire for s in specs(cls)), *tag))
    return found


def record_fields(cls: type) -> Mapping[str, Holds]:
    """The fields of record class ``cls`` that hold records, by wire name: its
    merge nodes and its record-valued leaves (``turn_detection``, ``tools``,
    ``tracing``, …). Found from the type annotations, once per class."""
    found = _RECORD_FIELDS.get(cls)
    if found is None:
        # The records report the public module (``optstate.openai``); their
        # annotations name what the module defining them imports.
        from . import _schema

        hints = typing.get_type_hints(cls, globalns=vars(_schema))
        table: dict[str, Holds] = {}
        for s in specs(cls):
            if s.kind is MERGE and s.record is not None:
                table[s.wire] = ((s.record,), False)
            elif (held := _records_in(hints[s.name]))[0]:
                table[s.wire] = held
        found = _RECORD_FIELDS[cls] = table
    return found


def holds_at(root: type, path: str) -> Holds | None:
    """What the option at dotted ``path`` below ``root`` holds, if it holds records."""
    *parents, name = path.split(".")
    cls: Any = root
    for part in parents:
        cls = specs_by_name(cls)[part].record
    return record_fields(cls).get(specs_by_name(cls)[name].wire)


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


# -- keeping (decode) -------------------------------------------------------------------


def keep(extra: dict[str, Any], key: Any, raw: Any, prefix: str) -> None:
    """Keep ``raw``, the value of ``key`` that optstate does not know, in
    ``extra``: frozen, if it is JSON data (else InvalidOption at its path)."""
    if type(key) is not str:
        raise InvalidOption(prefix[:-1] or "session", key, "must have string keys")
    value = to_frozen(raw)
    check_json(prefix + key, value)
    extra[key] = value


def split(raw: Any, holds: Holds, path: str) -> tuple[Any, Any]:
    """``raw``, the JSON value of a record-valued option at ``path``, without
    the keys its record does not know; and those keys, nested in wire shape
    (for a list, one object per element, cut after the last that is not
    empty), or ``None``. A value that is no object, or whose ``type`` names no
    record, is left whole for the option's decoder to refuse."""
    records, many = holds
    if many:
        if not isinstance(raw, list | tuple | PVector):
            return raw, None
        pairs = [split(item, (records, False), f"{path}[{i}]") for i, item in enumerate(raw)]
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
                value, more = split(value, below[key], f"{path}.{key}")
                if more:
                    unknown[key] = more
            out[key] = value
        else:
            keep(unknown, key, value, path + ".")
    return out, pmap(unknown) if unknown else None


# -- putting back (encode) --------------------------------------------------------------


def overlay(out: dict[str, Any], extra: PMap[str, Any], classes: tuple[type, ...]) -> None:
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
            overlay_field(out.get(key), value, below[key])
        elif key not in known and key not in out:
            out[key] = to_json(value)


def overlay_field(mine: Any, more: Any, holds: Holds) -> None:
    """Put ``more`` (kept below a field that holds records) back into ``mine``,
    that field's JSON value, when it still holds what ``more`` was kept from."""
    records, many = holds
    if many and isinstance(mine, list) and isinstance(more, PVector):
        for item, kept in zip(mine, more, strict=False):
            if isinstance(item, dict) and isinstance(kept, PMap):
                overlay(item, kept, records)
    elif not many and isinstance(mine, dict) and isinstance(more, PMap):
        overlay(mine, more, records)


def extra_at(extra: PMap[str, Any], path: str) -> Any:
    """What ``extra`` keeps at the dotted wire ``path`` (``None`` if nothing)."""
    found: Any = extra
    for part in path.split("."):
        if not isinstance(found, PMap):
            return None
        found = found.get(part)
    return found


# -- the validator of ``extra`` -----------------------------------------------------------


def check_extra(
    path: str, value: Any, classes: tuple[type, ...], reserved: frozenset[str] = frozenset()
) -> None:
    """``extra`` is JSON whose keys are not options of ``classes`` (nor
    ``reserved``). A key may name a field that holds records (a merge node such
    as ``audio``, or a record-valued leaf such as ``turn_detection``) only to
    hold more unknown fields below it, in wire shape; for ``tools``, a list
    with one object per tool (``{}`` for none).

    Which keys are unknown cannot depend on the value the leaf holds now (a
    write may change it while ``extra`` stays), so under a union leaf
    (``turn_detection``, ``format``, ``tool_choice``, ``truncation``, tools) a
    key is refused only when *every* record of the union knows it (``type``,
    ``create_response``, …): a key that just some members know (``eagerness``
    under a ``server_vad``) is one a server may send for a member that does not
    know it yet. :func:`overlay` puts a key back only under a record that does
    not know it."""
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
                check_extra(f"{where}[{i}]", element, records)
        elif records and not many and isinstance(item, PMap):
            check_extra(where, item, records)
        elif all(key in wire_keys(c) for c in classes) or key in reserved:
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
