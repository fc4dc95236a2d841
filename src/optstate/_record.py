"""Records: frozen attrs classes whose fields say how they change on the wire.

A field is either a **merge** node (a nested record; a change carries only the
changed children) or a **replace** leaf (anything else; a change carries the
whole new value). Both are declared with :func:`node` and :func:`leaf`, which
keep the wire name and the policy in the attrs field metadata. The diff and
apply machinery in :mod:`optstate._patch` reads them through :func:`specs`,
computed once per class.

Validators here raise :class:`~optstate.InvalidOption` with the field's own
name as the path; whoever builds the record at a known place in a tree
prefixes it (see ``InvalidOption.located``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

import attrs
from pyrsistent import PMap, PVector, freeze, pmap, pvector

from ._errors import InvalidOption

__all__ = [
    "MERGE",
    "PASSTHROUGH",
    "PVECTOR",
    "REPLACE",
    "FieldSpec",
    "boolean",
    "check_json",
    "either",
    "instance",
    "is_record",
    "json_value",
    "leaf",
    "node",
    "number",
    "one_of",
    "optional",
    "passthrough",
    "specs",
    "specs_by_name",
    "str_map",
    "text",
    "to_frozen",
    "to_frozen_map",
    "to_vector",
    "vector_of",
]

MERGE: Final = "merge"
REPLACE: Final = "replace"
#: Not an option: data kept for round trips (never diffed, patched or compared).
PASSTHROUGH: Final = "passthrough"
#: How deep JSON data in an option may nest (deeper is an InvalidOption, not a RecursionError).
MAX_JSON_DEPTH: Final = 64
_KEY: Final = "optstate"

#: The concrete vector class (the C extension's when it is installed): ``PVector``
#: itself is an abstract base class, and ``isinstance`` against it is slow.
#: Exact-type checks against this go first; the ``isinstance`` check remains.
PVECTOR: Final[Any] = type(pvector())

T = TypeVar("T")
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


@attrs.frozen
class FieldSpec:
    """How one field of a record takes part in diffs and on the wire."""

    name: str
    wire: str
    kind: str
    record: type | None
    attribute: attrs.Attribute[Any]
    decode: Callable[[Any], Any] | None


def node(record: type[T], *, wire: str | None = None) -> T:
    """A merge node: a nested record, always present, changed field by field."""
    return attrs.field(  # type: ignore[no-any-return]
        factory=record,
        validator=_record_of(record),
        metadata={_KEY: (MERGE, wire, None)},
    )


def leaf(
    default: Any = attrs.NOTHING,
    *,
    factory: Callable[[], Any] | None = None,
    wire: str | None = None,
    validator: Validator | None = None,
    converter: Callable[[Any], Any] | None = None,
    decode: Callable[[Any], Any] | None = None,
    repr: bool | Callable[[Any], str] = True,
) -> Any:
    """A replace leaf: any change sends its whole new value.

    ``decode`` turns the field's JSON value back into a field value (used by
    wire decoders); the default accepts JSON scalars as they are.
    """
    return attrs.field(
        default=default if factory is None else attrs.Factory(factory),
        validator=validator,
        converter=converter,
        metadata={_KEY: (REPLACE, wire, decode)},
        repr=repr,
    )


_SPECS: dict[type, tuple[FieldSpec, ...]] = {}
_BY_NAME: dict[type, dict[str, FieldSpec]] = {}


def specs(cls: type) -> tuple[FieldSpec, ...]:
    """The field specs of a record class, in declaration order (cached).
    :func:`passthrough` fields are not options and have no spec."""
    found = _SPECS.get(cls)
    if found is None:
        found = _SPECS[cls] = tuple(
            _spec(a) for a in attrs.fields(cls) if a.metadata.get(_KEY, (None,))[0] != PASSTHROUGH
        )
        _BY_NAME[cls] = {s.name: s for s in found}
    return found


def specs_by_name(cls: type) -> dict[str, FieldSpec]:
    """The field specs of a record class by attribute name (cached)."""
    found = _BY_NAME.get(cls)
    if found is None:
        specs(cls)
        found = _BY_NAME[cls]
    return found


def passthrough(*, converter: Callable[[Any], Any], validator: Validator, repr: Callable[[Any], str]) -> Any:
    """A field that is not an option: data carried along for round trips (such as
    session fields from a newer API). It defaults to an empty ``PMap``, takes no
    part in equality, hashing, :func:`~optstate.diff`, :func:`~optstate.apply`
    (which keeps it as it is) or patches, and has no spec."""
    return attrs.field(
        factory=pmap,
        converter=converter,
        validator=validator,
        repr=repr,
        eq=False,
        metadata={_KEY: (PASSTHROUGH, None, None)},
    )


def _spec(a: attrs.Attribute[Any]) -> FieldSpec:
    kind, wire, decode = a.metadata.get(_KEY, (REPLACE, None, None))
    record = a.default.factory if kind == MERGE else None  # type: ignore[union-attr]
    return FieldSpec(name=a.name, wire=wire or a.name, kind=kind, record=record, attribute=a, decode=decode)


def is_record(value: object) -> bool:
    """True for instances of attrs classes (records)."""
    return attrs.has(type(value))


# -- validators: each raises InvalidOption(field name, value, rule) -----------------


def _record_of(cls: type) -> Validator:
    def check(_inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not cls:
            raise InvalidOption(a.name, value, f"must be a {cls.__name__}")

    return check


def number(lo: float | None = None, hi: float | None = None, *, integer: bool = False) -> Validator:
    """A finite number (never a bool), optionally within ``[lo, hi]``."""
    kinds = "an integer" if integer else "a number"
    if lo is not None and hi is not None:
        rule = f"must be {kinds} between {lo:g} and {hi:g}"
    elif lo is not None:
        rule = f"must be {kinds} >= {lo:g}"
    else:
        rule = f"must be {kinds}"

    def check(_inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
        ok = (
            (type(value) is int or (not integer and type(value) is float and math.isfinite(value)))
            and (lo is None or value >= lo)
            and (hi is None or value <= hi)
        )
        if not ok:
            raise InvalidOption(a.name, value, rule)

    return check


def one_of(*choices: Any) -> Validator:
    """One of the given literal values (compared by type and value)."""
    rule = "must be one of " + ", ".join(repr(c) for c in choices)

    def check(_inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
        if not any(type(value) is type(c) and value == c for c in choices):
            raise InvalidOption(a.name, value, rule)

    return check


def text(*, nonempty: bool = False, max_len: int | None = None) -> Validator:
    """A ``str``; optionally non-empty and at most ``max_len`` characters."""
    rule = "must be a non-empty string" if nonempty else "must be a string"

    def check(_inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not str or (nonempty and not value):
            raise InvalidOption(a.name, value, rule)
        if max_len is not None and len(value) > max_len:
            raise InvalidOption(a.name, value, f"must be at most {max_len} characters")

    return check


def boolean(_inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
    """A ``bool``."""
    if type(value) is not bool:
        raise InvalidOption(a.name, value, "must be true or false")


def instance(*types: type, rule: str) -> Validator:
    """An instance of exactly one of ``types`` (no subclasses, no coercion)."""

    def check(_inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
        if type(value) not in types:
            raise InvalidOption(a.name, value, rule)

    return check


def either(*validators: Validator, rule: str) -> Validator:
    """Passes when any of ``validators`` passes; else fails with ``rule``."""

    def check(inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
        for v in validators:
            try:
                v(inst, a, value)
            except InvalidOption:
                continue
            return
        raise InvalidOption(a.name, value, rule)

    return check


def optional(validator: Validator) -> Validator:
    """``None``, or a value that passes ``validator``."""

    def check(inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            validator(inst, a, value)

    return check


def vector_of(item: Validator, *, unique: bool = False) -> Validator:
    """A ``PVector`` whose items pass ``item``; the path names the bad index."""

    def check(inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not PVECTOR and not isinstance(value, PVector):
            raise InvalidOption(a.name, value, "must be a list")
        for i, x in enumerate(value):
            try:
                item(inst, a, x)
            except InvalidOption as e:
                raise InvalidOption(f"{a.name}[{i}]", e.value, e.rule) from None
        if unique and len(set(value)) != len(value):
            raise InvalidOption(a.name, value, "must not repeat an item")

    return check


# -- converters: make collections immutable ----------------------------------------


def to_vector(value: Any) -> Any:
    """Lists and tuples become ``PVector``; anything else is left for the validator."""
    if type(value) is PVECTOR or isinstance(value, PVector):
        return value
    if isinstance(value, list | tuple):
        return pvector(value)
    return value


def to_frozen(value: Any) -> Any:
    """JSON-like data (dicts, lists) becomes ``PMap``/``PVector`` all the way down.
    Data nested deeper than ``MAX_JSON_DEPTH`` is left as it is, for the
    validator to reject."""
    if value is None or type(value) is PVECTOR or type(value) is PMap or isinstance(value, PMap | PVector):
        return value
    if isinstance(value, Mapping | list | tuple):
        if _too_deep(value, MAX_JSON_DEPTH):
            return value
        return freeze(value)
    return value


def _too_deep(value: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` deep in ``value`` (no recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list | tuple | PVector):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((c, depth + 1) for c in children)
    return False


def to_frozen_map(value: Any) -> Any:
    """A mapping becomes a ``PMap`` (values frozen too)."""
    if isinstance(value, PMap) or value is None:
        return value
    if isinstance(value, Mapping):
        return pmap({k: to_frozen(v) for k, v in value.items()})
    return value


def json_value(_inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
    """Frozen JSON: ``PMap`` with ``str`` keys, ``PVector``, str, finite numbers, bools, None,
    nested at most ``MAX_JSON_DEPTH`` deep."""
    check_json(a.name, value)


def check_json(path: str, value: Any) -> None:
    """Raise :class:`~optstate.InvalidOption` at ``path`` unless ``value`` is frozen JSON."""
    if _too_deep(value, MAX_JSON_DEPTH):
        raise InvalidOption(path, value, f"must be JSON data nested at most {MAX_JSON_DEPTH} deep")
    bad = _first_non_json(value)
    if bad is not _JSON_OK:
        raise InvalidOption(path, bad, "must be JSON data (objects, arrays, strings, numbers)")


#: What :func:`_first_non_json` returns when there is nothing bad (``None`` can be bad: a key).
_JSON_OK: Any = object()


def _first_non_json(value: Any) -> Any:
    # Recursion is bounded: check_json checked the depth first.
    if value is None or type(value) in (str, bool, int):
        return _JSON_OK
    if type(value) is float:
        return _JSON_OK if math.isfinite(value) else value
    if isinstance(value, PMap):
        for k, v in value.items():
            if type(k) is not str:
                return k
            bad = _first_non_json(v)
            if bad is not _JSON_OK:
                return bad
        return _JSON_OK
    if isinstance(value, PVector):
        for v in value:
            bad = _first_non_json(v)
            if bad is not _JSON_OK:
                return bad
        return _JSON_OK
    return value


def str_map(_inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
    """A ``PMap`` from ``str`` to ``str``."""
    if not isinstance(value, PMap) or not all(type(k) is str and type(v) is str for k, v in value.items()):
        raise InvalidOption(a.name, value, "must map strings to strings")


def iter_fields(record: Any) -> Iterable[tuple[FieldSpec, Any]]:
    """Pairs of (spec, value) for each field of ``record``."""
    for s in specs(type(record)):
        yield s, getattr(record, s.name)
