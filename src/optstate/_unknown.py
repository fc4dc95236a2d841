"""Values a server reported that this release does not model.

A newer server may hold a value optstate has no record or enum member for (an
input rate of 16000, an ``audio/opus`` format, a ``web_search`` tool). When a
schema's decoder (:func:`~optstate.openai.decode`) meets one, it keeps the raw
JSON as an :class:`Unknown` at the smallest enclosing replace leaf (for a list
of records such as ``tools``, as one element), so the server's report is never
dropped for it.

Who may put an :class:`Unknown` into a record is decided in one place,
:func:`admit`, which every leaf validator of a schema calls first (see
:func:`admitting`): only code running inside :func:`reading` may — the
decoders, a connection working out what the server holds, a model of a server.
An application write — a record constructor, :func:`optstate.patch`,
:func:`optstate.set`, ``Store.write`` — gets :class:`~optstate.InvalidOption`.
A context variable rather than a second, unvalidated way of building records
keeps every record going through its ``__init__`` and its validators (as attrs'
``evolve`` does), and needs no flag threaded through ``apply``.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Final, final

import attrs
from pyrsistent import PMap, PVector, thaw

from ._errors import InvalidOption, is_secret_name, redact
from ._record import Validator
from ._validators import MAX_JSON_DEPTH, to_frozen

__all__ = [
    "UNWRITABLE",
    "Unknown",
    "admit",
    "admitting",
    "is_reading",
    "json_checked",
    "reading",
    "unknown_at",
]

#: The rule of the error an application write of an :class:`Unknown` raises.
UNWRITABLE: Final = "is a value the server reported that optstate does not model; it cannot be written"

_READING: ContextVar[bool] = ContextVar("optstate_reading_server", default=False)


@final
class Unknown:
    """A value a server reported that optstate does not model, kept as its raw
    JSON (frozen: ``PMap``/``PVector``/scalars, in :attr:`json`).

    Immutable and hashable; two are equal when their JSON is (``1`` and
    ``True`` differ, as on the wire). Its repr hides secrets. It stands where
    the value was (``state.audio.input.format == Unknown({"type":
    "audio/pcm", "rate": 16000})``) and is written back as it came by
    :func:`~optstate.openai.encode_session`; it can be neither written by the
    application nor sent in a ``session.update``.
    """

    __slots__ = ("_key", "json")
    json: Any
    _key: str

    def __init__(self, json: Any) -> None:
        """Keep ``json`` (JSON data); anything else raises
        :class:`~optstate.InvalidOption`."""
        frozen = json_checked(json, "")
        object.__setattr__(self, "json", frozen)
        object.__setattr__(self, "_key", _canonical(frozen))

    def to_json(self) -> Any:
        """The raw JSON, as plain ``dict``/``list``/scalars (a new copy)."""
        return thaw(self.json)

    def __setattr__(self, name: str, value: Any) -> None:
        raise attrs.exceptions.FrozenInstanceError

    def __delattr__(self, name: str) -> None:
        raise attrs.exceptions.FrozenInstanceError

    def __eq__(self, other: object) -> bool:
        if type(other) is Unknown:
            return self._key == other._key
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Unknown, self._key))

    def __repr__(self) -> str:
        return f"Unknown({redact(self.to_json())!r})"

    def __reduce__(self) -> tuple[type[Unknown], tuple[Any]]:
        return Unknown, (self.to_json(),)


def _canonical(frozen: Any) -> str:
    return json.dumps(thaw(frozen), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_checked(raw: Any, path: str) -> Any:
    """``raw`` frozen, if it is JSON data (objects with string keys, arrays,
    strings, finite numbers, booleans, null, nested at most ``MAX_JSON_DEPTH``
    deep); else :class:`~optstate.InvalidOption` naming the path below ``path``
    where it is not (below a key named like a secret, that key's path, so the
    message hides the value)."""
    # (value, its path, depth, the secret-named ancestor (path, value) or None)
    stack: list[tuple[Any, str, int, tuple[str, Any] | None]] = [(raw, path, 0, None)]
    while stack:
        value, where, depth, secret = stack.pop()
        if value is None or type(value) in (str, bool, int):
            continue
        if type(value) is float and math.isfinite(value):
            continue
        if type(value) is float:
            rule = "must be JSON data (a finite number)"
        elif depth >= MAX_JSON_DEPTH:
            rule = f"must be JSON data nested at most {MAX_JSON_DEPTH} deep"
        elif type(value) is dict or isinstance(value, PMap):
            for k, v in value.items():
                below = f"{where}.{k}" if where else str(k)
                if type(k) is not str:
                    if secret is not None:
                        raise InvalidOption(*secret, "must be JSON data (objects, arrays, strings, numbers)")
                    raise InvalidOption(below, k, "must be a string key")
                stack.append((v, below, depth + 1, secret or ((below, v) if is_secret_name(k) else None)))
            continue
        elif type(value) in (list, tuple) or isinstance(value, PVector):
            stack.extend((v, f"{where}[{i}]", depth + 1, secret) for i, v in enumerate(value))
            continue
        else:
            rule = "must be JSON data (objects, arrays, strings, numbers)"
        if secret is not None:
            raise InvalidOption(*secret, rule)
        raise InvalidOption(where, value, rule)
    return to_frozen(raw)


def unknown_at(raw: Any, path: str) -> Unknown:
    """``Unknown(raw)``, with an error naming the place below ``path`` where
    ``raw`` is not JSON."""
    if type(raw) is Unknown:
        return raw
    json_checked(raw, path)
    return Unknown(raw)


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """While inside, records may hold :class:`Unknown` values: optstate is
    reading what a server reported (decoders, and models of a server applying
    what they decoded). Never around an application's write."""
    token = _READING.set(True)
    try:
        yield
    finally:
        _READING.reset(token)


def is_reading() -> bool:
    """Whether :func:`reading` is in force."""
    return _READING.get()


def admit(path: str, value: Any) -> None:
    """Let the :class:`Unknown` ``value`` be held at ``path``: only while
    :func:`reading`; else :class:`~optstate.InvalidOption`."""
    if not _READING.get():
        raise InvalidOption(path, value, UNWRITABLE)


def admitting(validator: Validator | None) -> Validator:
    """``validator``, which first decides about :class:`Unknown` values with
    :func:`admit` (every leaf of the schema is checked through this)."""

    def check(inst: Any, a: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is Unknown:
            admit(a.name, value)
        elif validator is not None:
            validator(inst, a, value)

    return check
