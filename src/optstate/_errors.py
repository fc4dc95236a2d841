"""The exceptions optstate raises.

Every exception derives from :class:`OptStateError`; the ones about a bad value
also derive from the builtin :class:`ValueError`, so ``except ValueError`` in
caller code keeps working::

    OptStateError(Exception)
     +-- InvalidOption(OptStateError, ValueError)    a value, a path or a name is not allowed
     |    +-- UnsupportedInDialect(InvalidOption)     valid, but the wire dialect cannot say it
     +-- StaleSession(OptStateError, RuntimeError)   a closed session was used

Errors about a value carry it as data: ``path`` (a dotted string such as
``"audio.output.speed"``), ``value`` and ``rule`` (what was expected), and their
message reads ``audio.output.speed must be between 0.25 and 1.5 (got 2.0)``.
Values that may hold secrets are never shown: see :func:`safe_repr`.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import Any

import attrs
from pyrsistent import PMap, PVector, pmap, pvector

__all__ = [
    "InvalidOption",
    "OptStateError",
    "StaleSession",
    "UnsupportedInDialect",
    "redact",
    "safe_repr",
    "scrub",
    "secret_strings",
]

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = 6
_REPR.maxdict = 6
_REPR.maxlevel = 3

#: Path segments whose values are secrets; they are shown as ``'<redacted>'``.
SECRET_NAMES = frozenset({"authorization", "headers", "api_key", "client_secret"})

#: How deep :func:`redact` looks into nested data; anything deeper is hidden.
_REDACT_DEPTH = 32


class _Hidden(str):
    """Stands for a hidden value in a repr: shows as ``'<redacted>'``."""

    __slots__ = ()


_HIDDEN = _Hidden("<redacted>")


def is_secret_name(key: object) -> bool:
    """Whether a field or mapping key names a secret (case-insensitive)."""
    return type(key) is str and key.lower() in SECRET_NAMES


def redact(value: Any, _depth: int = 0) -> Any:
    """``value`` with every secret hidden, for showing it: in dicts, ``PMap``s,
    lists, tuples and ``PVector``s, the value under a key named like a secret
    (``authorization``, ``headers``, ``api_key``, ``client_secret``, any case)
    becomes ``'<redacted>'``. Records redact their secret fields in their own
    repr. Returns ``value`` itself when nothing needed hiding."""
    if _depth > _REDACT_DEPTH:
        return _HIDDEN
    if isinstance(value, dict | PMap):
        out = {
            k: _HIDDEN if is_secret_name(k) and v is not None else redact(v, _depth + 1)
            for k, v in value.items()
        }
        if all(out[k] is v for k, v in value.items()):
            return value
        return pmap(out) if isinstance(value, PMap) else out
    if isinstance(value, list | tuple | PVector):
        items = [redact(v, _depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        if isinstance(value, PVector):
            return pvector(items)
        return items if isinstance(value, list) else tuple(items)
    return value


#: Secret strings shorter than this are not scrubbed from free text (they would
#: blank out ordinary words).
_MIN_SECRET = 6


def secret_strings(value: Any, _depth: int = 0) -> frozenset[str]:
    """Every string held under a secret name (see :func:`is_secret_name`) in
    ``value``: in records' fields, dicts, ``PMap``s and sequences, and all the
    strings below such a name (header values, say). For :func:`scrub`."""
    found: set[str] = set()
    _collect(value, False, found, _depth)
    return frozenset(found)


def _collect(value: Any, secret: bool, found: set[str], depth: int) -> None:
    if depth > _REDACT_DEPTH:
        return
    if type(value) is str:
        if secret and len(value) >= _MIN_SECRET:
            found.add(value)
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            _collect(v, secret or is_secret_name(k), found, depth + 1)
    elif isinstance(value, list | tuple | PVector):
        for v in value:
            _collect(v, secret, found, depth + 1)
    elif attrs.has(type(value)):
        for a in attrs.fields(type(value)):
            _collect(getattr(value, a.name), secret or is_secret_name(a.name), found, depth + 1)


def scrub(text: str, secrets: frozenset[str]) -> str:
    """``text`` (free text, such as a server's error message, which may echo what
    it was sent) with each of ``secrets`` in it replaced by ``<redacted>``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, _HIDDEN)
    return text


def safe_repr(value: Any) -> str:
    """Return a short repr of ``value`` for messages: long strings and
    collections are cut, secrets in plain data are hidden (:func:`redact`), and
    records redact their secret fields themselves."""
    return _REPR.repr(redact(value))


class OptStateError(Exception):
    """The root of every exception optstate raises."""


class InvalidOption(OptStateError, ValueError):
    """A value, a field name or a path that the options schema does not allow.

    Attributes: ``path`` (dotted field path; ``""`` for the whole state),
    ``value`` (the rejected value) and ``rule`` (what the value must be).
    """

    path: str
    value: Any
    rule: str

    def __init__(self, path: str, value: Any, rule: str) -> None:
        self.path = path
        self.value = value
        self.rule = rule
        super().__init__(path, value, rule)

    def __str__(self) -> str:
        last = self.path.rpartition(".")[2].partition("[")[0]
        shown = "<redacted>" if is_secret_name(last) else safe_repr(self.value)
        path = self.path if len(self.path) <= 200 else f"{self.path[:120]}...{self.path[-40:]}"
        return f"{path or 'options'} {self.rule} (got {shown})"

    def __repr__(self) -> str:
        # Never the raw ``args``: they hold the value, which may be a secret.
        return f"{type(self).__name__}({str(self)!r})"

    def located(self, prefix: str) -> InvalidOption:
        """Return the same error with ``prefix`` put before its path."""
        if not prefix:
            return self
        joined = not self.path or self.path.startswith("[")
        path = prefix + self.path if joined else f"{prefix}.{self.path}"
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.path = path
        new.args = (path, self.value, self.rule)
        return new


class UnsupportedInDialect(InvalidOption):
    """A valid value that the chosen wire dialect (``beta``) has no way to express."""


class StaleSession(OptStateError, RuntimeError):
    """A session was used after it was closed."""
