"""Harness drivers ``openai-agents-stock`` and ``openai-agents-optstate``: the OpenAI
Agents SDK's realtime session as it is, and after :func:`optstate.agents.attach`.

The SDK (``agents.realtime`` in 0.24) runs a ``RealtimeAgent`` through a
``RealtimeRunner``, whose ``run()`` gives a ``RealtimeSession`` over an
``OpenAIRealtimeWebSocketModel``. Each harness step maps onto that API as the SDK's
documentation and examples tell an application to use it:

* ``start``: ``run_config = {"model_settings": {}}``, the
  ``RealtimeRunConfig`` every runner below shares; its ``model_settings`` are the
  SDK's only settings above one session.
* ``new_session``: ``runner = RealtimeRunner(agent, model=OpenAIRealtimeWebSocketModel(),
  config=run_config)``, ``session = await runner.run(model_config=...)``,
  ``await session.enter()`` (what ``async with session`` does). Each session gets
  its own model object: a runner without ``model=`` shares one between its runs and
  the second ``connect`` fails ("Already connected").
* ``update_model``: ``run_config["model_settings"].update(...)``. The SDK copies
  these into a session when it is created, so a live session never sees a later
  change: that is what the checker finds, not a limitation of the driver.
* ``update_session``: ``await session.model.send_event(RealtimeModelSendSessionUpdate(
  session_settings={...}))``, the SDK's event for changing a live session's
  ``RealtimeSessionModelSettings`` (voice, speed, turn detection...), holding only
  the named settings; the SDK turns it into a full session object.
* ``events``: the JSON the model sent on its websocket since the last call.
* ``reply``: the server event goes into the model's own receive loop
  (``_listen_for_messages``) through its websocket.
* ``reconnect``: not supported (``can_reconnect`` is false): the SDK never
  reconnects a realtime session; a dropped connection ends it.
* ``close``: ``await session.close()``.

Keywords: the SDK's settings are named like livekit's, except
``max_response_output_tokens`` (``max_output_tokens``); ``tracing`` is only taken at
connect and ``truncation`` not at all, so neither is among
:attr:`AgentsDriver.keywords`. ``None`` is passed as ``None`` (the settings are a
``TypedDict``; the SDK has no other way to say "clear").

``attached`` makes every runner with ``optstate.agents.attach(RealtimeRunner(...))``
and otherwise makes exactly the same calls: the runners share one run config, so
they share one store, and ``run_config["model_settings"]`` is its model level.

Transport ``inproc`` (default): the model object's ``_create_websocket_connection``
(its transport factory) returns a :class:`~optstate._drive.MemoryWebSocket`, so every
byte is the SDK's own. Transport ``ws``: ``model_config["url"]`` points the model at
:class:`optstate.server.RealtimeServer` on 127.0.0.1 (GA dialect).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

try:
    from agents.realtime import OpenAIRealtimeWebSocketModel, RealtimeAgent, RealtimeRunner
    from agents.realtime.model_inputs import RealtimeModelSendSessionUpdate
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("the openai-agents driver needs openai-agents: pip install 'optstate[agents]'") from e

from .._drive import LoopThread, MemoryWebSocket, SocketCapture, loopback_server, server_event, settle
from ..testing import default_render

__all__ = ["AgentsDriver", "attached", "stock"]

#: Harness keyword -> the ``RealtimeSessionModelSettings`` key that holds it.
SETTINGS: Mapping[str, str] = {
    "voice": "voice",
    "speed": "speed",
    "turn_detection": "turn_detection",
    "input_audio_transcription": "input_audio_transcription",
    "input_audio_noise_reduction": "input_audio_noise_reduction",
    "tool_choice": "tool_choice",
    "max_response_output_tokens": "max_output_tokens",
    "reasoning": "reasoning",
}


def settings_of(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The named values as ``RealtimeSessionModelSettings`` keys."""
    return {SETTINGS[k]: v for k, v in kwargs.items()}


class AgentsDriver(SocketCapture):
    """Drives real ``RealtimeSession`` objects (see the module doc)."""

    keywords = tuple(SETTINGS)
    dialect = "ga"
    has_model_level = True
    can_reply = True
    can_reconnect = False

    def __init__(self, *, attach: bool = False, transport: str = "inproc") -> None:
        if transport not in ("inproc", "ws"):
            raise ValueError(f"transport must be 'inproc' or 'ws' (got {transport!r})")
        self.transport = transport
        self.attach = attach
        self.loop: LoopThread | None = None
        self.server: Any = None
        self.agent = RealtimeAgent(name="assistant", instructions="You are helpful.")
        self.run_config: dict[str, Any] = {}
        self.sessions: list[Any] = []
        self._sockets: list[MemoryWebSocket] = []
        self._conn: list[int] = []
        self._seen: dict[int, int] = {}

    def start(self) -> None:
        """Start the loop thread and the shared run config (ws: and the server)."""
        self.loop = LoopThread()
        self.run_config = {"model_settings": {}}
        if self.transport == "ws":
            self.server = self._run(loopback_server())

    def new_session(self) -> int:
        """A runner with its own model, run and entered (see the module doc)."""

        async def make() -> int:
            model: Any = OpenAIRealtimeWebSocketModel()
            config: Any = {"api_key": "sk-optstate-harness"}
            ws = MemoryWebSocket()
            known = 0
            if self.server is None:

                async def transport(url: str, headers: Any, transport_config: Any = None) -> Any:
                    ws.url = url
                    return ws

                model._create_websocket_connection = transport
            else:
                known = len(self.server.connections)
                config["url"] = self.server.base_url + "/realtime?model=gpt-realtime"
            run_config: Any = self.run_config
            runner = RealtimeRunner(self.agent, model=model, config=run_config)
            if self.attach:
                from . import attach

                runner = attach(runner)
            session = await runner.run(model_config=config)
            await session.enter()
            self.sessions.append(session)
            if self.server is None:
                self._sockets.append(ws)
                ws.feed(server_event("session.created", {"type": "realtime", "model": "gpt-realtime"}))
            else:
                await self.server.wait_for_connections(known + 1)
                self._conn.append(known)
            await settle()
            return len(self.sessions) - 1

        index: int = self._run(make())
        return index

    def update_model(self, **kwargs: Any) -> None:
        """``run_config["model_settings"].update(...)``: what sessions created later start with."""
        self.run_config["model_settings"].update(settings_of(kwargs))

    def update_session(self, index: int, **kwargs: Any) -> None:
        """``session.model.send_event(RealtimeModelSendSessionUpdate(session_settings=...))``."""
        settings: Any = settings_of(kwargs)
        event = RealtimeModelSendSessionUpdate(session_settings=settings)

        async def call() -> None:
            await self.sessions[index].model.send_event(event)
            await settle()

        self._run(call())

    def reconnect(self, index: int) -> None:
        """The SDK never reconnects a realtime session (``can_reconnect`` is false)."""
        raise NotImplementedError("the Agents SDK never reconnects a realtime session")

    def close(self) -> None:
        """Close every session, the server and the loop."""
        if self.loop is None:
            return

        async def shutdown() -> None:
            for session in self.sessions:
                with contextlib.suppress(Exception):
                    await session.close()
            if self.server is not None:
                await self.server.close()

        with contextlib.suppress(Exception):
            self._run(shutdown())
        self.loop.stop()
        self.loop = None

    def render(self, op: str, index: int | None, kwargs: Mapping[str, Any]) -> str:
        """A line of Python against the SDK's API (inside a running asyncio loop)."""
        settings = settings_of(kwargs)
        if op == "start":
            return 'run_config = {"model_settings": {}}'
        if op == "session":
            runner = "RealtimeRunner(agent, model=OpenAIRealtimeWebSocketModel(), config=run_config)"
            if self.attach:
                runner = f"optstate.agents.attach({runner})"
            return f"s{index} = await {runner}.run(); await s{index}.enter()"
        if op == "model":
            return f'run_config["model_settings"].update({settings!r})'
        if op == "update":
            event = f"RealtimeModelSendSessionUpdate(session_settings={settings!r})"
            return f"await s{index}.model.send_event({event})"
        return default_render(op, index, kwargs)


def stock(*, transport: str = "inproc") -> AgentsDriver:
    """The Agents SDK's realtime session as it is."""
    return AgentsDriver(transport=transport)


def attached(*, transport: str = "inproc") -> AgentsDriver:
    """The Agents SDK's realtime session after :func:`optstate.agents.attach`."""
    return AgentsDriver(attach=True, transport=transport)
