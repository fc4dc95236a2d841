"""The check of an xAI ``session.update``: the harness' and the loopback server's
validator for the ``xai`` dialect.

xAI publishes no schema package, so the check is optstate's own, built from the
xAI table and its value rules in :mod:`._dialects` (each says its source: xAI's
Voice Agent guide and agent-builder pages, and livekit-plugins-xai 1.8.9):

* the event is ``{"type": "session.update", "session": {...}}`` with an optional
  ``event_id`` and nothing else;
* every key of the session is an option of the xAI table (``voice`` and
  ``turn_detection`` at the top level, the rest nested as in GA), or ``type:
  "realtime"``; every value is one optstate's records accept at that option;
* the values xAI refuses (:func:`~._dialects.xai_check`): voices, turn detection
  type, transcription models, audio formats and rates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import InvalidOption
from ._dialects import xai_check
from ._wire import decode_update

__all__ = ["validate_xai_event"]


def validate_xai_event(event: Mapping[str, Any]) -> None:
    """Raise :class:`~optstate.InvalidOption` (its path starting ``session.``, or
    naming the event key) unless ``event`` is a ``session.update`` xAI accepts."""
    if not isinstance(event, Mapping):
        raise InvalidOption("event", event, "must be an object")
    if event.get("type") != "session.update":
        raise InvalidOption("type", event.get("type"), "must be 'session.update'")
    for key in event:
        if key not in ("type", "session", "event_id"):
            raise InvalidOption(str(key), event[key], "is not a key of xAI's session.update")
    session = event.get("session")
    if not isinstance(session, Mapping):
        raise InvalidOption("session", session, "must be an object")
    try:
        decode_update(session, "xai")
        xai_check(session)
    except InvalidOption as e:
        raise type(e)(f"session.{e.path}", e.value, e.rule) from None
