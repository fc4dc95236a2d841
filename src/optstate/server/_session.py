"""One connection's session on the loopback server, and what it does with each client message."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .._errors import InvalidOption
from .._patch import apply
from ..openai import Dialect, RealtimeOptions, decode_update, encode_session, refusals
from ..openai._dialects import FLAT_DIALECTS
from ._controls import Controls
from ._events import Events
from ._official import Validator

#: A beta ``response.create``'s name for ``output_modalities``.
_FLAT_MODALITIES = FLAT_DIALECTS["beta"].wire_path("output_modalities")

__all__ = ["REFUSAL_CODES", "ServerSession", "UpdateOutcome"]

#: Error codes for the changes the server refuses (by option path).
REFUSAL_CODES = {
    "model": "cannot_update_model",
    "audio.output.voice": "cannot_update_voice",
    "tracing": "cannot_update_tracing",
}

_Replies = list[dict[str, Any]]


@attrs.frozen
class UpdateOutcome:
    """What the server did with one ``session.update``: applied (``error`` is
    ``None``) or refused (``error`` is the ``error`` object of its answer).

    It is recorded when the update is handled, also when its answer is never sent
    (:meth:`~optstate.server.RealtimeServer.mute`, a drop). ``event`` is the client
    event as received; ``state`` is what the session held after it.
    """

    event: dict[str, Any]
    error: dict[str, Any] | None
    state: RealtimeOptions

    @property
    def applied(self) -> bool:
        """Whether the update changed the session (``error`` is ``None``)."""
        return self.error is None


class ServerSession:
    """One connection to the server and the session it holds.

    Attributes: ``index`` (connection order, from 0), ``dialect`` (``"ga"``,
    ``"beta"`` or ``"xai"``), ``path``, ``query`` and ``headers`` of the upgrade request, ``id``
    (the ``sess_...`` id), ``initial`` (the state it started from, as its
    ``session.created`` showed it: :func:`~optstate.server.server_defaults`),
    ``state`` (the :class:`~optstate.openai.RealtimeOptions` the server holds now),
    ``audio_started`` (voice is locked), ``received`` (every client message, in
    order: the parsed JSON, or the raw text/bytes when it was not JSON),
    ``updates`` (an :class:`UpdateOutcome` for each ``session.update``, in order),
    ``sent`` (every server event put on the wire), ``items`` (the ids of the
    conversation items the client created, in order) and ``closed``.
    """

    def __init__(
        self,
        index: int,
        dialect: Dialect,
        state: RealtimeOptions,
        *,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        events: Events,
        controls: Controls,
        validator: Validator | None,
    ) -> None:
        self.index = index
        self.dialect: Dialect = dialect
        self.path = path
        self.query: dict[str, str] = dict(query)
        self.headers: dict[str, str] = dict(headers)
        self.id = f"sess_optstate_{index}"
        self.initial = state
        self.state = state
        self.audio_started = False
        self.received: list[Any] = []
        self.updates: list[UpdateOutcome] = []
        self.sent: list[dict[str, Any]] = []
        self.closed = False
        self.items: list[str] = []  # conversation item ids, in order
        self._events = events
        self._controls = controls
        self._validator = validator

    @property
    def session(self) -> dict[str, Any]:
        """The session object the server holds, as a GA dict (``id`` and ``object`` included)."""
        return {"id": self.id, "object": "realtime.session", **encode_session(self.state)}

    def __repr__(self) -> str:
        status = "closed" if self.closed else "open"
        return f"<ServerSession {self.index} {self.dialect} {self.path} {status}>"

    # -- client messages -----------------------------------------------------

    def receive(self, message: str | bytes) -> _Replies:
        """Log one client message and handle it; return the server's replies
        (sent by the server, which honours its delays)."""
        if isinstance(message, bytes):
            self.received.append(message)
            return [self._events.error("invalid_event", "binary frames are not events")]
        try:
            event = json.loads(message)
        except ValueError as e:
            self.received.append(message)
            return [self._events.error("invalid_json", f"the message is not JSON: {e}")]
        self.received.append(event)
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            message = "an event must be a JSON object with a string 'type'"
            return [self._events.error("invalid_event", message)]
        raw_id = event.get("event_id")
        client_id = raw_id if isinstance(raw_id, str) else None
        handler = _HANDLERS.get(event["type"])
        if handler is None:
            message = f"unknown client event type {event['type']!r}"
            return [self._events.error("unknown_event", message, param="type", client_id=client_id)]
        return handler(self, event, client_id)

    def _on_session_update(self, event: dict[str, Any], client_id: str | None) -> _Replies:
        reply = self._update(event, client_id)
        error = reply["error"] if reply["type"] == "error" else None
        self.updates.append(UpdateOutcome(event=event, error=error, state=self.state))
        return [reply]

    def _update(self, event: dict[str, Any], client_id: str | None) -> dict[str, Any]:
        """Apply one ``session.update``, or change nothing; return the answer."""
        error = self._events.error
        failure = self._controls.take_failure(self.index)
        if failure is not None:
            return error(failure.code, failure.message, param=failure.param, client_id=client_id)
        session: Any = event.get("session")  # decode_update rejects a non-object
        try:
            change = decode_update(session, self.dialect)
        except InvalidOption as e:
            return error("invalid_value", str(e), param=self._param(e.path), client_id=client_id)
        if self._validator is not None:
            problem = self._validator(event, self.dialect)
            if problem is not None:
                message, param = problem
                return error("invalid_value", message, param=param, client_id=client_id)
        refused = refusals(self.state, change, audio_started=self.audio_started)
        if refused:
            r = refused[0]
            code = REFUSAL_CODES.get(r.path, "invalid_value")
            return error(code, f"{r.path} {r.reason}", param=self._param(r.path), client_id=client_id)
        try:
            new = apply(self.state, change)
            encode_session(new, self.dialect)  # the dialect must be able to show it
        except InvalidOption as e:
            return error("invalid_value", str(e), param=self._param(e.path), client_id=client_id)
        self.state = new
        return self._events.session("session.updated", self.id, self.state, self.dialect)

    def _param(self, path: str) -> str | None:
        """An option path as an error's ``param``: ``"session."`` and the wire path."""
        if not path:
            return None
        if path == "session" or path.startswith("session."):
            return path
        flat = FLAT_DIALECTS.get(self.dialect)
        return f"session.{path if flat is None else flat.wire_path(path)}"

    def _on_commit(self, event: dict[str, Any], client_id: str | None) -> _Replies:
        previous = self.items[-1] if self.items else None
        committed = self._events.event
        item_id = self._events.new_id("item")
        return [committed("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id)]

    def _on_clear(self, event: dict[str, Any], client_id: str | None) -> _Replies:
        return [self._events.event("input_audio_buffer.cleared")]

    def _on_item_create(self, event: dict[str, Any], client_id: str | None) -> _Replies:
        item = event.get("item")
        if not isinstance(item, dict):
            message = "conversation.item.create needs an 'item' object"
            code = "missing_required_parameter"
            return [self._events.error(code, message, param="item", client_id=client_id)]
        item = {**item, "id": item.get("id") or self._events.new_id("item")}
        previous = event.get("previous_item_id")
        if previous in self.items:
            self.items.insert(self.items.index(previous) + 1, item["id"])
        else:
            previous = self.items[-1] if self.items else None
            self.items.append(item["id"])
        kind = "conversation.item.created" if self.dialect == "beta" else "conversation.item.added"
        return [self._events.event(kind, previous_item_id=previous, item=item)]

    def _on_item_delete(self, event: dict[str, Any], client_id: str | None) -> _Replies:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            message = "conversation.item.delete needs an 'item_id'"
            code = "missing_required_parameter"
            return [self._events.error(code, message, param="item_id", client_id=client_id)]
        if item_id in self.items:
            self.items.remove(item_id)
        return [self._events.event("conversation.item.deleted", item_id=item_id)]

    def _on_item_truncate(self, event: dict[str, Any], client_id: str | None) -> _Replies:
        fields = {k: event.get(k) for k in ("item_id", "content_index", "audio_end_ms")}
        return [self._events.event("conversation.item.truncated", **fields)]

    def _on_response_create(self, event: dict[str, Any], client_id: str | None) -> _Replies:
        params = event.get("response")
        params = params if isinstance(params, dict) else {}
        modalities = params.get("output_modalities") or params.get(_FLAT_MODALITIES)
        if not isinstance(modalities, list):
            modalities = list(self.state.output_modalities)
        audio = self._controls.audio_of(self.index) and "audio" in modalities
        if audio:
            self.audio_started = True
        return self._events.response(self.dialect, params.get("metadata"), audio=audio)

    def _no_reply(self, event: dict[str, Any], client_id: str | None) -> _Replies:
        return []


_HANDLERS: dict[str, Callable[[ServerSession, dict[str, Any], str | None], _Replies]] = {
    "session.update": ServerSession._on_session_update,
    "input_audio_buffer.append": ServerSession._no_reply,
    "input_audio_buffer.commit": ServerSession._on_commit,
    "input_audio_buffer.clear": ServerSession._on_clear,
    "conversation.item.create": ServerSession._on_item_create,
    "conversation.item.delete": ServerSession._on_item_delete,
    "conversation.item.truncate": ServerSession._on_item_truncate,
    "response.create": ServerSession._on_response_create,
    "response.cancel": ServerSession._no_reply,
    "output_audio_buffer.clear": ServerSession._no_reply,
}
