"""The OpenAI Realtime wire codec a :class:`~optstate.Store` uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .._codec import Refusal, register_codec
from .._patch import Patch, full_patch
from ._dialects import FLAT_DIALECTS
from ._rules import refusals
from ._schema import RealtimeOptions
from ._wire import Copies, Dialect, decode, encode, session_update

__all__ = ["OpenAICodec"]

#: Server events that carry model audio output (GA and beta names).
AUDIO_EVENTS = frozenset({"response.output_audio.delta", "response.audio.delta"})


@attrs.frozen
class OpenAICodec:
    """``session.update`` events in the ``ga`` or ``beta`` dialect, the server
    rules of :func:`refusals`, and what a new connection must be sent."""

    dialect: Dialect = attrs.field(default="ga", validator=attrs.validators.in_(("ga", *FLAT_DIALECTS)))
    # ``[(change, its copier or None)]``: the change encoded last and, once it was
    # encoded a second time, what makes a fresh copy of its session object (a
    # one-item box: the record itself is frozen).
    _last: list[Any] = attrs.field(factory=lambda: [None], init=False, eq=False, repr=False)

    def encode(self, change: Patch, *, event_id: str) -> dict[str, Any] | None:
        """The ``session.update`` for ``change`` (``None`` if empty).

        After a model-level write, the sessions on shared state encode the same
        change object one after another: from the third on, the session object
        is a copy of one kept from the second (:class:`Copies`) instead of being
        encoded again. Every event has its own dicts (a caller may change its
        event)."""
        box = self._last
        last = box[0]
        if last is not None and last[0] is change:
            copies = last[1]
            if copies is not None:
                return session_update(copies(), event_id)
            event = encode(change, self.dialect, event_id=event_id)
            if event is not None:
                box[0] = (change, Copies(event["session"]))
            return event
        box[0] = (change, None)
        return encode(change, self.dialect, event_id=event_id)

    def decode(self, session: Mapping[str, Any]) -> RealtimeOptions:
        """The state a ``session.created``/``session.updated`` session object holds."""
        return decode(session, self.dialect)

    def refusals(self, held: RealtimeOptions, change: Patch, *, audio_started: bool) -> tuple[Refusal, ...]:
        """Changes the live server refuses (model, voice after audio, tracing once on)."""
        return refusals(held, change, audio_started=audio_started)

    def connect_patch(self, desired: RealtimeOptions) -> Patch:
        """Every option but ``model``, which a connection chooses in its URL."""
        return full_patch(desired).without({"model"})

    def fresh(self, desired: RealtimeOptions) -> RealtimeOptions:
        """A new connection's server state: the defaults, with the connection's model."""
        return RealtimeOptions(model=desired.model)

    def param_path(self, param: str) -> str | None:
        """``"session.audio.output.speed"`` -> ``"audio.output.speed"`` (GA wire names
        are the field names); a flat dialect's names are mapped back to GA paths
        (``"session.turn_detection.threshold"`` -> ``"audio.input.turn_detection.threshold"``)."""
        if not param:
            return None
        path = param.removeprefix("session.")
        flat = FLAT_DIALECTS.get(self.dialect)
        return path if flat is None else flat.ga_path(path)

    def audio_started(self, event: Mapping[str, Any]) -> bool:
        """True for the events that stream model audio."""
        return event.get("type") in AUDIO_EVENTS


register_codec(RealtimeOptions, OpenAICodec)
