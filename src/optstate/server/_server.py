"""A loopback OpenAI-Realtime-compatible websocket server that applies optstate's semantics.

An edge module for tests: it imports ``aiohttp`` (``pip install 'optstate[server]'``)
and is never imported by the core. Start it from an event loop::

    async with RealtimeServer() as server:
        model = RealtimeModel(base_url=server.base_url, api_key="x")  # livekit, or any client
        ...
        assert server.states[0].audio.output.speed == 1.5

What it does with each connection (one *session*, numbered in connection order):

* on connect it sends ``session.created`` holding ``RealtimeOptions(model=...)``, the
  documented defaults with the ``model`` of the URL;
* a ``session.update`` becomes a patch (:func:`~optstate.openai.decode_update`), is
  checked against the official schema when the ``openai`` package is installed, and
  against the server rules (:func:`~optstate.openai.refusals`); then it is applied
  with :func:`optstate.apply` and answered by ``session.updated``, or it changes
  nothing and is answered by an ``error`` naming the client's ``event_id``;
* the other client events a realtime plugin sends are accepted and answered the way
  the plugin expects; unknown events and malformed JSON get an ``error`` and the
  connection stays open.

``/v1/realtime?model=...`` (and ``/openai/v1/realtime``) speak the GA dialect;
Azure's legacy ``/openai/realtime?api-version=...&deployment=...`` speaks the beta one.

Test controls (:meth:`RealtimeServer.fail_next_update`, :meth:`~RealtimeServer.drop_after`,
:meth:`~RealtimeServer.mute`, ...) inject faults; :attr:`~RealtimeServer.received` and
:attr:`~RealtimeServer.sent` log the traffic of every session.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import math
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

try:
    from aiohttp import WSCloseCode, WSMsgType, web
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("optstate.server needs aiohttp: pip install 'optstate[server]'") from e

from ._errors import InvalidOption
from ._patch import apply
from .openai import Dialect, RealtimeOptions, decode_update, encode_session, refusals
from .openai._dialects import FLAT_DIALECTS

__all__ = ["RealtimeServer", "ServerSession"]

T = TypeVar("T")

#: The model a session holds when its URL names none.
DEFAULT_MODEL: str = RealtimeOptions().model

#: Error codes for the changes the server refuses (by option path).
REFUSAL_CODES = {
    "model": "cannot_update_model",
    "audio.output.voice": "cannot_update_voice",
    "tracing": "cannot_update_tracing",
}

#: 10 ms of silence: 24 kHz, 16-bit mono PCM.
_SILENCE = base64.b64encode(bytes(480)).decode("ascii")

_Handler = Callable[["ServerSession", dict[str, Any], "str | None"], list[dict[str, Any]]]


class ServerSession:
    """One connection to the server and the session it holds.

    Attributes: ``index`` (connection order, from 0), ``dialect`` (``"ga"`` or
    ``"beta"``), ``path``, ``query`` and ``headers`` of the upgrade request, ``id``
    (the ``sess_...`` id), ``state`` (the :class:`~optstate.openai.RealtimeOptions`
    the server holds), ``audio_started`` (voice is locked), ``received`` (every
    client message: the parsed JSON, or the raw text/bytes when it was not JSON),
    ``sent`` (every server event put on the wire), ``items`` (the ids of the
    conversation items the client created, in order) and ``closed``.
    """

    def __init__(
        self,
        index: int,
        dialect: Dialect,
        request: web.Request,
        state: RealtimeOptions,
        ws: web.WebSocketResponse,
    ) -> None:
        self.index = index
        self.dialect: Dialect = dialect
        self.path = request.path
        self.query: dict[str, str] = dict(request.query)
        self.headers: dict[str, str] = dict(request.headers)
        self.id = f"sess_optstate_{index}"
        self.state = state
        self.audio_started = False
        self.received: list[Any] = []
        self.sent: list[dict[str, Any]] = []
        self.closed = False
        self.items: list[str] = []  # conversation item ids, in order
        self._ws = ws
        self._gone = asyncio.Event()  # set when the server closes this connection

    @property
    def session(self) -> dict[str, Any]:
        """The session object the server holds, as a GA dict (``id`` and ``object`` included)."""
        return {"id": self.id, "object": "realtime.session", **encode_session(self.state)}

    def __repr__(self) -> str:
        status = "closed" if self.closed else "open"
        return f"<ServerSession {self.index} {self.dialect} {self.path} {status}>"


class RealtimeServer:
    """An OpenAI-Realtime-compatible websocket server on 127.0.0.1 (a free port).

    Use it as an async context manager; :attr:`base_url` is what a client's
    ``base_url`` should be. ``validate`` chooses whether ``session.update`` events
    are checked against the official ``openai`` models: ``None`` (the default)
    checks when that package is installed.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model: str = DEFAULT_MODEL,
        validate: bool | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._model = model
        self._validator = _official_validator() if validate is None or validate else None
        if validate and self._validator is None:
            raise ImportError("validate=True needs the openai package: pip install 'optstate[test]'")
        self._runner: web.AppRunner | None = None
        self._bound: int | None = None
        self._conns: list[ServerSession] = []
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        # Test controls.
        self._failures: list[tuple[int | None, str, str, str | None]] = []
        self._drops: list[list[Any]] = []  # [session or None, messages left]
        self._delays: dict[int | None, float] = {None: 0.0}
        self._audio: dict[int | None, bool] = {None: False}
        self._handlers: dict[str, _Handler] = {
            "session.update": self._on_session_update,
            "input_audio_buffer.append": _no_reply,
            "input_audio_buffer.commit": self._on_commit,
            "input_audio_buffer.clear": self._on_clear,
            "conversation.item.create": self._on_item_create,
            "conversation.item.delete": self._on_item_delete,
            "conversation.item.truncate": self._on_item_truncate,
            "response.create": self._on_response_create,
            "response.cancel": _no_reply,
            "output_audio_buffer.clear": _no_reply,
        }

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Listen on ``host`` (127.0.0.1) and a free port; return once accepting."""
        if self._runner is not None:
            raise RuntimeError("RealtimeServer already started")
        app = web.Application()
        for path in ("/v1/realtime", "/openai/v1/realtime", "/openai/realtime"):
            app.router.add_get(path, self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._bound = int(runner.addresses[0][1])

    async def close(self) -> None:
        """Close every open connection (close code 1001), then stop listening."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await asyncio.gather(*(self._close(c, WSCloseCode.GOING_AWAY) for c in self._conns))
        await runner.cleanup()

    async def __aenter__(self) -> RealtimeServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- where and what ------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._bound is None:
            raise RuntimeError("RealtimeServer is not started")
        return self._bound

    @property
    def base_url(self) -> str:
        """``ws://127.0.0.1:PORT/v1``: a client's ``base_url`` (it appends ``/realtime?model=``)."""
        return f"ws://{self._host}:{self.port}/v1"

    @property
    def azure_endpoint(self) -> str:
        """``http://127.0.0.1:PORT``: an Azure client's endpoint (``/openai/realtime`` is beta)."""
        return f"http://{self._host}:{self.port}"

    @property
    def connections(self) -> list[ServerSession]:
        """Every connection so far, in connection order (closed ones included)."""
        return list(self._conns)

    @property
    def sessions(self) -> list[dict[str, Any]]:
        """Each session's current session object as a GA dict (see :func:`encode_session`),
        in connection order; a closed connection keeps its last state."""
        return [c.session for c in self._conns]

    @property
    def states(self) -> list[RealtimeOptions]:
        """Each session's current state, in connection order."""
        return [c.state for c in self._conns]

    @property
    def received(self) -> list[list[Any]]:
        """Each session's client messages, in order (parsed JSON, or the raw data)."""
        return [c.received for c in self._conns]

    @property
    def sent(self) -> list[list[dict[str, Any]]]:
        """Each session's server events as sent, in order (``session.created`` first)."""
        return [c.sent for c in self._conns]

    # -- test controls -------------------------------------------------------

    def fail_next_update(
        self,
        code: str = "invalid_value",
        message: str = "session.update rejected (fail_next_update)",
        *,
        session: int | None = None,
        param: str | None = None,
    ) -> None:
        """Make the next ``session.update`` of ``session`` (of any session when
        ``None``) fail: it changes nothing and is answered by an ``error`` with this
        ``code``, ``message`` and ``param`` and the client's ``event_id``. Calls queue up."""
        self._failures.append((session, code, message, param))

    def drop_after(self, n_messages: int, *, session: int | None = None) -> None:
        """Close a connection from the server side after ``n_messages`` more client
        messages: those of ``session``, or of all sessions together when ``None``.
        The last message is handled and answered first; the close code is 1011."""
        if n_messages < 1:
            raise ValueError(f"n_messages must be >= 1 (got {n_messages})")
        self._drops.append([session, n_messages])

    async def drop(self, session: int, *, code: int = WSCloseCode.GOING_AWAY) -> None:
        """Close that session's connection now, from the server side."""
        await self._close(self._conns[session], code)

    def delay(self, seconds: float, *, session: int | None = None) -> None:
        """Answer ``seconds`` late: every later server reply (and ``session.created``)
        of ``session``, or of every session when ``None``. The state changes at once;
        the connection handles its next message once the reply is out.
        ``delay(0)`` answers at once again; ``delay(math.inf)`` is :meth:`mute`."""
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0 (got {seconds})")
        self._set(self._delays, session, float(seconds))

    def mute(self, *, session: int | None = None) -> None:
        """Never answer (the state still changes): a server that went silent."""
        self.delay(math.inf, session=session)

    def unmute(self, *, session: int | None = None) -> None:
        """Answer at once again (same as ``delay(0)``)."""
        self.delay(0, session=session)

    def respond_with_audio(self, enabled: bool = True, *, session: int | None = None) -> None:
        """Make ``response.create`` produce audio (an assistant message streaming
        ``response.output_audio.delta``), which locks the voice, unless the response
        or session is text only."""
        self._set(self._audio, session, enabled)

    async def mark_audio_produced(self, session: int, *, notify: bool = True) -> None:
        """Record that the model produced audio in ``session``: its voice is now locked.

        With ``notify`` the client is also sent a whole unsolicited audio response
        (``response.created`` ... ``response.output_audio.delta`` ... ``response.done``),
        so it can observe it; this bypasses :meth:`delay` and :meth:`mute`.
        """
        conn = self._conns[session]
        conn.audio_started = True
        if notify:
            for event in self._response(conn, None, audio=True):
                await self._send(conn, event)
        self._notify()

    async def send(self, session: int, event: Mapping[str, Any]) -> None:
        """Send one server event to ``session`` now (bypasses :meth:`delay` and :meth:`mute`);
        an ``event_id`` is added when it has none."""
        out = dict(event)
        out.setdefault("event_id", self._event_id())
        await self._send(self._conns[session], out)

    async def wait_for_connections(self, count: int, *, timeout: float = 5.0) -> ServerSession:
        """Wait until ``count`` connections have been made; return the ``count``-th."""

        def ready() -> ServerSession | None:
            return self._conns[count - 1] if len(self._conns) >= count else None

        return await self._wait(ready, timeout, f"{count} connection(s)")

    async def wait_for_close(self, session: int, *, timeout: float = 5.0) -> ServerSession:
        """Wait until that session's connection is closed (by either side); return it."""

        def ready() -> ServerSession | None:
            conns = self._conns
            return conns[session] if len(conns) > session and conns[session].closed else None

        return await self._wait(ready, timeout, f"close of session {session}")

    async def wait_for_event(
        self, event_type: str, *, session: int = 0, count: int = 1, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Wait until ``session`` has received ``count`` client events of ``event_type``
        and the server has handled them; return the ``count``-th."""

        def ready() -> dict[str, Any] | None:
            if len(self._conns) <= session:
                return None
            seen = [e for e in self._conns[session].received if isinstance(e, dict)]
            found = [e for e in seen if e.get("type") == event_type]
            return found[count - 1] if len(found) >= count else None

        return await self._wait(ready, timeout, f"{count} {event_type!r} event(s) on session {session}")

    # -- the connection ------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        dialect: Dialect = "beta" if request.path == "/openai/realtime" else "ga"
        query = request.query
        model = query.get("model") or (query.get("deployment") if dialect == "beta" else None)
        try:
            state = RealtimeOptions(model=model or self._model)
        except InvalidOption as e:
            return web.Response(status=400, text=str(e))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = ServerSession(len(self._conns), dialect, request, state, ws)
        self._conns.append(conn)
        self._notify()
        try:
            await self._reply(conn, [self._session_event(conn, "session.created")])
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    replies = self._on_message(conn, msg.data)
                elif msg.type is WSMsgType.BINARY:
                    conn.received.append(msg.data)
                    replies = [self._error("invalid_event", "binary frames are not events")]
                else:  # pragma: no cover - ERROR frames
                    break
                last = self._count_drop(conn)
                self._notify()
                await self._reply(conn, replies)
                if last:
                    await self._close(conn, WSCloseCode.INTERNAL_ERROR)
                    break
        finally:
            conn.closed = True
            self._notify()
        return ws

    def _on_message(self, conn: ServerSession, data: str) -> list[dict[str, Any]]:
        try:
            event = json.loads(data)
        except ValueError as e:
            conn.received.append(data)
            return [self._error("invalid_json", f"the message is not JSON: {e}")]
        conn.received.append(event)
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return [self._error("invalid_event", "an event must be a JSON object with a string 'type'")]
        raw_id = event.get("event_id")
        client_id = raw_id if isinstance(raw_id, str) else None
        handler = self._handlers.get(event["type"])
        if handler is None:
            message = f"unknown client event type {event['type']!r}"
            return [self._error("unknown_event", message, param="type", client_id=client_id)]
        return handler(conn, event, client_id)

    def _on_session_update(
        self, conn: ServerSession, event: dict[str, Any], client_id: str | None
    ) -> list[dict[str, Any]]:
        failure = self._take_failure(conn.index)
        if failure is not None:
            code, message, param = failure
            return [self._error(code, message, param=param, client_id=client_id)]
        session: Any = event.get("session")  # decode_update rejects a non-object
        try:
            change = decode_update(session, conn.dialect)
        except InvalidOption as e:
            param = _param(e.path, conn.dialect)
            return [self._error("invalid_value", str(e), param=param, client_id=client_id)]
        if self._validator is not None:
            problem = self._validator(event, conn.dialect)
            if problem is not None:
                message, param = problem
                return [self._error("invalid_value", message, param=param, client_id=client_id)]
        refused = refusals(conn.state, change, audio_started=conn.audio_started)
        if refused:
            r = refused[0]
            code = REFUSAL_CODES.get(r.path, "invalid_value")
            param = _param(r.path, conn.dialect)
            return [self._error(code, f"{r.path} {r.reason}", param=param, client_id=client_id)]
        try:
            new = apply(conn.state, change)
            encode_session(new, conn.dialect)  # the dialect must be able to show it
        except InvalidOption as e:
            param = _param(e.path, conn.dialect)
            return [self._error("invalid_value", str(e), param=param, client_id=client_id)]
        conn.state = new
        return [self._session_event(conn, "session.updated")]

    def _on_commit(self, conn: ServerSession, event: dict[str, Any], _: str | None) -> list[dict[str, Any]]:
        previous = conn.items[-1] if conn.items else None
        item_id = f"item_optstate_{next(self._ids)}"
        return [self._event("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id)]

    def _on_clear(self, conn: ServerSession, event: dict[str, Any], _: str | None) -> list[dict[str, Any]]:
        return [self._event("input_audio_buffer.cleared")]

    def _on_item_create(
        self, conn: ServerSession, event: dict[str, Any], client_id: str | None
    ) -> list[dict[str, Any]]:
        item = event.get("item")
        if not isinstance(item, dict):
            message = "conversation.item.create needs an 'item' object"
            return [self._error("missing_required_parameter", message, param="item", client_id=client_id)]
        item = {**item, "id": item.get("id") or f"item_optstate_{next(self._ids)}"}
        previous = event.get("previous_item_id")
        if previous in conn.items:
            conn.items.insert(conn.items.index(previous) + 1, item["id"])
        else:
            previous = conn.items[-1] if conn.items else None
            conn.items.append(item["id"])
        kind = "conversation.item.added" if conn.dialect == "ga" else "conversation.item.created"
        return [self._event(kind, previous_item_id=previous, item=item)]

    def _on_item_delete(
        self, conn: ServerSession, event: dict[str, Any], client_id: str | None
    ) -> list[dict[str, Any]]:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            message = "conversation.item.delete needs an 'item_id'"
            return [self._error("missing_required_parameter", message, param="item_id", client_id=client_id)]
        if item_id in conn.items:
            conn.items.remove(item_id)
        return [self._event("conversation.item.deleted", item_id=item_id)]

    def _on_item_truncate(
        self, conn: ServerSession, event: dict[str, Any], _: str | None
    ) -> list[dict[str, Any]]:
        fields = {k: event.get(k) for k in ("item_id", "content_index", "audio_end_ms")}
        return [self._event("conversation.item.truncated", **fields)]

    def _on_response_create(
        self, conn: ServerSession, event: dict[str, Any], _: str | None
    ) -> list[dict[str, Any]]:
        params = event.get("response")
        params = params if isinstance(params, dict) else {}
        modalities = params.get("output_modalities") or params.get("modalities")
        if not isinstance(modalities, list):
            modalities = list(conn.state.output_modalities)
        audio = self._get(self._audio, conn.index) and "audio" in modalities
        return self._response(conn, params.get("metadata"), audio=audio)

    # -- events --------------------------------------------------------------

    def _event_id(self) -> str:
        return f"event_optstate_{next(self._ids)}"

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "event_id": self._event_id(), **fields}

    def _session_event(self, conn: ServerSession, kind: str) -> dict[str, Any]:
        session = {"id": conn.id, "object": "realtime.session", **encode_session(conn.state, conn.dialect)}
        return self._event(kind, session=session)

    def _error(
        self, code: str, message: str, *, param: str | None = None, client_id: str | None = None
    ) -> dict[str, Any]:
        error = {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_id,
        }
        return self._event("error", error=error)

    def _response(self, conn: ServerSession, metadata: Any, *, audio: bool) -> list[dict[str, Any]]:
        """The events of one response: created, then (with audio) one assistant
        message streaming a little silence, then done. Audio locks the voice."""
        response_id = f"resp_optstate_{next(self._ids)}"

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

        events = [self._event("response.created", response=response("in_progress", []))]
        output: list[dict[str, Any]] = []
        if audio:
            conn.audio_started = True
            beta = conn.dialect == "beta"
            item_id = f"item_optstate_{next(self._ids)}"
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
                self._event("response.output_item.added", **where, item=item),
                self._event("response.content_part.added", **part_at, part=part),
                self._event(f"{audio_event}.delta", **part_at, delta=_SILENCE),
                self._event(f"{audio_event}.done", **part_at),
                self._event("response.content_part.done", **part_at, part=part),
                self._event("response.output_item.done", **where, item=done_item),
            ]
            output.append(done_item)
        events.append(self._event("response.done", response=response("completed", output)))
        return events

    # -- sending, closing, waiting -------------------------------------------

    async def _reply(self, conn: ServerSession, events: list[dict[str, Any]]) -> None:
        """Send replies, honouring :meth:`delay` and :meth:`mute`."""
        wait = self._get(self._delays, conn.index)
        if math.isinf(wait):
            return
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await conn._gone.wait()
        for event in events:
            await self._send(conn, event)

    async def _send(self, conn: ServerSession, event: dict[str, Any]) -> None:
        if conn._ws.closed or conn._gone.is_set():
            return
        try:
            await conn._ws.send_str(json.dumps(event))
        except ConnectionError:  # the client went away meanwhile
            return
        conn.sent.append(event)

    async def _close(self, conn: ServerSession, code: int) -> None:
        conn._gone.set()
        conn.closed = True
        self._notify()
        if not conn._ws.closed:
            await conn._ws.close(code=code)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, ready: Callable[[], T | None], timeout: float, what: str) -> T:
        try:
            async with asyncio.timeout(timeout):
                while (found := ready()) is None:
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"RealtimeServer: no {what} within {timeout} s") from None
        return found

    # -- control bookkeeping -------------------------------------------------

    @staticmethod
    def _set(table: dict[int | None, Any], session: int | None, value: Any) -> None:
        if session is None:
            table.clear()
        table[session] = value

    @staticmethod
    def _get(table: dict[int | None, T], index: int) -> T:
        return table[index] if index in table else table[None]

    def _take_failure(self, index: int) -> tuple[str, str, str | None] | None:
        for i, (session, code, message, param) in enumerate(self._failures):
            if session is None or session == index:
                del self._failures[i]
                return code, message, param
        return None

    def _count_drop(self, conn: ServerSession) -> bool:
        """Count one client message against :meth:`drop_after`; True when it was the last."""
        last = False
        for rule in list(self._drops):
            if rule[0] is None or rule[0] == conn.index:
                rule[1] -= 1
                if rule[1] == 0:
                    self._drops.remove(rule)
                    last = True
        return last


def _no_reply(conn: ServerSession, event: dict[str, Any], client_id: str | None) -> list[dict[str, Any]]:
    return []


def _param(path: str, dialect: Dialect) -> str | None:
    """An option path as an error's ``param``: ``"session."`` and the wire path."""
    if not path:
        return None
    if path == "session" or path.startswith("session."):
        return path
    flat = FLAT_DIALECTS.get(dialect)
    return f"session.{path if flat is None else flat.wire_path(path)}"


_Validator = Callable[[dict[str, Any], Dialect], "tuple[str, str | None] | None"]


def _official_validator() -> _Validator | None:
    """A check against the official ``openai`` models, or None without that package."""
    try:
        from .openai.official import SchemaViolation, validate_event
    except ImportError:
        return None

    def check(event: dict[str, Any], dialect: Dialect) -> tuple[str, str | None] | None:
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
