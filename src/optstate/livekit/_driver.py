"""Harness drivers for the installed ``livekit-plugins-openai`` and the models built on it.

``stock`` drives the plugin as it is; ``attached`` the same plugin after
:func:`optstate.livekit.attach`; ``azure_stock``/``azure_attached`` the plugin's
legacy Azure path (``RealtimeModel.with_azure(..., api_version=...)``, the
flat/beta dialect); ``xai_stock``/``xai_attached`` livekit-plugins-xai's
``RealtimeModel`` (a subclass of the OpenAI one that reshapes each
``session.update`` for xAI: ``voice`` and ``turn_detection`` at the top level).
The harness is synchronous, so the plugin runs on a
:class:`~optstate._drive.LoopThread`.

Every step maps onto livekit's own API, the way livekit's documentation tells an
application to change options: ``start`` makes the model; ``new_session`` is
``model.session()``; ``update_model`` is ``model.update_options(**kw)`` (livekit
re-applies it to every live session); ``update_session`` is
``session.update_options(**kw)``; ``events`` are the client events the session
sent; ``reply`` and ``reconnect`` as below. Values are converted to livekit's types
by :mod:`optstate.livekit._convert` (``None`` stays ``None``: livekit's clear).

Transport ``ws``: the plugin talks to :class:`optstate.server.RealtimeServer`
on 127.0.0.1 over a real websocket; the events are what the server received,
the server answers them itself (rejecting when the harness asks), and a
reconnect is the server dropping the connection.

The xAI and Azure models run on both transports (the loopback server speaks
their dialects at their paths: ``/v1/realtime`` under ``xai_base_url``,
``/openai/realtime``). The xAI drivers' keywords are those of the plugin whose
option xAI has (:data:`optstate.openai._dialects.XAI`: not ``truncation``).

Transport ``inproc`` (the default): each session's connection task is
cancelled as soon as the session exists, so nothing touches the network; the
client events the session queued (its ``_msg_ch``, which the plugin's send task
would drain) are taken and serialised exactly as that task does
(``model_dump(by_alias=True, exclude_unset=True)``), and server replies are
delivered through the session's ``openai_server_event_received`` event, which
the plugin's receive loop emits for every server event.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import json
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from livekit.plugins.openai.realtime import RealtimeModel, RealtimeSession
from pydantic import BaseModel

from .._drive import LoopThread, Source, loopback_server, received_since, reject_next_update
from ..openai import PLUGIN_KEYWORDS
from ..openai._dialects import BETA, XAI
from ..testing import default_render
from . import _convert as cv

__all__ = [
    "AzureDriver",
    "LivekitDriver",
    "XaiDriver",
    "attached",
    "azure_attached",
    "azure_stock",
    "stock",
    "xai_attached",
    "xai_stock",
]

T = TypeVar("T")


def _keywords() -> tuple[str, ...]:
    model = inspect.signature(RealtimeModel.update_options).parameters
    session = inspect.signature(RealtimeSession.update_options).parameters
    return tuple(k for k in cv.PATHS if k in model and k in session)


def _literal(keyword: str, value: Any) -> str:
    if isinstance(value, Mapping):
        cls = type(cv.from_json(keyword, value)).__name__
        return f"{cls}(" + ", ".join(f"{k}={v!r}" for k, v in value.items()) + ")"
    return repr(value)


class LivekitDriver:
    """Drives a livekit ``RealtimeModel`` and its sessions (see the module doc).
    Subclasses make another model (:meth:`make_model`) and say how it is spelled."""

    dialect = "ga"
    has_model_level = True
    can_reply = True

    def __init__(self, *, attach: bool, transport: str = "inproc") -> None:
        if transport not in ("inproc", "ws"):
            raise ValueError(f"transport must be 'inproc' or 'ws' (got {transport!r})")
        self.attach = attach
        self.transport = transport
        self.can_reconnect = transport == "ws"
        self.server: Any = None
        self._conn: list[int] = []  # session index -> its current server connection
        self._seen: dict[int, int] = {}  # connection -> messages already handed over
        self.keywords = _keywords()
        self._loop: LoopThread | None = None
        self.model: Any = None
        self.sessions: list[Any] = []

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return self._loop.run(coro)

    def make_model(self, server: Any) -> Any:
        """The model, talking to ``server`` (``None``: inproc, never connected to)."""
        base_url = "ws://127.0.0.1:9/v1" if server is None else server.base_url
        return RealtimeModel(api_key="sk-optstate-harness", base_url=base_url)

    def start(self) -> None:
        """Start the loop thread and create the model (attached if asked)."""
        self._loop = LoopThread()

        async def make() -> Any:
            if self.transport == "ws":
                self.server = await loopback_server()
            model = self.make_model(self.server)
            if self.attach:
                from . import attach

                attach(model)
            return model

        self.model = self._run(make())

    def new_session(self) -> int:
        """Create a session and cut it off the network (its events stay queued)."""

        async def make() -> Any:
            if self.server is not None:
                known = len(self.server.connections)
                session = self.model.session()
                await self.server.wait_for_connections(known + 1)
                self._conn.append(known)
                return session
            session = self.model.session()
            task = session._main_atask
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return session

        self.sessions.append(self._run(make()))
        return len(self.sessions) - 1

    def update_model(self, **kwargs: Any) -> None:
        """``model.update_options(**kwargs)`` with plugin-typed values."""
        converted = {k: cv.from_json(k, v) for k, v in kwargs.items()}

        async def call() -> None:
            self.model.update_options(**converted)

        self._run(call())

    def update_session(self, index: int, **kwargs: Any) -> None:
        """``sessions[index].update_options(**kwargs)`` with plugin-typed values."""
        converted = {k: cv.from_json(k, v) for k, v in kwargs.items()}

        async def call() -> None:
            self.sessions[index].update_options(**converted)

        self._run(call())

    def events(self, index: int) -> list[dict[str, Any]]:
        """The client events the session queued since the last call, as JSON dicts."""

        async def drain() -> list[dict[str, Any]]:
            for _ in range(3):
                await asyncio.sleep(0)  # let anything the plugin scheduled run
            if self.server is not None:
                return await self._received(index)
            channel = self.sessions[index]._msg_ch
            out: list[dict[str, Any]] = []
            while not channel.empty():
                msg = channel.recv_nowait()
                if isinstance(msg, BaseModel):
                    msg = msg.model_dump(by_alias=True, exclude_unset=True, exclude_defaults=False)
                out.append(json.loads(json.dumps(msg)))
            return out

        return self._run(drain())

    async def _received(self, index: int) -> list[dict[str, Any]]:
        """What the server received on the session's connection since the last call,
        once the plugin has flushed its queue and the wire has gone quiet."""
        assert self.server is not None
        conn = self._conn[index]
        log = self.server.received[conn]
        channel = self.sessions[index]._msg_ch
        out = await received_since(log, self._seen.get(conn, 0), pending=lambda: not channel.empty())
        self._seen[conn] = len(log)
        return out

    def reject_next(self, index: int) -> None:
        """ws: the server will answer the session's next session.update with an error."""
        if self.server is not None:
            reject_next_update(self.server, self._conn[index])

    def reply(self, index: int, event: dict[str, Any]) -> None:
        """Deliver a server event the way the plugin's receive loop announces it
        (ws: nothing to do, the server answers for itself)."""
        if self.server is not None:
            return

        async def deliver() -> None:
            self.sessions[index].emit("openai_server_event_received", event)

        self._run(deliver())

    def reconnect(self, index: int) -> None:
        """ws: the server drops the connection; wait for the plugin's new one."""
        if self.server is None:
            raise NotImplementedError("the inproc transport has no connection to drop")

        async def drop() -> None:
            known = len(self.server.connections)
            await self.server.drop(self._conn[index])
            await self.server.wait_for_connections(known + 1)
            self._conn[index] = known

        self._run(drop())

    def close(self) -> None:
        """Close sessions and model, then stop the loop thread."""
        if self._loop is None:
            return

        async def shutdown() -> None:
            for session in self.sessions:
                with contextlib.suppress(Exception):
                    await session.aclose()
            if self.model is not None:
                with contextlib.suppress(Exception):
                    await self.model.aclose()
            if self.server is not None:
                await self.server.close()

        with contextlib.suppress(Exception):
            self._run(shutdown())
        self._loop.stop()
        self._loop = None

    def made(self) -> str:
        """How the stock model is made, as Python source."""
        return 'RealtimeModel(api_key="sk-test")'

    def render(self, op: str, index: int | None, kwargs: Mapping[str, Any]) -> str:
        """A line of Python against the plugin's public API (values as plugin types)."""
        if op == "start":
            made = self.made()
            if self.attach:
                made = f"optstate.livekit.attach({made})"
            return f"model = {made}  # inside a running asyncio loop"
        return default_render(op, index, {k: Source(_literal(k, v)) for k, v in kwargs.items()})


#: The Azure api-version the legacy path is driven with (the one livekit's docs show).
API_VERSION = "2024-10-01-preview"


class AzureDriver(LivekitDriver):
    """livekit-plugins-openai's legacy Azure model: ``RealtimeModel.with_azure(...,
    api_version=...)``; it sends the flat (beta) dialect. Over ``ws`` the loopback
    server's ``/openai/realtime?api-version=...&deployment=...`` speaks it."""

    dialect = "beta"

    def __init__(self, *, attach: bool, transport: str = "inproc") -> None:
        super().__init__(attach=attach, transport=transport)
        if attach:  # attached, ``truncation`` (no flat name) raises UnsupportedInDialect
            self.keywords = tuple(k for k in self.keywords if PLUGIN_KEYWORDS[k] in BETA.options)

    def make_model(self, server: Any) -> Any:
        """``RealtimeModel.with_azure`` with an ``api_version`` (inproc: never connected to)."""
        endpoint = "http://127.0.0.1:9" if server is None else server.azure_endpoint
        return RealtimeModel.with_azure(
            azure_deployment="gpt-realtime",
            base_url=endpoint + "/openai",
            api_key="azure-optstate-harness",
            api_version=API_VERSION,
        )

    def made(self) -> str:
        """How the stock model is made, as Python source."""
        return (
            'RealtimeModel.with_azure(azure_deployment="gpt-realtime", azure_endpoint="https://x.openai.azure.com",'
            f' api_key="k", api_version="{API_VERSION}")'
        )


class XaiDriver(LivekitDriver):
    """livekit-plugins-xai's ``RealtimeModel`` (xAI dialect). Over ``ws`` the
    loopback server's xAI path (:attr:`~optstate.server.RealtimeServer.xai_base_url`)
    speaks it."""

    dialect = "xai"

    def __init__(self, *, attach: bool, transport: str = "inproc") -> None:
        try:  # here, on the main thread: livekit registers plugins only there
            xai = importlib.import_module("livekit.plugins.xai")
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("the xAI driver needs livekit-plugins-xai: pip install 'optstate[xai]'") from e
        self._xai = xai
        super().__init__(attach=attach, transport=transport)
        self.keywords = tuple(k for k in self.keywords if PLUGIN_KEYWORDS[k] in XAI.options)

    def make_model(self, server: Any) -> Any:
        """``xai.realtime.RealtimeModel`` (inproc: never connected to)."""
        base_url = "ws://127.0.0.1:9/v1/realtime" if server is None else server.xai_base_url
        return self._xai.realtime.RealtimeModel(api_key="xai-optstate-harness", base_url=base_url)

    def made(self) -> str:
        """How the stock model is made, as Python source."""
        return 'xai.realtime.RealtimeModel(api_key="xai-test")'


def stock(*, transport: str = "inproc") -> LivekitDriver:
    """The installed plugin as it is."""
    return LivekitDriver(attach=False, transport=transport)


def attached(*, transport: str = "inproc") -> LivekitDriver:
    """The installed plugin with :func:`optstate.livekit.attach`."""
    return LivekitDriver(attach=True, transport=transport)


def azure_stock(*, transport: str = "inproc") -> AzureDriver:
    """The installed plugin's legacy Azure path as it is."""
    return AzureDriver(attach=False, transport=transport)


def azure_attached(*, transport: str = "inproc") -> AzureDriver:
    """The legacy Azure path with :func:`optstate.livekit.attach`."""
    return AzureDriver(attach=True, transport=transport)


def xai_stock(*, transport: str = "inproc") -> XaiDriver:
    """livekit-plugins-xai's realtime model as it is."""
    return XaiDriver(attach=False, transport=transport)


def xai_attached(*, transport: str = "inproc") -> XaiDriver:
    """livekit-plugins-xai's realtime model with :func:`optstate.livekit.attach`."""
    return XaiDriver(attach=True, transport=transport)
