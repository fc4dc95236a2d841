"""Harness drivers ``pipecat-stock`` (pipecat-ai's ``OpenAIRealtimeLLMService`` as it
is) and ``pipecat-optstate`` (the same service after :func:`optstate.pipecat.attach`).

pipecat has no model level: one ``OpenAIRealtimeLLMService`` is one conversation on
one websocket, so ``has_model_level`` is false and the checker never calls
:meth:`PipecatDriver.update_model`. Each harness step maps onto pipecat's API
(``pipecat/services/openai/realtime/llm.py`` in 1.14) as pipecat's documentation
and examples tell an application to use it:

* ``start``: nothing (there is no object shared by conversations).
* ``new_session``: ``llm = OpenAIRealtimeLLMService(api_key=..., base_url=...)`` in
  ``worker = PipelineWorker(Pipeline([llm]))``, added to a ``WorkerRunner`` with
  ``await runner.add_workers(worker)`` and run by ``runner.run()``, and the
  ``LLMContextFrame`` a context aggregator would push; the server's
  ``session.created`` makes the service send its first ``session.update``.
* ``update_session``: ``await worker.queue_frame(LLMUpdateSettingsFrame(delta=
  OpenAIRealtimeLLMService.Settings(session_properties=SessionProperties(...))))``,
  holding only the named fields, nested as ``SessionProperties`` nests them
  (``audio.input.transcription``...). pipecat replaces its stored
  ``SessionProperties`` with the delta's and sends it (``exclude_none=True``).
* ``events``: the JSON the service sent on its websocket since the last call.
* ``reply``: the server event goes into the service's own receive loop
  (``_receive_task_handler``) through its websocket.
* ``reconnect``: ``await llm.reset_conversation()``, pipecat's "disconnect and
  reconnect" (pipecat never reconnects by itself after a drop).
* ``close``: ``await runner.cancel()`` (which cancels the worker).

Values: the neutral ``turn_detection=None`` becomes ``False``, pipecat's documented
way to turn detection off (``AudioInput.turn_detection``). pipecat has no way to
clear transcription, noise reduction, max output tokens or tracing: ``None`` is
"not given" in ``SessionProperties`` and is what the driver passes, as an
application would. ``truncation`` has no ``SessionProperties`` field, so it is not
among :attr:`PipecatDriver.keywords`; ``reasoning`` and ``tool_choice`` strings are.

``pipecat-optstate`` (:func:`attached`): every service is attached to one shared
:class:`~optstate.Store` made at ``start``, so ``has_model_level`` is true and
``update_model`` is ``await optstate.pipecat.update_all(store, SessionProperties(...))``
(the same ``SessionProperties`` an ``update_session`` queues). The other steps are
the stock ones. Values are passed in pipecat's types as for stock, except that a
turn detection with fields pipecat's ``TurnDetection`` does not declare
(``create_response``, ``interrupt_response``, ``idle_timeout_ms``) is built as
``TurnDetection(...).model_copy(update={...})``, which keeps them for attach to
read (pipecat's constructor drops them).

Transport ``inproc`` (default): pipecat's ``websocket_connect`` (the module-level
name its ``_connect`` calls) returns a :class:`~optstate._drive.MemoryWebSocket`
while the driver runs, so every byte is produced by pipecat's own code. Transport
``ws``: pipecat connects to :class:`optstate.server.RealtimeServer` on 127.0.0.1
(GA dialect), which answers, rejects and drops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

try:
    from pipecat.frames.frames import LLMContextFrame, LLMUpdateSettingsFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineWorker
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.services.openai.realtime import events as pe
    from pipecat.services.openai.realtime import llm as pipecat_llm
    from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
    from pipecat.workers.runner import WorkerRunner
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("the pipecat driver needs pipecat-ai: pip install 'optstate[pipecat]'") from e

from .._drive import LoopThread, MemoryWebSocket, SocketCapture, Source, loopback_server, server_event, settle
from ..testing import default_render

__all__ = ["PipecatDriver", "attached", "stock"]

#: Harness keyword -> where pipecat's ``SessionProperties`` holds it (no truncation).
PLACES: Mapping[str, tuple[str, ...]] = {
    "voice": ("audio", "output", "voice"),
    "speed": ("audio", "output", "speed"),
    "turn_detection": ("audio", "input", "turn_detection"),
    "input_audio_transcription": ("audio", "input", "transcription"),
    "input_audio_noise_reduction": ("audio", "input", "noise_reduction"),
    "tool_choice": ("tool_choice",),
    "max_response_output_tokens": ("max_output_tokens",),
    "tracing": ("tracing",),
    "reasoning": ("reasoning",),
}

_RECORDS: Mapping[str, type[Any]] = {
    "input_audio_transcription": pe.InputAudioTranscription,
    "input_audio_noise_reduction": pe.InputAudioNoiseReduction,
    "reasoning": pe.Reasoning,
}


def _undeclared(cls: type[Any], value: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``value`` split into the fields pipecat's ``cls`` declares and the rest."""
    known = {k: v for k, v in value.items() if k in cls.model_fields}
    return known, {k: v for k, v in value.items() if k not in known}


def to_pipecat(keyword: str, value: Any, *, keep: bool = False) -> Any:
    """A neutral harness value as ``SessionProperties`` takes it (``None`` stays ``None``,
    except for turn detection, whose documented "off" is ``False``). ``keep``: a turn
    detection keeps the fields its pipecat class lacks (``model_copy(update=...)``)."""
    if keyword == "turn_detection":
        if value is None:
            return False
        cls = pe.SemanticTurnDetection if value.get("type") == "semantic_vad" else pe.TurnDetection
        if not keep:
            return cls(**value)
        known, rest = _undeclared(cls, value)
        return cls(**known).model_copy(update=rest) if rest else cls(**known)
    if keyword in _RECORDS and isinstance(value, Mapping):
        return _RECORDS[keyword](**value)
    return value


def _nest(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The named values as a tree keyed like ``SessionProperties``."""
    tree: dict[str, Any] = {}
    for keyword, value in kwargs.items():
        *parents, leaf = PLACES[keyword]
        node = tree
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return tree


_NODES: Mapping[tuple[str, ...], type[Any]] = {
    (): pe.SessionProperties,
    ("audio",): pe.AudioConfiguration,
    ("audio", "input"): pe.AudioInput,
    ("audio", "output"): pe.AudioOutput,
}


def session_properties(kwargs: Mapping[str, Any], *, keep: bool = False) -> Any:
    """A ``SessionProperties`` holding only the named fields, in pipecat's types."""

    def build(tree: Mapping[str, Any], at: tuple[str, ...]) -> Any:
        args = {k: build(v, (*at, k)) if (*at, k) in _NODES else v for k, v in tree.items()}
        return _NODES[at](**args)

    return build(_nest({k: to_pipecat(k, v, keep=keep) for k, v in kwargs.items()}), ())


def _source(kwargs: Mapping[str, Any], *, keep: bool = False) -> str:
    """``session_properties(kwargs)`` as Python source."""

    def value(keyword: str, v: Any) -> str:
        typed = to_pipecat(keyword, v)
        if isinstance(v, Mapping):
            known, rest = _undeclared(type(typed), v) if keep else (v, {})
            made = f"{type(typed).__name__}(" + ", ".join(f"{a}={b!r}" for a, b in known.items()) + ")"
            return f"{made}.model_copy(update={rest!r})" if rest else made
        return repr(typed)

    def build(tree: Mapping[str, Any], at: tuple[str, ...]) -> str:
        args = ", ".join(f"{k}={build(v, (*at, k)) if (*at, k) in _NODES else v}" for k, v in tree.items())
        return f"{_NODES[at].__name__}({args})"

    return build(_nest({k: value(k, v) for k, v in kwargs.items()}), ())


class PipecatDriver(SocketCapture):
    """Drives real ``OpenAIRealtimeLLMService`` instances (see the module doc);
    ``attach``: each attached to one shared store (``pipecat-optstate``)."""

    keywords = tuple(PLACES)
    dialect = "ga"
    can_reply = True
    can_reconnect = True

    def __init__(self, *, transport: str = "inproc", attach: bool = False) -> None:
        if transport not in ("inproc", "ws"):
            raise ValueError(f"transport must be 'inproc' or 'ws' (got {transport!r})")
        self.attach = attach
        self.has_model_level = attach
        self.store: Any = None
        self.transport = transport
        self.loop: LoopThread | None = None
        self.server: Any = None
        self.services: list[Any] = []
        self.workers: list[Any] = []
        self._runners: list[Any] = []
        self._runs: list[asyncio.Task[None]] = []
        self._sockets: list[MemoryWebSocket] = []  # inproc: each session's current socket
        self._made: list[MemoryWebSocket] = []
        self._conn: list[int] = []  # ws: each session's current server connection
        self._seen: dict[int, int] = {}
        self._connect: Any = None

    def start(self) -> None:
        """Start the loop thread (and the shared store); inproc: replace pipecat's
        connect; ws: start the server."""
        self.loop = LoopThread()
        if self.attach:
            from .. import Store
            from ..openai import RealtimeOptions

            self.store = Store(RealtimeOptions(model="gpt-realtime-2.1"))
        if self.transport == "ws":
            self.server = self._run(loopback_server())
            return

        async def connect(uri: str, **_: Any) -> MemoryWebSocket:
            ws = MemoryWebSocket(uri)
            self._made.append(ws)
            return ws

        self._connect = pipecat_llm.websocket_connect
        pipecat_llm.websocket_connect = connect

    async def _connected(self, made: int, known: int) -> int | None:
        """Wait for the service's new connection; inproc: say ``session.created`` on it."""
        if self.server is not None:
            await self.server.wait_for_connections(known + 1)
            return known
        for _ in range(1000):
            if len(self._made) > made:
                break
            await asyncio.sleep(0.002)
        ws = self._made[made]
        ws.feed(server_event("session.created", {"type": "realtime", "model": "gpt-realtime"}))
        return None

    def new_session(self) -> int:
        """A service in its own running pipeline, connected (see the module doc)."""

        async def make() -> int:
            base_url = "ws://127.0.0.1:9/v1/realtime"  # inproc: never connected to
            known = 0
            if self.server is not None:
                base_url = self.server.base_url + "/realtime?model=gpt-realtime"
                known = len(self.server.connections)
            made = len(self._made)
            llm = OpenAIRealtimeLLMService(api_key="sk-optstate-harness", base_url=base_url)
            if self.attach:
                from . import attach

                attach(llm, store=self.store)
            worker = PipelineWorker(
                Pipeline([llm]), idle_timeout_secs=None, enable_rtvi=False, check_dangling_tasks=False
            )
            runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
            await runner.add_workers(worker)
            self._runs.append(asyncio.get_running_loop().create_task(runner.run()))
            self.services.append(llm)
            self.workers.append(worker)
            self._runners.append(runner)
            await worker.queue_frame(LLMContextFrame(LLMContext()))
            conn = await self._connected(made, known)
            if conn is None:
                self._sockets.append(self._made[made])
            else:
                self._conn.append(conn)
            await settle()
            return len(self.services) - 1

        index: int = self._run(make())
        return index

    def update_model(self, **kwargs: Any) -> None:
        """Attached: ``await optstate.pipecat.update_all(store, SessionProperties(...))``;
        stock pipecat has no model level (``has_model_level`` is false)."""
        if not self.attach:
            raise NotImplementedError("pipecat has no model level: one service is one conversation")
        from . import update_all

        change = session_properties(kwargs, keep=True)

        async def call() -> None:
            await update_all(self.store, change)
            await settle()

        self._run(call())

    def update_session(self, index: int, **kwargs: Any) -> None:
        """Queue an ``LLMUpdateSettingsFrame`` with only the named session properties."""
        sp = session_properties(kwargs, keep=self.attach)
        delta = OpenAIRealtimeLLMService.Settings(session_properties=sp)

        async def call() -> None:
            await self.workers[index].queue_frame(LLMUpdateSettingsFrame(delta=delta))
            await settle()

        self._run(call())

    def reconnect(self, index: int) -> None:
        """``await llm.reset_conversation()`` and wait for the new connection."""

        async def again() -> None:
            made = len(self._made)
            known = len(self.server.connections) if self.server is not None else 0
            await self.services[index].reset_conversation()
            conn = await self._connected(made, known)
            if conn is None:
                self._sockets[index] = self._made[made]
            else:
                self._conn[index] = conn
            await settle()

        self._run(again())

    def close(self) -> None:
        """Cancel every runner, stop the server and the loop, restore pipecat's connect."""
        if self.loop is None:
            return

        async def shutdown() -> None:
            for runner in self._runners:
                with contextlib.suppress(Exception):
                    await runner.cancel()
            for run in self._runs:
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(run, 5)
            if self.server is not None:
                await self.server.close()

        with contextlib.suppress(Exception):
            self._run(shutdown())
        if self._connect is not None:
            pipecat_llm.websocket_connect = self._connect
        self.loop.stop()
        self.loop = None

    def render(self, op: str, index: int | None, kwargs: Mapping[str, Any]) -> str:
        """A line of Python against pipecat's API (inside a running asyncio loop)."""
        keep = self.attach
        if op == "start":
            if self.attach:
                return 'store = optstate.Store(RealtimeOptions(model="gpt-realtime-2.1"))'
            return "# pipecat has no model level: each OpenAIRealtimeLLMService is one conversation"
        if op == "session":
            made = 'OpenAIRealtimeLLMService(api_key="sk-test")'
            if self.attach:
                made = f"optstate.pipecat.attach({made}, store=store)"
            worker = f"w{index} = PipelineWorker(Pipeline([s{index}])); await runner.add_workers(w{index})"
            return f"s{index} = {made}; {worker}"
        if op == "update":
            return (
                f"await w{index}.queue_frame(LLMUpdateSettingsFrame(delta=OpenAIRealtimeLLMService"
                f".Settings(session_properties={_source(kwargs, keep=keep)})))"
            )
        if op == "model":
            return f"await optstate.pipecat.update_all(store, {_source(kwargs, keep=keep)})"
        if op == "reconnect":
            return f"await s{index}.reset_conversation()"
        return default_render(op, index, {k: Source(repr(v)) for k, v in kwargs.items()})


def stock(*, transport: str = "inproc") -> PipecatDriver:
    """pipecat-ai's ``OpenAIRealtimeLLMService`` as it is."""
    return PipecatDriver(transport=transport)


def attached(*, transport: str = "inproc") -> PipecatDriver:
    """The services attached to one shared store (:func:`optstate.pipecat.attach`)."""
    return PipecatDriver(transport=transport, attach=True)
