"""The glue between one pipecat ``OpenAIRealtimeLLMService`` and a Store.

Everything is installed on the *instance* (never on pipecat's class), so other
services in the process keep the stock behaviour. The methods hidden on the
instance (``pipecat/services/openai/realtime/llm.py`` in pipecat-ai 1.14.0):

* ``_update_settings`` (where an ``LLMUpdateSettingsFrame``'s delta lands): the
  delta's ``session_properties`` become a session-level write of the fields it
  sets, and the delta pipecat stores is its current properties *merged* with
  them (stock replaces them wholesale, so a later reconnect lost every earlier
  setting);
* ``send_client_event``: a ``session.update`` pipecat built (``_send_session_update``:
  on ``session.created``, at conversation setup, after a settings change, on
  ``LLMSetToolsFrame``) is not sent; its ``instructions`` and ``tools`` (what
  pipecat resolves from its context, ``system_instruction`` and adapter) are
  written when they changed, and the store's event goes out through ``_ws_send``;
  every other client event passes through untouched;
* ``_receive_task_handler``: the connection's websocket is read through a tap
  that feeds every server event to the :class:`~optstate.SessionState` first; an
  ``error`` answering one of optstate's updates rolls that update back and is
  not passed on (stock ends its receive loop on any error);
* ``_disconnect`` (``reset_conversation``, stop, cancel): the session state
  starts a fresh connection, so the next ``session.created`` gets the whole
  desired state.

pipecat's own copy of the options (``_settings.session_properties``) is kept
saying what the store says, because pipecat reads it (``_is_turn_detection_disabled``,
``_get_enabled_modalities``, ``_service_tools``).
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any, Final

from pydantic import BaseModel

from .. import InvalidOption, OptStateError, Patch, Refusal, SessionState, Store, WriteResult, patch
from ..openai import RealtimeOptions
from . import _convert as cv

__all__ = ["ATTR", "ServiceLink", "link_of", "links_of", "update_all"]

log = logging.getLogger("optstate.pipecat")

#: The attribute that holds the link on a service.
ATTR: Final = "_optstate"

#: The services attached to each store (a store shared by several is the model level).
_BY_STORE: weakref.WeakKeyDictionary[Store[Any], weakref.WeakSet[ServiceLink]] = weakref.WeakKeyDictionary()


def _install(obj: object, name: str, impl: Callable[..., Any]) -> Callable[..., Any]:
    """Hide ``obj``'s method ``name`` behind ``impl`` on the instance; return the
    stock bound method (``impl`` keeps the stock docstring for help())."""
    stock: Callable[..., Any] = getattr(obj, name)
    if not inspect.iscoroutinefunction(stock):
        raise OptStateError(f"attach() expected {type(obj).__name__}.{name} to be a coroutine method")

    async def method(*args: Any, **kwargs: Any) -> Any:
        return await impl(*args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"{type(obj).__name__}.{name}"
    method.__doc__ = stock.__doc__ or impl.__doc__
    method.__wrapped__ = impl  # type: ignore[attr-defined]
    setattr(obj, name, method)
    return stock


class _Tap:
    """The service's websocket, read through the link: every server event goes
    to the session state before pipecat sees it."""

    def __init__(self, ws: Any, link: ServiceLink) -> None:
        self.ws = ws
        self.link = link

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ws, name)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Any]:
        async for message in self.ws:
            if self.link.on_message(message):
                yield message


class ServiceLink:
    """One service and its :class:`~optstate.SessionState`."""

    def __init__(self, service: Any, store: Store[RealtimeOptions] | None) -> None:
        settings = service._settings
        if store is None:
            store = Store(RealtimeOptions(model=str(settings.model)))
        self.service = service
        self.store = store
        self.state: SessionState[RealtimeOptions] = store.session()
        self.warned: frozenset[Refusal] = frozenset()
        # The (instructions, tools) pipecat last resolved: written when they change.
        self.resolved: tuple[Any, Any] | None = None
        sp = settings.session_properties
        if isinstance(sp, BaseModel):
            self.state.write(cv.to_change(sp))
        self._stock_update = _install(service, "_update_settings", self.update_settings)
        self._stock_send = _install(service, "send_client_event", self.send_client_event)
        self._stock_receive = _install(service, "_receive_task_handler", self.receive)
        self._stock_disconnect = _install(service, "_disconnect", self.disconnect)
        setattr(service, ATTR, self)
        _BY_STORE.setdefault(store, weakref.WeakSet()).add(self)

    # -- what pipecat calls ----------------------------------------------------------

    async def update_settings(self, delta: Any) -> dict[str, Any]:
        """pipecat's ``_update_settings``, with the delta's session properties a
        session-level write and merged into the stored ones. A bad value changes
        nothing: pipecat gets an error frame naming the field and the value."""
        sp = getattr(delta, "session_properties", None)
        if isinstance(sp, BaseModel):
            omit = getattr(type(self.service), "_omit_unsupported_input_audio_transcription_prompt", None)
            sp = sp.model_copy(deep=True)
            if omit is not None:
                omit(sp)
            try:
                change = cv.to_change(sp)
            except InvalidOption as e:
                await self.service.push_error(error_msg=f"optstate.pipecat: {e}", exception=e)
                return {}
            delta = copy.copy(delta)
            delta.session_properties = cv.merge(self.service._settings.session_properties, sp)
            self.write(change)
        changed: dict[str, Any] = await self._stock_update(delta)
        await self.sync()
        return changed

    async def send_client_event(self, event: Any) -> None:
        """pipecat's ``send_client_event``; its own ``session.update`` is replaced
        by the store's (see the module doc)."""
        if getattr(event, "type", None) != "session.update":
            await self._stock_send(event)
            return
        session = getattr(event, "session", None)
        resolved = (getattr(session, "instructions", None), cv.tools_to_json(getattr(session, "tools", None)))
        if resolved != self.resolved:
            self.resolved = resolved
            instructions, tools = resolved
            values: dict[str, Any] = {}
            if instructions is not None:
                values["instructions"] = instructions
            if tools is not None:
                values["tools"] = tools
            try:
                self.state.write(values)
            except InvalidOption as e:  # a tool optstate cannot model: the rest still goes
                log.warning("not sending %s", e)
                values.pop("tools", None)
                self.state.write(values)
        await self.sync()

    async def receive(self) -> None:
        """pipecat's receive loop, reading the websocket through the tap."""
        ws = self.service._websocket
        if ws is not None and not isinstance(ws, _Tap):
            self.service._websocket = _Tap(ws, self)
        await self._stock_receive()

    async def disconnect(self) -> None:
        """pipecat's ``_disconnect``; the next connection starts fresh."""
        try:
            await self._stock_disconnect()
        finally:
            if not self.state.closed:
                self.state.on_reconnect()

    # -- the rest --------------------------------------------------------------------

    def on_message(self, message: Any) -> bool:
        """Feed one server message to the session state; whether pipecat gets it
        (not an error optstate has handled by rolling its update back)."""
        try:
            event = json.loads(message)
        except (TypeError, ValueError):
            return True
        if not isinstance(event, Mapping) or self.state.closed:
            return True
        rejection = self.state.on_server_event(event)
        if event.get("type") == "session.created":
            self._adopt_model()
        if rejection is None:
            return True
        log.warning(
            "the server refused the update of %s (%s); asking again will resend it",
            ", ".join(rejection.change.paths()),
            rejection.error.get("message"),
        )
        self.mirror(rejection.change.paths())
        return False

    def write(self, change: Patch | Mapping[str, Any]) -> None:
        """A session-level write (dropped once the session is closed)."""
        if not self.state.closed:
            self.state.write(change)

    def mirror(self, paths: Iterable[str]) -> None:
        """Make pipecat's stored session properties say what the store says at ``paths``."""
        delta = cv.from_change(self.state.desired, paths)
        if delta.model_fields_set:
            settings = self.service._settings
            settings.session_properties = cv.merge(settings.session_properties, delta)

    async def sync(self) -> None:
        """Send what the server lacks, if the service is connected."""
        service = self.service
        if self.state.closed or not service._websocket or getattr(service, "_disconnecting", False):
            return
        event = self.state.sync()
        self.report_refused()
        if event is not None:
            await service._ws_send(event)

    def report_refused(self) -> None:
        """Warn once per change the live server refuses (voice after audio,
        tracing once on): it is kept and goes out on the next connection."""
        refused = self.state.needs_reconnect
        if not refused and not self.warned:
            return
        now = frozenset(refused)
        for r in now - self.warned:
            log.warning(
                "not sending %s=%r on this connection (%s); "
                "it is kept and goes out when the service next connects",
                r.path,
                r.value,
                r.reason,
            )
        self.warned = now

    def _adopt_model(self) -> None:
        """The URL chose the model and the server names it: take its name."""
        confirmed = self.state.confirmed
        if confirmed is not None and confirmed.model != self.state.desired.model:
            self.state.write({"model": confirmed.model})


def link_of(service: object) -> ServiceLink:
    """The service's link, or ``OptStateError`` if it was not attached."""
    link = vars(service).get(ATTR) if hasattr(service, "__dict__") else None
    if not isinstance(link, ServiceLink):
        raise OptStateError(
            f"{type(service).__name__} is not attached: call optstate.pipecat.attach(service)"
        )
    return link


def links_of(store: Store[Any]) -> list[ServiceLink]:
    """The live links of the services attached to ``store``."""
    return [link for link in list(_BY_STORE.get(store, ())) if not link.state.closed]


async def update_all(store: Store[RealtimeOptions], change: Any) -> WriteResult:
    """A model-level write (see :func:`optstate.pipecat.update_all`)."""
    if isinstance(change, BaseModel):
        p = cv.to_change(change)
    else:
        p = change if isinstance(change, Patch) else patch(RealtimeOptions, change)
    result = store.write(p)
    for link in links_of(store):
        link.mirror(p.paths())
        await link.sync()
    return result
