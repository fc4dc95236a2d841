"""Validation against the official schema: the ``openai`` package's models.

An edge module: it imports ``openai`` (install ``pip install 'optstate[dev]'``)
and is never imported by the rest of optstate. The package's models accept
unknown keys silently, so :func:`validate_event` also walks the parsed model
and rejects any key the schema does not define.

The ``beta`` dialect is what Azure's api-versions are sent (see
``optstate.openai._dialects.BETA``): the package's beta session, plus
``reasoning``, which livekit's Azure conversion carries outside that model; it
is validated against the GA ``RealtimeReasoning`` model.
"""

from __future__ import annotations

from typing import Any

try:
    from openai.types.beta.realtime.session_update_event import (
        Session as BetaSession,
    )
    from openai.types.beta.realtime.session_update_event import (
        SessionUpdateEvent as BetaSessionUpdateEvent,
    )
    from openai.types.realtime import RealtimeReasoning, RealtimeSessionCreateRequest, SessionUpdateEvent
    from pydantic import BaseModel, ValidationError
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("optstate.openai.official needs the openai package: pip install 'optstate[dev]'") from e

from .._errors import OptStateError

__all__ = ["SchemaViolation", "validate_event"]


class SchemaViolation(OptStateError, ValueError):
    """An event the official ``openai`` schema rejects (or has unknown keys)."""


def validate_event(event: dict[str, Any], dialect: str = "ga") -> None:
    """Raise :class:`SchemaViolation` unless ``event`` is a ``session.update`` the
    official schema of ``dialect`` accepts, with no key it does not define."""
    try:
        if dialect == "ga":
            SessionUpdateEvent.model_validate(event)
            parsed: BaseModel = RealtimeSessionCreateRequest.model_validate(event["session"])
        elif dialect == "beta":
            session = dict(event["session"])
            reasoning = session.pop("reasoning", None)  # null clears it, as in GA
            if reasoning is not None:
                _no_extras(RealtimeReasoning.model_validate(reasoning), "session.reasoning")
            BetaSessionUpdateEvent.model_validate({**event, "session": session})
            parsed = BetaSession.model_validate(session)
        else:
            raise SchemaViolation(f"unknown dialect {dialect!r}")
    except (ValidationError, KeyError, TypeError) as e:
        raise SchemaViolation(f"{dialect} session.update rejected by the official schema: {e}") from e
    extra = set(event) - {"type", "session", "event_id"}
    if extra:
        raise SchemaViolation(f"unknown event keys {sorted(extra)}")
    _no_extras(parsed, "session")


def _no_extras(value: Any, path: str) -> None:
    if isinstance(value, BaseModel):
        if value.model_extra:
            raise SchemaViolation(f"{path} has keys the schema does not define: {sorted(value.model_extra)}")
        for name in type(value).model_fields:
            _no_extras(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _no_extras(item, f"{path}[{i}]")
