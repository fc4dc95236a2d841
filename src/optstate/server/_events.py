"""The server events the loopback server sends, each with an id unique to the server."""

from __future__ import annotations

import base64
import itertools
from typing import Any

from ..openai import Dialect, RealtimeOptions, encode_session

__all__ = ["Events"]

#: 10 ms of silence: 24 kHz, 16-bit mono PCM.
_SILENCE = base64.b64encode(bytes(480)).decode("ascii")


class Events:
    """Builds server events as the real API shapes them; one per server, so every
    ``event_...``, ``item_...`` and ``resp_...`` id it hands out is new."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def new_id(self, kind: str) -> str:
        """A fresh id: ``event_optstate_7``, ``item_optstate_8``, ..."""
        return f"{kind}_optstate_{next(self._ids)}"

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        """A server event of type ``kind`` with a fresh ``event_id`` and ``fields``."""
        return {"type": kind, "event_id": self.new_id("event"), **fields}

    def session(self, kind: str, session_id: str, state: RealtimeOptions, dialect: Dialect) -> dict[str, Any]:
        """``session.created`` or ``session.updated`` (``kind``) holding ``state`` in ``dialect``."""
        session = {"id": session_id, "object": "realtime.session", **encode_session(state, dialect)}
        return self.event(kind, session=session)

    def error(
        self, code: str, message: str, *, param: str | None = None, client_id: str | None = None
    ) -> dict[str, Any]:
        """An ``error`` event; ``client_id`` is the ``event_id`` of the client event it answers."""
        error = {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_id,
        }
        return self.event("error", error=error)

    def response(self, dialect: Dialect, metadata: Any, *, audio: bool) -> list[dict[str, Any]]:
        """The events of one response: created, then (with ``audio``) one assistant
        message streaming a little silence, then done."""
        response_id = self.new_id("resp")

        def response(status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
            return {
                "id": response_id,
                "object": "realtime.response",
                "status": status,
                "status_details": None,
                "output": output,
                "metadata": metadata,
                "usage": None,
            }

        events = [self.event("response.created", response=response("in_progress", []))]
        output: list[dict[str, Any]] = []
        if audio:
            beta = dialect == "beta"
            item_id = self.new_id("item")
            where = {"response_id": response_id, "output_index": 0}
            part_at = {**where, "item_id": item_id, "content_index": 0}
            content = {"type": "audio" if beta else "output_audio", "transcript": ""}
            part = {"type": "audio", "transcript": ""}
            item = {
                "id": item_id,
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
            done_item = {**item, "status": "completed", "content": [content]}
            audio_event = "response.audio" if beta else "response.output_audio"
            events += [
                self.event("response.output_item.added", **where, item=item),
                self.event("response.content_part.added", **part_at, part=part),
                self.event(f"{audio_event}.delta", **part_at, delta=_SILENCE),
                self.event(f"{audio_event}.done", **part_at),
                self.event("response.content_part.done", **part_at, part=part),
                self.event("response.output_item.done", **where, item=done_item),
            ]
            output.append(done_item)
        events.append(self.event("response.done", response=response("completed", output)))
        return events
