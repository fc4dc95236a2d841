"""Records: frozen attrs classes whose fields say how they change on the wire.

A field is either a **merge** node (a nested record; a change carries only the
changed children) or a **replace** leaf (anything else; a change carries the
whole new value). Both are declared with :func:`node` and :func:`leaf`, which
keep the wire name and the policy in the attrs field metadata. The diff and
apply machinery in :mod:`optstate._patch` reads them through :func:`specs`,
computed once per class.

Validators (:mod:`optstate._validators`) raise :class:`~optstate.InvalidOption`
with the field's own name as the path; whoever builds the record at a known
place in a tree prefixes it (see ``InvalidOption.located``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

import attrs
from pyrsistent import pmap, pvector

from ._errors import InvalidOption

__all__ = [
    "MERGE",
    "PASSTHROUGH",
    "PVECTOR",
    "REPLACE",
    "FieldSpec",
    "Validator",
    "is_record",
    "iter_fields",
    "leaf",
    "node",
    "passthrough",
    "specs",
    "specs_by_name",
]

MERGE: Final = "merge"
REPLACE: Final = "replace"
#: Not an option: data kept for round trips (never diffed, patched or compared).
PASSTHROUGH: Final = "passthrough"
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


def iter_fields(record: Any) -> Iterable[tuple[FieldSpec, Any]]:
    """Pairs of (spec, value) for each field of ``record``."""
    for s in specs(type(record)):
        yield s, getattr(record, s.name)
