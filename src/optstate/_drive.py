"""Plumbing the harness drivers share: a loop thread, an in-memory websocket, the server's log.

The harness (:class:`optstate.testing.Driver`) is synchronous and every realtime
framework is asyncio, so each driver runs its framework on a :class:`LoopThread`.
Without the network, a driver hands its framework a :class:`MemoryWebSocket` where
the framework's own connect call would have returned a websocket: the framework's
whole send and receive path runs (its serialisation, its receive loop), only the
transport is replaced. Over the loopback server (:class:`optstate.server.RealtimeServer`),
:func:`received_since` reads what the server received once the wire is quiet.

Private to the driver packages (``optstate.livekit``, ``optstate.pipecat``,
``optstate.agents``); it lives apart from :mod:`optstate.testing` because it needs
neither Hypothesis nor any framework, and is no part of the harness' public API.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

__all__ = [
    "LoopThread",
    "MemoryWebSocket",
    "SocketCapture",
    "Source",
    "loopback_server",
    "received_since",
    "reject_next_update",
    "server_event",
    "settle",
]

T = TypeVar("T")


class LoopThread:
    """An asyncio loop running in a daemon thread; :meth:`run` blocks for a result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the loop and return its result (its exception, if it raises)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def stop(self) -> None:
        """Stop the loop, join the thread and close the loop."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


async def settle(rounds: int = 20) -> None:
    """Give whatever the framework scheduled (tasks, queues) ``rounds`` turns of the loop."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class MemoryWebSocket:
    """The client end of a websocket, in memory: what the framework's connect call
    would have returned. The framework sends on it and iterates over it; the driver
    reads what was sent (:meth:`take`) and feeds server events (:meth:`feed`)."""

    def __init__(self, url: str = "") -> None:
        self.url = url
        self.sent: list[dict[str, Any]] = []
        self.closed = False
        self._taken = 0
        self._fed = 0
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue()

    async def send(self, data: str | bytes) -> None:
        """Record one client event (the framework's own JSON text)."""
        if self.closed:
            raise ConnectionError("send on a closed MemoryWebSocket")
        self.sent.append(json.loads(data))

    def __aiter__(self) -> MemoryWebSocket:
        return self

    async def __anext__(self) -> str:
        message = await self._inbox.get()
        if message is None:
            raise StopAsyncIteration
        return message

    async def recv(self, *args: Any, **kwargs: Any) -> str:
        """The next server event, as text."""
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            raise ConnectionError("the MemoryWebSocket is closed") from None

    async def close(self, *args: Any, **kwargs: Any) -> None:
        """Close: the framework's receive loop ends."""
        if not self.closed:
            self.closed = True
            self._inbox.put_nowait(None)

    def feed(self, event: Mapping[str, Any]) -> None:
        """Deliver one server event to the framework's receive loop; one without an
        ``event_id`` gets one, as every event of a real server has."""
        self._fed += 1
        self._inbox.put_nowait(json.dumps({"event_id": f"event_fed_{self._fed}", **event}))

    def take(self) -> list[dict[str, Any]]:
        """The client events sent since the last call."""
        out = self.sent[self._taken :]
        self._taken = len(self.sent)
        return out


def server_event(kind: str, session: Mapping[str, Any]) -> dict[str, Any]:
    """A ``session.created``/``session.updated`` server event holding ``session``."""
    return {"type": kind, "event_id": f"event_{kind.replace('.', '_')}", "session": dict(session)}


async def received_since(
    log: list[Any], seen: int, *, pending: Callable[[], bool] = lambda: False
) -> list[dict[str, Any]]:
    """The JSON messages of a server connection's ``log`` from index ``seen`` on, once
    ``pending()`` is false and the log has stopped growing for a few polls (~2 s at most)."""
    quiet, last = 0, -1
    for _ in range(200):
        if not pending() and len(log) == last:
            quiet += 1
            if quiet >= 3:
                break
        else:
            quiet = 0
        last = len(log)
        await asyncio.sleep(0.005)
    return [m for m in log[seen:] if isinstance(m, dict)]


class Source(str):
    """A string whose repr is itself: source text a driver prints as is."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


async def loopback_server() -> Any:
    """A started :class:`optstate.server.RealtimeServer` on 127.0.0.1 (transport ``ws``)."""
    from .server import RealtimeServer

    server = RealtimeServer()
    await server.start()
    return server


def reject_next_update(server: Any, session: int) -> None:
    """Make the loopback ``server`` refuse connection ``session``'s next ``session.update``
    (the harness' rejection, as every ws driver asks for it)."""
    server.fail_next_update(
        code="rejected_by_harness", message="rejected by the optstate harness", session=session
    )


class SocketCapture:
    """The driver steps every in-memory-websocket driver shares: ``events``,
    ``reply`` and ``reject_next``, for a driver whose session ``i`` talks through
    ``_sockets[i]`` (inproc) or, with ``server`` set, to the loopback server's
    connection ``_conn[i]`` (ws); ``_run`` runs a coroutine on its loop thread."""

    server: Any
    loop: LoopThread | None
    _sockets: list[MemoryWebSocket]
    _conn: list[int]
    _seen: dict[int, int]

    def _run(self, coro: Any) -> Any:
        assert self.loop is not None
        return self.loop.run(coro)

    def events(self, index: int) -> list[dict[str, Any]]:
        """What session ``index`` sent since the last call."""

        async def drain() -> list[dict[str, Any]]:
            if self.server is None:
                await settle(50)
                return self._sockets[index].take()
            conn = self._conn[index]
            log = self.server.received[conn]
            out = await received_since(log, self._seen.get(conn, 0))
            self._seen[conn] = len(log)
            return out

        events: list[dict[str, Any]] = self._run(drain())
        return events

    def reply(self, index: int, event: dict[str, Any]) -> None:
        """inproc: feed ``event`` to the framework's receive loop (ws: the server answers)."""
        if self.server is not None:
            return

        async def deliver() -> None:
            self._sockets[index].feed(event)
            await settle()

        self._run(deliver())

    def reject_next(self, index: int) -> None:
        """ws: the server rejects session ``index``'s next ``session.update``."""
        if self.server is not None:
            reject_next_update(self.server, self._conn[index])
