"""The harness driver for ``examples/realtime_client.py``, over real websockets.

The client talks to :class:`optstate.server.RealtimeServer`, so the server answers for
itself (``reply`` does nothing), rejects an update when asked (``reject_next``) and
drops connections (``reconnect``). The harness's methods are synchronous; the client
and the server run on an event loop in a thread of their own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from examples.realtime_client import RealtimeClient
from optstate.openai import PLUGIN_KEYWORDS
from optstate.server import RealtimeServer
from optstate.testing import default_render

T = TypeVar("T")


async def until(ready: Callable[[], bool], what: str) -> None:
    """Wait until ``ready()`` holds (fail after about 5 s: something is stuck)."""
    for _ in range(1000):
        if ready():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"still waiting for {what}")


class RealtimeClientDriver:
    """Drives a ``RealtimeClient`` and its sessions against the loopback server."""

    keywords: Sequence[str] = tuple(PLUGIN_KEYWORDS)  # every keyword the harness knows
    can_reply = can_reconnect = True
    loop: asyncio.AbstractEventLoop | None = None  # set by start()

    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.conn: list[int] = []  # session index -> its server connection
        self.seen: dict[int, int] = {}  # server connection -> messages handed over
        self.server = RealtimeServer()
        self.run(self.server.start())
        self.client = RealtimeClient(self.server.base_url, "sk-example")

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    async def connected(self, index: int, count: int) -> None:
        """Wait until session ``index`` made its ``count``-th connection and the server saw it."""
        session, conn = self.client.sessions[index], self.conn[index]
        await until(lambda: session.connections == count, f"connection {count} of s{index}")
        await self.server.wait_for_connections(conn + 1)

    def new_session(self) -> int:
        async def connect() -> None:
            self.conn.append(len(self.server.connections))
            self.client.session()
            await self.connected(len(self.conn) - 1, 1)

        self.run(connect())
        return len(self.conn) - 1

    async def call(self, fn: Callable[[], None]) -> None:
        fn()  # on the loop, as a plugin's caller would

    def update_model(self, **kw: Any) -> None:
        self.run(self.call(lambda: self.client.update_options(**kw)))

    def update_session(self, index: int, **kw: Any) -> None:
        self.run(self.call(lambda: self.client.sessions[index].update_options(**kw)))

    def events(self, index: int) -> list[dict[str, Any]]:
        async def drain() -> list[dict[str, Any]]:
            await until(lambda: self.client.sessions[index].idle, "the server's answers")
            log, start = self.server.received[self.conn[index]], self.seen.get(self.conn[index], 0)
            self.seen[self.conn[index]] = len(log)
            return [m for m in log[start:] if isinstance(m, dict)]

        return self.run(drain())

    def reject_next(self, index: int) -> None:
        self.server.fail_next_update("rejected_by_harness", "rejected", session=self.conn[index])

    def reply(self, index: int, event: dict[str, Any]) -> None: ...  # the server answers

    def reconnect(self, index: int) -> None:
        async def drop() -> None:
            made, old = self.client.sessions[index].connections, self.conn[index]
            self.conn[index] = len(self.server.connections)
            await self.server.drop(old)
            await self.connected(index, made + 1)

        self.run(drop())

    def close(self) -> None:
        if self.loop is None:
            return
        self.run(self.client.aclose())
        self.run(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
        self.loop = None

    def render(self, op: str, index: int | None, kwargs: Mapping[str, Any]) -> str:
        if op == "start":
            return "model = RealtimeClient(server.base_url, 'sk-example')  # in a running loop"
        return default_render(op, index, kwargs)
