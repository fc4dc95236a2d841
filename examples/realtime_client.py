"""A complete minimal realtime client built on :class:`optstate.Store`: the pattern to copy.

The model (``RealtimeClient``) owns the store: its ``update_options`` is a model-level write
that reaches every session. Each ``ClientSession`` owns one websocket and one
``SessionState``: its ``update_options`` is a session-level write. A write never sends;
it wakes the session's sender, which calls ``sync()`` right before sending, so writes
made in a burst go out as one ``session.update`` and a write that changes nothing sends
nothing. Every server event goes to ``on_server_event`` (which rolls back a rejected
update), and every new connection starts with ``on_reconnect`` (which makes the next
``sync()`` send the whole desired state). Needs ``pip install aiohttp``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp

from optstate import Rejection, Store
from optstate.openai import PLUGIN_KEYWORDS, RealtimeOptions

log = logging.getLogger(__name__)


def _paths(options: dict[str, Any]) -> dict[str, Any]:
    """Plugin keywords (``voice``, ``speed``, ...) or dotted option paths, as option paths."""
    return {PLUGIN_KEYWORDS.get(key, key): value for key, value in options.items()}


class RealtimeClient:
    """The model level: the options every session starts from and follows."""

    def __init__(self, base_url: str, api_key: str, **options: Any) -> None:
        self.base_url, self.api_key = base_url, api_key
        self.store = Store(RealtimeOptions())
        self.store.write(_paths(options))  # a bad option raises InvalidOption here
        self.sessions: list[ClientSession] = []

    def session(self) -> ClientSession:
        """Open a session (call from a running event loop); it connects in the background."""
        self.sessions.append(ClientSession(self))
        return self.sessions[-1]

    def update_options(self, **options: Any) -> None:
        """Model-level write: every session gets the named options, and nothing else changes."""
        self.store.write(_paths(options))
        for session in self.sessions:
            session.wake.set()

    async def aclose(self) -> None:
        await asyncio.gather(*(session.aclose() for session in self.sessions))


class ClientSession:
    """One connection to the server, reconnecting when the server drops it."""

    def __init__(self, client: RealtimeClient) -> None:
        self.client = client
        self.state = client.store.session()
        self.wake = asyncio.Event()  # set by every write: "sync and send"
        self.connections = 0  # connections made so far
        self.rejections: list[Rejection] = []
        self._task = asyncio.create_task(self._run())

    def update_options(self, **options: Any) -> None:
        """Session-level write: this session only."""
        self.state.write(_paths(options))
        self.wake.set()

    @property
    def idle(self) -> bool:
        """Nothing left to send, and the server has answered everything sent."""
        return not self.wake.is_set() and not self.state.in_flight

    async def _run(self) -> None:
        url = f"{self.client.base_url}/realtime?model={self.state.desired.model}"
        headers = {"Authorization": f"Bearer {self.client.api_key}"}
        async with aiohttp.ClientSession() as http:
            while True:  # one connection per turn; cancelled by aclose()
                try:
                    async with http.ws_connect(url, headers=headers) as ws:
                        self.state.on_reconnect()  # a new server session: send it everything
                        self.connections += 1
                        self.wake.set()
                        sender = asyncio.create_task(self._send(ws))
                        try:
                            await self._receive(ws)
                        finally:
                            sender.cancel()
                except aiohttp.ClientError as e:
                    log.warning("connection failed (%s); retrying", e)
                    await asyncio.sleep(0.1)

    async def _send(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            event = self.state.sync()  # on send: whatever was written until now, at once
            if event is not None:
                await ws.send_json(event)

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            rejection = self.state.on_server_event(message.json())
            if rejection is not None:  # rolled back: writing the same value again resends it
                log.warning("the server rejected %s", rejection)
                self.rejections.append(rejection)

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.state.close()
