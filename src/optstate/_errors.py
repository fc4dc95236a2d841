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
from typing import Any

__all__ = [
    "InvalidOption",
    "OptStateError",
    "StaleSession",
    "UnsupportedInDialect",
    "safe_repr",
]

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = 6
_REPR.maxdict = 6
_REPR.maxlevel = 3

#: Path segments whose values are secrets; they are shown as ``'<redacted>'``.
SECRET_NAMES = frozenset({"authorization", "headers", "api_key", "client_secret"})


def safe_repr(value: Any) -> str:
    """Return a short repr of ``value`` for messages: long strings and
    collections are cut, and records redact their secret fields themselves."""
    return _REPR.repr(value)


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
        last = self.path.rpartition(".")[2]
        shown = "<redacted>" if last in SECRET_NAMES else safe_repr(self.value)
        return f"{self.path or 'options'} {self.rule} (got {shown})"

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
