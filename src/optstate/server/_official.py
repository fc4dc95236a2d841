"""The check of a client's ``session.update`` against the official ``openai`` models
(for the xAI dialect, which has none: optstate's own check, :mod:`optstate.openai._xai`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from .._errors import InvalidOption
from ..openai import Dialect
from ..openai._xai import validate_xai_event

__all__ = ["Validator", "official_validator"]

#: A check of one client event: ``None`` when it is valid, else the error's
#: ``message`` and ``param``.
Validator = Callable[[dict[str, Any], Dialect], "tuple[str, str | None] | None"]


def official_validator() -> Validator | None:
    """A check against the official ``openai`` models, or None without that package."""
    try:
        from ..openai.official import SchemaViolation, validate_event
    except ImportError:
        return None

    def check(event: dict[str, Any], dialect: Dialect) -> tuple[str, str | None] | None:
        if dialect == "xai":
            try:
                validate_xai_event(event)
            except InvalidOption as e:
                return f"xai session.update rejected: {e}", e.path if e.path.startswith("session") else None
            return None
        if dialect == "beta" and isinstance(event.get("session"), dict):
            # Azure names the model by deployment, outside beta's list of model names.
            session = {k: v for k, v in event["session"].items() if k != "model"}
            event = {**event, "session": session}
        try:
            validate_event(event, dialect)
        except SchemaViolation as e:
            return str(e), _schema_param(e)
        return None

    return check


def _schema_param(e: Exception) -> str | None:
    """The dotted path a schema violation names, when it can be told."""
    path = getattr(e, "path", None)
    if isinstance(path, str) and path:
        return path if path.startswith("session") else f"session.{path}"
    errors = getattr(e.__cause__, "errors", None)
    if callable(errors):
        with contextlib.suppress(Exception):
            loc = errors()[0]["loc"]
            # pydantic names union members by class ("RealtimeSessionCreateRequest"): skip them.
            path = ""
            for p in loc:
                if isinstance(p, int):
                    path += f"[{p}]"
                elif not p[:1].isupper():
                    path += f".{p}" if path else str(p)
            return path or None
    head = str(e).split(" ", 1)[0]
    return head if head.startswith("session.") else None
