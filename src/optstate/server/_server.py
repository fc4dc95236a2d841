"""The loopback server itself: listening, the handshake, each connection's loop, the test controls."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

try:
    from aiohttp import WSCloseCode, WSMsgType, web
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("optstate.server needs aiohttp: pip install 'optstate[server]'") from e

from .._errors import InvalidOption
from ..openai import Dialect, RealtimeOptions
from ._controls import Controls, Failure
from ._defaults import DEFAULT_MODEL, server_defaults
from ._events import Events
from ._official import official_validator
from ._session import ServerSession

__all__ = ["RealtimeServer"]

T = TypeVar("T")

#: The paths that upgrade to a websocket, and the dialect each one speaks.
_PATHS: dict[str, Dialect] = {
    "/v1/realtime": "ga",
    "/openai/v1/realtime": "ga",
    "/openai/realtime": "beta",  # Azure's legacy path (``api-version``, ``deployment``)
    # xAI's is ``wss://api.x.ai/v1/realtime``, GA's path: here it is told apart by a prefix.
    "/xai/v1/realtime": "xai",
}


class _Wire:
    """The websocket of one connection, and whether the server has closed it."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.gone = asyncio.Event()  # set when the server closes this connection


class RealtimeServer:
    """An OpenAI-Realtime-compatible websocket server on 127.0.0.1 (a free port).

    Use it as an async context manager; :attr:`base_url` is what a client's
    ``base_url`` should be. ``validate`` chooses whether ``session.update`` events
    are checked against the official ``openai`` models: ``None`` (the default)
    checks when that package is installed. ``model`` is the model of a session
    whose URL names none; each connection starts from :func:`server_defaults`.
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
        self._validator = official_validator() if validate is None or validate else None
        if validate and self._validator is None:
            raise ImportError("validate=True needs the openai package: pip install 'optstate[test]'")
        self._runner: web.AppRunner | None = None
        self._bound: int | None = None
        self._conns: list[ServerSession] = []
        self._wires: list[_Wire] = []  # the websocket of each of _conns
        self._events = Events()
        self._controls = Controls()
        self._changed = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Listen on ``host`` (127.0.0.1) and a free port; return once accepting."""
        if self._runner is not None:
            raise RuntimeError("RealtimeServer already started")
        app = web.Application()
        for path in _PATHS:
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
        await asyncio.gather(*(self._close(i, WSCloseCode.GOING_AWAY) for i in range(len(self._conns))))
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
    def xai_base_url(self) -> str:
        """``ws://127.0.0.1:PORT/xai/v1/realtime``: an xAI client's whole URL (xAI's dialect)."""
        return f"ws://{self._host}:{self.port}/xai/v1/realtime"

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
        """What each connection was sent by its client: every client message, in
        the order it arrived, as its parsed JSON (the raw text or bytes when it was
        not JSON), one list per connection in connection order. The lists are the
        connections' own :attr:`ServerSession.received`, which keep growing."""
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
        ``code``, ``message`` and ``param`` and the client's ``event_id``. Calls queue
        up; :meth:`withdraw_failures` takes back those not yet used."""
        self._controls.queue_failure(Failure(session, code, message, param))

    def withdraw_failures(self, *, session: int | None = None) -> int:
        """Take back the failures :meth:`fail_next_update` queued that no update has
        used yet: those aimed at ``session`` (those aimed at any session stay), or
        every one when ``session`` is ``None``. Returns how many were withdrawn."""
        return self._controls.withdraw_failures(session)

    def drop_after(self, n_messages: int, *, session: int | None = None) -> None:
        """Close a connection from the server side after ``n_messages`` more client
        messages: those of ``session``, or of all sessions together when ``None``.
        The last message is handled and answered first; the close code is 1011."""
        self._controls.queue_drop(n_messages, session)

    async def drop(self, session: int, *, code: int = WSCloseCode.GOING_AWAY) -> None:
        """Close that session's connection now, from the server side."""
        await self._close(session, code)

    def delay(self, seconds: float, *, session: int | None = None) -> None:
        """Answer ``seconds`` late: every later server reply (and ``session.created``)
        of ``session``, or of every session when ``None``. The state changes at once;
        the connection handles its next message once the reply is out.
        ``delay(0)`` answers at once again; ``delay(math.inf)`` is :meth:`mute`."""
        self._controls.set_delay(seconds, session)

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
        self._controls.set_audio(enabled, session)

    async def mark_audio_produced(self, session: int, *, notify: bool = True) -> None:
        """Record that the model produced audio in ``session``: its voice is now locked.

        With ``notify`` the client is also sent a whole unsolicited audio response
        (``response.created`` ... ``response.output_audio.delta`` ... ``response.done``),
        so it can observe it; this bypasses :meth:`delay` and :meth:`mute`.
        """
        conn = self._conns[session]
        conn.audio_started = True
        if notify:
            for event in self._events.response(conn.dialect, None, audio=True):
                await self._send(session, event)
        self._notify()

    async def send(self, session: int, event: Mapping[str, Any]) -> None:
        """Send one server event to ``session`` now (bypasses :meth:`delay` and :meth:`mute`);
        an ``event_id`` is added when it has none."""
        out = dict(event)
        out.setdefault("event_id", self._events.new_id("event"))
        await self._send(session, out)

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
        """The handshake (the path chooses the dialect), then the connection's loop."""
        dialect = _PATHS[request.path]
        query = request.query
        model = query.get("model") or (query.get("deployment") if dialect == "beta" else None)
        try:
            state = server_defaults(model or self._model)
        except InvalidOption as e:
            return web.Response(status=400, text=str(e))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        index = len(self._conns)
        conn = ServerSession(
            index,
            dialect,
            state,
            path=request.path,
            query=query,
            headers=request.headers,
            events=self._events,
            controls=self._controls,
            validator=self._validator,
        )
        self._conns.append(conn)
        self._wires.append(_Wire(ws))
        self._notify()
        try:
            created = self._events.session("session.created", conn.id, conn.state, dialect)
            await self._reply(index, [created])
            async for msg in ws:
                if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                    replies = conn.receive(msg.data)
                else:  # pragma: no cover - ERROR frames
                    break
                last = self._controls.count_drop(index)
                self._notify()
                await self._reply(index, replies)
                if last:
                    await self._close(index, WSCloseCode.INTERNAL_ERROR)
                    break
        finally:
            conn.closed = True
            self._notify()
        return ws

    # -- sending, closing, waiting -------------------------------------------

    async def _reply(self, index: int, events: list[dict[str, Any]]) -> None:
        """Send replies, honouring :meth:`delay` and :meth:`mute`."""
        wait = self._controls.delay_of(index)
        if math.isinf(wait):
            return
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wires[index].gone.wait()
        for event in events:
            await self._send(index, event)

    async def _send(self, index: int, event: dict[str, Any]) -> None:
        wire = self._wires[index]
        if wire.ws.closed or wire.gone.is_set():
            return
        try:
            await wire.ws.send_str(json.dumps(event))
        except ConnectionError:  # the client went away meanwhile
            return
        self._conns[index].sent.append(event)

    async def _close(self, index: int, code: int) -> None:
        wire = self._wires[index]
        wire.gone.set()
        self._conns[index].closed = True
        self._notify()
        if not wire.ws.closed:
            await wire.ws.close(code=code)

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
