"""Harness drivers for the installed ``livekit-plugins-openai``.

``stock`` drives the plugin as it is; ``attached`` the same plugin after
:func:`optstate.livekit.attach`. The harness is synchronous, so the plugin
runs on an asyncio loop in a thread of its own.

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
import inspect
import json
import threading
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from livekit.plugins.openai.realtime import RealtimeModel, RealtimeSession
from openai.types.realtime.audio_transcription import AudioTranscription
from openai.types.realtime.realtime_audio_config_input import NoiseReduction
from openai.types.realtime.realtime_audio_input_turn_detection import SemanticVad, ServerVad
from pydantic import BaseModel

from ..openai import PLUGIN_KEYWORDS
from ..testing import default_render

__all__ = ["LivekitDriver", "attached", "stock"]

T = TypeVar("T")


def _keywords() -> tuple[str, ...]:
    model = inspect.signature(RealtimeModel.update_options).parameters
    session = inspect.signature(RealtimeSession.update_options).parameters
    return tuple(k for k in PLUGIN_KEYWORDS if k in model and k in session)


def to_livekit(keyword: str, value: Any) -> Any:
    """A neutral harness value as the plugin's update_options takes it."""
    if value is None or not isinstance(value, Mapping):
        return value
    if keyword == "turn_detection":
        return (ServerVad if value.get("type") == "server_vad" else SemanticVad)(**value)
    if keyword == "input_audio_transcription":
        return AudioTranscription(**value)
    if keyword == "input_audio_noise_reduction":
        return NoiseReduction(**value)
    return value


def _literal(keyword: str, value: Any) -> str:
    if isinstance(value, Mapping):
        cls = type(to_livekit(keyword, value)).__name__
        return f"{cls}(" + ", ".join(f"{k}={v!r}" for k, v in value.items()) + ")"
    return repr(value)


class LivekitDriver:
    """Drives a livekit ``RealtimeModel`` and its sessions (see the module doc)."""

    can_reply = True
    can_reconnect = False

    def __init__(self, *, attach: bool, transport: str = "inproc") -> None:
        if transport != "inproc":
            raise ValueError(
                f"the livekit drivers support transport 'inproc' only for now (got {transport!r})"
            )
        self.attach = attach
        self.keywords = _keywords()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.model: Any = None
        self.sessions: list[Any] = []

    # -- the loop thread ---------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def start(self) -> None:
        """Start the loop thread and create the model (attached if asked)."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

        async def make() -> Any:
            model = RealtimeModel(api_key="sk-optstate-harness", base_url="ws://127.0.0.1:9/v1")
            if self.attach:
                from ..livekit import attach

                attach(model)
            return model

        self.model = self._run(make())

    def new_session(self) -> int:
        """Create a session and cut it off the network (its events stay queued)."""

        async def make() -> Any:
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
        converted = {k: to_livekit(k, v) for k, v in kwargs.items()}

        async def call() -> None:
            self.model.update_options(**converted)

        self._run(call())

    def update_session(self, index: int, **kwargs: Any) -> None:
        """``sessions[index].update_options(**kwargs)`` with plugin-typed values."""
        converted = {k: to_livekit(k, v) for k, v in kwargs.items()}

        async def call() -> None:
            self.sessions[index].update_options(**converted)

        self._run(call())

    def events(self, index: int) -> list[dict[str, Any]]:
        """The client events the session queued since the last call, as JSON dicts."""

        async def drain() -> list[dict[str, Any]]:
            for _ in range(3):
                await asyncio.sleep(0)  # let anything the plugin scheduled run
            channel = self.sessions[index]._msg_ch
            out: list[dict[str, Any]] = []
            while not channel.empty():
                msg = channel.recv_nowait()
                if isinstance(msg, BaseModel):
                    msg = msg.model_dump(by_alias=True, exclude_unset=True, exclude_defaults=False)
                out.append(json.loads(json.dumps(msg)))
            return out

        return self._run(drain())

    def reply(self, index: int, event: dict[str, Any]) -> None:
        """Deliver a server event the way the plugin's receive loop announces it."""

        async def deliver() -> None:
            self.sessions[index].emit("openai_server_event_received", event)

        self._run(deliver())

    def reconnect(self, index: int) -> None:  # pragma: no cover - can_reconnect is False
        raise NotImplementedError("inproc transport has no connection to drop")

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

        with contextlib.suppress(Exception):
            self._run(shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None

    def render(self, op: str, index: int | None, kwargs: Mapping[str, Any]) -> str:
        """A line of Python against the plugin's public API (values as plugin types)."""
        if op == "start":
            made = 'RealtimeModel(api_key="sk-test")'
            if self.attach:
                made = f"optstate.livekit.attach({made})"
            return f"model = {made}  # inside a running asyncio loop"
        return default_render(op, index, {k: _Literal(_literal(k, v)) for k, v in kwargs.items()})


class _Literal(str):
    """A string whose repr is itself: source text to print as is."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def stock(*, transport: str = "inproc") -> LivekitDriver:
    """The installed plugin as it is."""
    return LivekitDriver(attach=False, transport=transport)


def attached(*, transport: str = "inproc") -> LivekitDriver:
    """The installed plugin with :func:`optstate.livekit.attach`."""
    return LivekitDriver(attach=True, transport=transport)
