"""Patches, and the pure functions between states and patches.

A :class:`Patch` is an immutable tree of changes to a record tree: under a
merge node it holds a sub-patch with only the changed children; at a replace
leaf it holds the whole new value (``None`` is a real value: null, clear).

The laws, each a Hypothesis property in ``tests/test_patch_laws.py``:

1. ``diff(s, s)`` is empty;
2. ``apply(old, diff(old, new)) == new``;
3. every leaf of ``diff(old, new)`` differs between ``old`` and ``new``, and every
   leaf that differs is in the patch;
4. ``apply(apply(s, p), q) == apply(s, p | q)``;
5. unchanged subtrees that are the same object are skipped by identity.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, ValuesView
from collections.abc import Set as AbstractSet
from typing import Any, TypeVar, final

import attrs

from ._errors import InvalidOption, redact
from ._record import MERGE, FieldSpec, is_record, specs, specs_by_name

__all__ = [
    "EMPTY",
    "Patch",
    "apply",
    "apply_moved",
    "check_leaf",
    "diff",
    "from_valid_paths",
    "full_patch",
    "get",
    "one_leaf",
    "patch",
    "set",
]

S = TypeVar("S")
_MISSING: Any = object()
_new = object.__new__


@final
class Patch(Mapping[str, Any]):
    """An immutable tree of changes: ``{field: value-or-sub-Patch}``.

    Keys are attribute names. A value that is a ``Patch`` changes a merge node
    field by field; any other value replaces a leaf whole. The empty patch is
    falsy. ``p | q`` composes: ``q`` wins where both name the same leaf.
    Build one with :func:`optstate.patch` (validated) or :func:`optstate.diff`.
    """

    # ``_hash`` is filled in by the first ``hash()``: a Patch built by ``diff``
    # costs one allocation and one slot store, nothing more.
    __slots__ = ("_changes", "_hash", "_paths")
    _changes: dict[str, Any]
    _hash: int
    _paths: dict[str, Any] | None

    def __init__(self, changes: Mapping[str, Any] | None = None) -> None:
        """Wrap ``changes`` (copied). No schema check: see :func:`optstate.patch`."""
        self._changes = dict(changes) if changes else {}
        self._paths = None

    @classmethod
    def _of(cls, changes: dict[str, Any]) -> Patch:
        # Internal fast path: takes ownership of ``changes`` without copying.
        p = _new(cls)
        p._changes = changes
        p._paths = None
        return p

    def __getitem__(self, key: str) -> Any:
        return self._changes[key]

    # The read-only views and ``get`` of the wrapped dict, rather than the
    # Mapping mixins that go through ``__getitem__`` once per key.
    def keys(self) -> KeysView[str]:
        return self._changes.keys()

    def values(self) -> ValuesView[Any]:
        return self._changes.values()

    def items(self) -> ItemsView[str, Any]:
        return self._changes.items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._changes.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._changes)

    def __len__(self) -> int:
        return len(self._changes)

    def __bool__(self) -> bool:
        return bool(self._changes)

    def __contains__(self, key: object) -> bool:
        return key in self._changes

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Patch):
            return self is other or self._changes == other._changes
        return NotImplemented

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            h = self._hash = hash(frozenset(self._changes.items()))
            return h

    def __reduce__(self) -> tuple[type[Patch], tuple[dict[str, Any]]]:
        # Never pickle the cached hash: str hashes differ from process to process.
        return Patch, (self._changes,)

    def __or__(self, other: Patch) -> Patch:
        if not isinstance(other, Patch):
            return NotImplemented
        if not other._changes:
            return self
        if not self._changes:
            return other
        merged = dict(self._changes)
        for key, theirs in other._changes.items():
            mine = merged.get(key, _MISSING)
            if isinstance(theirs, Patch) and isinstance(mine, Patch):
                merged[key] = mine | theirs
            else:
                merged[key] = theirs
        return Patch._of(merged)

    def __repr__(self) -> str:
        # Leaves are shown with their secrets hidden: records redact themselves,
        # plain dicts (an unvalidated Patch may hold them) are redacted here.
        inner = ", ".join(f"{k!r}: {redact(v)!r}" for k, v in self.paths().items())
        return f"Patch({{{inner}}})"

    def paths(self) -> dict[str, Any]:
        """The leaves of this patch as ``{"dotted.path": new value}``, in order
        (a new dict each call; worked out once per patch)."""
        return dict(self._leaves())

    def _leaves(self) -> dict[str, Any]:
        # paths(), shared: the caller must not change it.
        out = self._paths
        if out is None:
            out = self._paths = {}
            _flatten(self, "", out)
        return out

    def without(self, paths: AbstractSet[str]) -> Patch:
        """This patch less the leaves at the given dotted paths."""
        if not paths:
            return self
        return _without(self, "", paths)


def _flatten(p: Patch, prefix: str, out: dict[str, Any]) -> None:
    # One frame for a chain of single-child merge nodes (the usual one-leaf patch).
    changes = p._changes
    while len(changes) == 1:
        ((key, value),) = changes.items()
        name = key if type(key) is str else f"{key}"  # a hand-built Patch may have any key
        if type(value) is not Patch:  # Patch is final
            out[prefix + name] = value
            return
        prefix = prefix + name + "."
        changes = value._changes
    for key, value in changes.items():
        name = key if type(key) is str else f"{key}"
        if type(value) is Patch:
            _flatten(value, prefix + name + ".", out)
        else:
            out[prefix + name] = value


def _without(p: Patch, prefix: str, paths: AbstractSet[str]) -> Patch:
    kept: dict[str, Any] = {}
    for key, value in p._changes.items():
        path = f"{prefix}{key}"
        if isinstance(value, Patch):
            sub = _without(value, path + ".", paths)
            if sub:
                kept[key] = sub
        elif path not in paths:
            kept[key] = value
    return Patch._of(kept)


EMPTY = Patch()


# -- diff --------------------------------------------------------------------------


def diff(old: S, new: S) -> Patch:
    """The smallest patch that turns ``old`` into ``new``.

    Both must be records of the same class. Unchanged subtrees that are the
    same object cost nothing; a leaf is in the patch iff it differs.
    """
    if old is new:
        return EMPTY
    cls = type(old)
    differ: Callable[[Any, Any], Patch] | None
    try:
        differ = _DIFFERS[cls]
    except KeyError:
        differ = _compile_diff(cls) if is_record(old) else None
        if differ is not None:
            _DIFFERS[cls] = differ
    if differ is None or type(new) is not cls:
        raise TypeError(
            f"diff needs two records of the same class (got {cls.__name__} and {type(new).__name__})"
        )
    return differ(old, new)


#: The diff function of each record class, compiled on first use.
_DIFFERS: dict[type, Callable[[Any, Any], Patch]] = {}


def _compile_diff(cls: type) -> Callable[[Any, Any], Patch]:
    """Generate the diff function of ``cls``, as attrs generates ``__eq__``.

    Its body is what one would write by hand: for each field, in declaration
    order, ``if old.f is not new.f`` (identity first, so shared subtrees and
    values cost one comparison), then for a replace leaf ``not old.f == new.f``,
    and for a merge node the same code for its record's fields, inlined one
    level deeper. A level that changed gets a dict and a Patch around it; an
    unchanged one allocates nothing. A generic loop over :func:`specs` did the
    same work about four times slower (see ``bench/RESULTS.md``), spending it on
    spec lookups, ``getattr`` calls and one Python call per merge node.
    """
    name = f"diff_{cls.__name__}" if cls.__name__.isidentifier() else "diff_record"
    lines = [f"def {name}(old_0, new_0):"]
    _diff_body(cls, 0, "    ", lines)
    lines += [
        "    if changes_0 is None:",
        "        return EMPTY",
        "    patch = alloc(Patch)",
        "    patch._changes = changes_0",
        "    patch._paths = None",
        "    return patch",
    ]
    source = "\n".join(lines) + "\n"
    filename = f"<optstate diff {cls.__module__}.{cls.__qualname__}>"
    namespace: dict[str, Any] = {"EMPTY": EMPTY, "Patch": Patch, "alloc": _new}
    exec(compile(source, filename, "exec"), namespace)
    # Tracebacks through the generated code show its source.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return namespace[name]  # type: ignore[no-any-return]


def _diff_body(cls: type, depth: int, indent: str, lines: list[str]) -> None:
    """Append the code that leaves in ``changes_<depth>`` the changes of
    ``old_<depth>`` to ``new_<depth>`` (records of ``cls``), or ``None``."""
    old, new, changes = f"old_{depth}", f"new_{depth}", f"changes_{depth}"
    lines.append(f"{indent}{changes} = None")
    for f in specs(cls):
        name = f.name
        if f.kind is MERGE:
            below = depth + 1
            lines += [
                f"{indent}if {old}.{name} is not {new}.{name}:",
                f"{indent}    old_{below} = {old}.{name}",
                f"{indent}    new_{below} = {new}.{name}",
            ]
            _diff_body(f.record, below, indent + "    ", lines)  # type: ignore[arg-type]
            lines += [
                f"{indent}    if changes_{below} is not None:",
                f"{indent}        value = alloc(Patch)",
                f"{indent}        value._changes = changes_{below}",
                f"{indent}        value._paths = None",
            ]
            inner = indent + "        "
        else:
            lines += [
                f"{indent}if {old}.{name} is not {new}.{name} and not {old}.{name} == {new}.{name}:",
                f"{indent}    value = {new}.{name}",
            ]
            inner = indent + "    "
        lines += [
            f"{inner}if {changes} is None:",
            f"{inner}    {changes} = {{{name!r}: value}}",
            f"{inner}else:",
            f"{inner}    {changes}[{name!r}] = value",
        ]


def full_patch(state: Any) -> Patch:
    """The patch that sets every leaf of ``state`` to its value in ``state``
    (what a fresh connection needs to receive)."""
    return Patch._of(
        {
            s.name: full_patch(getattr(state, s.name)) if s.kind is MERGE else getattr(state, s.name)
            for s in specs(type(state))
        }
    )


# -- apply -------------------------------------------------------------------------


def apply(state: S, change: Patch) -> S:
    """``state`` with ``change`` applied: named leaves replaced, others kept.

    Every changed field goes through its converter and validator, as in the
    constructor, so validation cannot be bypassed; unchanged fields are shared
    with ``state``. A bad name or value raises :class:`~optstate.InvalidOption`
    naming the dotted path; ``state`` is never modified (it is immutable).
    """
    if not change:
        return state
    if not isinstance(change, Patch):
        raise TypeError(f"apply needs a Patch (got {type(change).__name__})")
    if not is_record(state):
        raise TypeError(f"apply needs a record to change (got {type(state).__name__})")
    return _apply(state, change)  # type: ignore[no-any-return]


def _apply(record: Any, change: Patch) -> Any:
    cls = type(record)
    return (_APPLIERS.get(cls) or _applier(cls))(record, change._changes, {})


def apply_moved(state: S, change: Patch) -> tuple[S, Patch]:
    """``(apply(state, change), diff(state, that))`` in one walk (internal API:
    for a ``change`` to a record ``state``; the store's writes use it).

    The patch already names every field that can change, so only those are
    compared; ``state`` itself comes back when no leaf moved. The moved leaves
    are the converted values the new state holds, in ``change``'s order.
    """
    if not change:
        return state, EMPTY
    moved: dict[str, Any] = {}
    cls = type(state)
    new = (_APPLIERS.get(cls) or _applier(cls))(state, change._changes, moved)
    return new, Patch._of(moved) if moved else EMPTY


#: The apply function of each record class, generated on first use.
_APPLIERS: dict[type, Callable[[Any, dict[str, Any], dict[str, Any]], Any]] = {}
_MEMBER = type(Patch.__dict__["_changes"])  # a slot's descriptor (member_descriptor)


def _applier(cls: type) -> Callable[[Any, dict[str, Any], dict[str, Any]], Any]:
    """The function ``(record, changes, moved) -> new record`` of ``cls``: every
    field taken from ``changes`` (a Patch's dict) or else from ``record``; the
    changes that moved a leaf are put in ``moved`` (a merge node's as a sub-Patch),
    and ``record`` itself is returned when none did.

    Each replaced leaf goes through its converter and validator, as the
    constructor runs them, so no record holds a value that was not validated;
    a merge node is applied one level down the same way. Fields carried over
    from ``record`` are not checked again: ``record`` is immutable and every
    value in it passed its checks when it was built. That is what makes a
    one-leaf ``apply`` cost a few slot stores rather than every converter and
    validator of the record (see ``bench/RESULTS.md``). A leaf moved when its new
    value is not the old one by identity nor by ``==`` (as :func:`diff` compares).
    Errors name the field relative to ``record``; each level up puts its own name
    in front, so no path string is built unless something is wrong.

    A class whose checks could depend on more than one field
    (``__attrs_post_init__``), that is not slotted, caches its hash or uses
    ``attrs.Converter`` goes through its constructor (``attrs.evolve``) whole.
    """
    found = _APPLIERS.get(cls)
    if found is not None:
        return found
    fields = attrs.fields(cls)
    slots = getattr(cls, "__slots__", None)
    plain = (
        slots is not None
        and "__attrs_cached_hash__" not in slots
        and not hasattr(cls, "__attrs_post_init__")
        and not hasattr(cls, "__attrs_pre_init__")
        and all(a.init and a.name.isidentifier() for a in fields)
        and not any(isinstance(a.converter, attrs.Converter) for a in fields)
        and cls.__name__.isidentifier()
    )
    # name -> (merge node?, converter, validator, attribute); options only.
    steps = {
        sp.name: (sp.kind is MERGE, sp.attribute.converter, sp.attribute.validator, sp.attribute)
        for sp in specs(cls)
    }
    # Each slot's own setter (the member descriptor's ``__set__``): about half the
    # cost of ``object.__setattr__`` per field, since no name is looked up.
    setters: dict[str, Any] = {a.name: getattr(cls, a.name, None) for a in fields} if plain else {}
    if not plain or not all(type(d) is _MEMBER for d in setters.values()):
        found = _APPLIERS[cls] = _generic_applier(cls, steps)
        return found
    name = f"apply_{cls.__name__}"
    lines = [
        f"def {name}(record, changes, moved):",
        "    vals = None",
        "    for key, value in changes.items():",
        "        step = steps.get(key)",
        "        if step is None:",
        "            raise unknown(cls, key, value)",
        "        merge, converter, validator, attribute = step",
        "        old = getattr(record, key)",
        "        if merge:",
        "            if type(value) is not Patch:",
        "                raise InvalidOption(key, value, GROUP)",
        "            sub = {}",
        "            try:",
        "                value = (appliers.get(type(old)) or applier(type(old)))(old, value._changes, sub)",
        "            except InvalidOption as e:",
        "                raise e.located(key) from None",
        "            if not sub:",
        "                continue",
        "            p = alloc(Patch)",
        "            p._changes = sub",
        "            p._paths = None",
        "            moved[key] = p",
        "        else:",
        "            if type(value) is Patch:",
        "                raise InvalidOption(key, value, SINGLE)",
        "            if converter is not None:",
        "                value = converter(value)",
        "            if validator is not None:",
        "                validator(record, attribute, value)",
        "            if value is old or old == value:",
        "                continue",
        "            moved[key] = value",
        "        if vals is None:",
        "            vals = {key: value}",
        "        else:",
        "            vals[key] = value",
        "    if vals is None:",
        "        return record",
        "    new = alloc(cls)",
        *(f"    set_{i}(new, record.{a.name})" for i, a in enumerate(fields)),
        "    for key, value in vals.items():",
        "        setters[key](new, value)",
        "    return new",
    ]
    source = "\n".join(lines) + "\n"
    filename = f"<optstate apply {cls.__module__}.{cls.__qualname__}>"
    namespace: dict[str, Any] = {
        "cls": cls,
        "alloc": _new,
        "setters": {key: d.__set__ for key, d in setters.items()},
        **{f"set_{i}": setters[a.name].__set__ for i, a in enumerate(fields)},
        "steps": steps,
        "Patch": Patch,
        "InvalidOption": InvalidOption,
        "unknown": _unknown,
        "appliers": _APPLIERS,
        "applier": _applier,
        "GROUP": _GROUP,
        "SINGLE": _SINGLE,
    }
    exec(compile(source, filename, "exec"), namespace)
    # Tracebacks through the generated code show its source.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    found = _APPLIERS[cls] = namespace[name]
    return found  # type: ignore[no-any-return]


_GROUP = "is a group of options: change it with a Patch"
_SINGLE = "is a single option: give its whole new value"


def _unknown(cls: type, key: str, value: Any) -> InvalidOption:
    return InvalidOption(key, value, f"is not an option of {cls.__name__}")


def _generic_applier(
    cls: type, steps: dict[str, tuple[bool, Any, Any, Any]]
) -> Callable[[Any, dict[str, Any], dict[str, Any]], Any]:
    """The applier of a class that goes through ``attrs.evolve`` (its constructor)."""

    def apply_generic(record: Any, changes: dict[str, Any], moved: dict[str, Any]) -> Any:
        updates: dict[str, Any] = {}
        for key, value in changes.items():
            step = steps.get(key)
            if step is None:
                raise _unknown(cls, key, value)
            if step[0]:
                if type(value) is not Patch:
                    raise InvalidOption(key, value, _GROUP)
                try:
                    updates[key] = _apply(getattr(record, key), value)
                except InvalidOption as e:
                    raise e.located(key) from None
            elif type(value) is Patch:
                raise InvalidOption(key, value, _SINGLE)
            else:
                updates[key] = value
        new = attrs.evolve(record, **updates)
        moved.update(diff(record, new)._changes)
        return new if moved else record

    return apply_generic


# -- building patches by path --------------------------------------------------------


def patch(schema: type | Any, changes: Mapping[str, Any] | None = None, /, **kw: Any) -> Patch:
    """A validated patch for records of ``schema`` (a record class or instance).

    ``changes`` maps dotted paths to new values: ``{"audio.output.speed": 1.5}``.
    Keyword arguments name top-level fields. A path may also name a merge node
    with a nested ``dict`` (``{"audio": {"output": {"speed": 1.5}}}``) or a whole
    record, which sets each of its fields. Values are converted and validated
    as the record constructors would; a bad one raises
    :class:`~optstate.InvalidOption` naming its path, and nothing is built.
    """
    cls = schema if isinstance(schema, type) else type(schema)
    if not attrs.has(cls):
        raise TypeError(f"patch needs a record class or record (got {cls.__name__})")
    if changes is not None and not isinstance(changes, Mapping):
        raise InvalidOption("", changes, "must be a mapping of field paths to values")
    items = dict(changes or {})
    items.update(kw)
    root: dict[str, Any] = {}
    for path, value in items.items():
        if type(path) is not str or not path:
            raise InvalidOption(str(path), value, "is not a field path (use 'a.b.c')")
        _put(cls, root, path.split("."), value, "")
    return _freeze(root)


def _put(cls: type, into: dict[str, Any], parts: list[str], value: Any, prefix: str) -> None:
    name = parts[0]
    path = prefix + name
    f = specs_by_name(cls).get(name)
    if f is None:
        raise InvalidOption(path, value, f"is not an option of {cls.__name__}")
    if len(parts) > 1:
        if f.kind is not MERGE:
            raise InvalidOption(path, value, "is a single option and has no sub-options")
        sub = into.setdefault(name, {})
        if not isinstance(sub, dict):  # pragma: no cover - a leaf never holds a dict here
            raise InvalidOption(path, value, "was given twice")
        _put(f.record, sub, parts[1:], value, path + ".")  # type: ignore[arg-type]
        return
    if f.kind is MERGE:
        sub = into.setdefault(name, {})
        rec: type = f.record  # type: ignore[assignment]
        if isinstance(value, Patch):
            value = value.paths()
        elif type(value) is rec:
            value = {s.name: getattr(value, s.name) for s in specs(rec)}
        elif not isinstance(value, Mapping):
            raise InvalidOption(path, value, f"is a group of options: give a {rec.__name__}")
        for key, sub_value in value.items():
            _put(rec, sub, str(key).split("."), sub_value, path + ".")
        return
    into[name] = check_leaf(f, value, path)


def check_leaf(f: FieldSpec, value: Any, path: str) -> Any:
    """``value`` converted and validated for the leaf ``f`` at ``path`` (the
    error names ``path``)."""
    a = f.attribute
    try:
        if a.converter is not None:
            value = a.converter(value)  # type: ignore[operator]
        if a.validator is not None:
            a.validator(None, a, value)
    except InvalidOption as e:
        # Field-level errors name the field first ("speed", "tools[2].name").
        raise InvalidOption(path + e.path[len(a.name) :], e.value, e.rule) from None
    return value


def _freeze(tree: dict[str, Any]) -> Patch:
    return Patch._of({k: _freeze(v) if isinstance(v, dict) else v for k, v in tree.items()})


def one_leaf(names: tuple[str, ...], value: Any) -> Patch:
    """The patch setting the one leaf at ``names`` (its path, split) to ``value``,
    which was already validated (no schema check); its leaves are known at once."""
    p = _new(Patch)
    p._changes, p._paths = {names[-1]: value}, None
    for name in reversed(names[:-1]):
        up = _new(Patch)
        up._changes, up._paths = {name: p}, None
        p = up
    p._paths = {".".join(names): value}
    return p


def from_valid_paths(paths: Mapping[str, Any]) -> Patch:
    """A patch from ``{dotted path: value}`` whose values were already validated
    (no schema check: use :func:`patch` for anything from a caller)."""
    root: dict[str, Any] = {}
    for path, value in paths.items():
        node = root
        *parents, last = path.split(".")
        for name in parents:
            node = node.setdefault(name, {})
        node[last] = value
    return _freeze(root)


# -- one path at a time --------------------------------------------------------------


def get(state: Any, path: str) -> Any:
    """The value at the dotted ``path`` of ``state``."""
    if type(path) is not str:
        raise InvalidOption(str(path), path, "is not a field path (use 'a.b.c')")
    value = state
    walked = ""
    for name in path.split("."):
        walked = f"{walked}.{name}" if walked else name
        if not is_record(value) or name not in specs_by_name(type(value)):
            raise InvalidOption(walked, name, "is not an option")
        value = getattr(value, name)
    return value


def set(state: S, path: str, value: Any) -> S:
    """``state`` with the field at dotted ``path`` set to ``value`` (validated)."""
    return apply(state, patch(type(state), {path: value}))
