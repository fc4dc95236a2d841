"""The glue between the Agents SDK's realtime objects and a Store.

Everything is installed on *instances* (never on the SDK's classes), so other
runners, sessions and models in the process keep the stock behaviour:

* the run config's ``model_settings`` dict becomes a :class:`LiveSettings`, whose
  changes are model-level writes to the store it holds (one store per run config,
  so runners sharing a config share it);
* on a runner: ``run`` (each new session is linked);
* on a session: ``_get_updated_model_settings_from_agent`` (what the SDK rebuilds
  on connect, ``update_agent`` and hand-offs): its result is marked with the keys
  the agent (and the session's own ``initial_model_settings``) name, so the run
  config's copy in it is not taken for a session-level write;
* on an ``OpenAIRealtimeWebSocketModel``: ``connect``/``close`` (one
  :class:`~optstate.SessionState` per connection), ``_update_session_config``
  (the one place the SDK builds a ``session.update`` from settings: connect and
  every ``RealtimeModelSendSessionUpdate``), ``_send_tracing_config`` (tracing,
  sent after ``session.created``) and ``_handle_ws_event`` (every server event
  goes to the session state first). Events still go out through the model's own
  ``_send_raw_message``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, NoReturn

from .. import OptStateError, Refusal, SessionState, Store, patch
from ..openai import OpenAICodec, RealtimeOptions
from . import _convert as cv

__all__ = [
    "ATTR",
    "AgentSettings",
    "LiveSettings",
    "ModelLink",
    "SessionLink",
    "link_model",
    "link_session",
    "live_settings",
    "model_link_of",
]

log = logging.getLogger("optstate.agents")

#: The attribute that holds optstate's link on a runner, session or model.
ATTR: Final = "_optstate"

#: Settings keys each session sets itself (its agent, its connection), never a run config.
_SESSION_KEYS: Final = frozenset({"instructions", "tools", "handoffs", "model_name", "tracing"})


def _install(obj: object, name: str, impl: Callable[..., Any]) -> None:
    """Hide the class's method ``name`` on ``obj`` behind ``impl`` (an instance
    attribute), showing the stock method's docstring and signature."""
    stock = getattr(type(obj), name)

    async def method(*args: Any, **kwargs: Any) -> Any:
        return await impl(*args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"{type(obj).__name__}.{name}"
    method.__doc__ = stock.__doc__ or impl.__doc__
    sig = inspect.signature(stock)
    method.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])  # type: ignore[attr-defined]
    method.__wrapped__ = impl  # type: ignore[attr-defined]
    setattr(obj, name, method)


def _scratch_model() -> Any:
    """An unconnected SDK model, to run the SDK's settings conversion for a run config."""
    from agents.realtime import OpenAIRealtimeWebSocketModel

    return OpenAIRealtimeWebSocketModel()


class AgentSettings(dict[str, Any]):
    """The settings the SDK built for an agent, and the keys that agent names."""

    named: frozenset[str]

    def __init__(self, settings: Mapping[str, Any], named: Iterable[str]) -> None:
        super().__init__(settings)
        self.named = frozenset(named)


class LiveSettings(dict[str, Any]):
    """A run config's ``model_settings`` whose every change is a model-level write
    to :attr:`store`: it reaches every live session of the runners sharing the
    config (and each session created later), without undoing a setting a session
    made itself. Settings a session takes from its agent or only at connect
    (``instructions``, ``tools``, ``handoffs``, ``model_name``, ``tracing``) only
    reach sessions created later, as in the stock SDK."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__(settings)
        self.model: Any = _scratch_model()
        self.store: Store[RealtimeOptions] = Store(cv.defaults_of(self.model, self), codec=OpenAICodec("ga"))

    def _write(self, values: Mapping[str, Any]) -> None:
        merged = {**self, **values}
        change = cv.change_of(self.model, merged, [k for k in values if k not in _SESSION_KEYS])
        if change:
            self.store.write(change)  # raises before anything changed
        dict.update(self, values)
        for link in list(ModelLink.live):
            if link.store is self.store:
                link.after_model_write()

    def __setitem__(self, key: str, value: Any) -> None:
        self._write({key: value})

    def update(self, *args: Any, **kwargs: Any) -> None:
        """``dict.update``, as one model-level write."""
        self._write(dict(*args, **kwargs))

    def setdefault(self, key: str, default: Any = None) -> Any:
        """``dict.setdefault``; setting the key is a model-level write."""
        if key not in self:
            self._write({key: default})
        return self[key]

    def __ior__(self, other: Any) -> LiveSettings:  # type: ignore[override, misc]
        self._write(dict(other))
        return self

    def _unset(self, *_: Any) -> NoReturn:
        raise TypeError(
            "optstate: a runner setting cannot be unset (the server keeps it); "
            "write the value you want instead"
        )

    __delitem__ = _unset
    pop = _unset
    popitem = _unset
    clear = _unset

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: Any) -> dict[str, Any]:
        import copy

        return copy.deepcopy(dict(self), memo)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


def live_settings(config: dict[str, Any]) -> LiveSettings:
    """The :class:`LiveSettings` of a run config (made on first use, in place)."""
    settings = config.get("model_settings")
    if not isinstance(settings, LiveSettings):
        settings = LiveSettings(settings or {})
        config["model_settings"] = settings
    return settings


class ModelLink:
    """One ``OpenAIRealtimeWebSocketModel``: its store and, per connection, a
    :class:`~optstate.SessionState`."""

    #: Every linked model with a live connection (for model-level writes).
    live: Final[set[ModelLink]] = set()

    def __init__(self, model: Any, store: Store[RealtimeOptions]) -> None:
        self.model = model
        self.store = store
        self.state: SessionState[RealtimeOptions] | None = None
        self.warned: frozenset[Refusal] = frozenset()
        self._first = False
        self._stock_connect: Callable[..., Any] = model.connect
        self._stock_close: Callable[..., Any] = model.close
        self._stock_handle: Callable[..., Any] = model._handle_ws_event
        _install(model, "connect", self.connect)
        _install(model, "close", self.close)
        model._update_session_config = self.update_session_config
        model._send_tracing_config = self.send_tracing_config
        model._handle_ws_event = self.handle_ws_event
        setattr(model, ATTR, self)

    # -- what the SDK calls --------------------------------------------------------

    async def connect(self, options: Any) -> None:
        """The SDK's ``connect`` on a new :class:`~optstate.SessionState`."""
        self.begin()
        try:
            await self._stock_connect(options)
        except BaseException:
            self.end()
            raise

    async def close(self) -> None:
        """The SDK's ``close``; the connection's state leaves the store."""
        try:
            await self._stock_close()
        finally:
            self.end()

    async def update_session_config(self, settings: Mapping[str, Any]) -> None:
        """A session-level write of the options ``settings`` names (all its keys,
        or those an agent names), then the ``session.update`` the server needs."""
        state = self.state if self.state is not None and not self.state.closed else self.begin()
        named = set(settings.named if isinstance(settings, AgentSettings) else settings)
        if self._first:
            named.add("model_name")  # the SDK's first update says which model this is
        change = cv.change_of(self.model, settings, named - {"tracing"})
        if change:
            state.write(change)
        self._first = False
        await self.sync()

    async def send_tracing_config(self, tracing: Any) -> None:
        """Tracing as a session-level write (after ``session.created``, as the SDK does)."""
        if tracing is None or self.state is None or self.state.closed:
            return
        if isinstance(tracing, Mapping):
            keys = ("workflow_name", "group_id", "metadata")
            tracing = {k: tracing[k] for k in keys if tracing.get(k) is not None}
        self.state.write(patch(RealtimeOptions, {"tracing": tracing}))
        await self.sync()

    async def handle_ws_event(self, event: Any) -> None:
        """Every server event goes to the session state, then to the SDK."""
        self.on_server_event(event)
        await self._stock_handle(event)

    # -- the rest ------------------------------------------------------------------

    def begin(self) -> SessionState[RealtimeOptions]:
        """A new connection: a new session state, starting from the store's defaults."""
        self.end()
        self.state = self.store.session()
        self.warned = frozenset()
        self._first = True
        ModelLink.live.add(self)
        return self.state

    def end(self) -> None:
        """The connection is over: its state leaves the store."""
        ModelLink.live.discard(self)
        if self.state is not None and not self.state.closed:
            self.state.close()

    async def sync(self) -> None:
        """Send what the server lacks, through the model's ``_send_raw_message``."""
        state = self.state
        if state is None or state.closed:
            return
        event = state.sync()
        self.report_refused()
        if event is not None:
            from openai.types.realtime.session_update_event import SessionUpdateEvent

            await self.model._send_raw_message(SessionUpdateEvent.model_validate(event))

    def after_model_write(self) -> None:
        """A run-config write changed this connection's desired state: send it
        (from the model's own loop; now if the caller is on it)."""
        import asyncio

        task = self.model._websocket_task
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        target = task.get_loop() if task is not None else loop
        if target is None:
            return
        if target is loop:
            loop.create_task(self.sync())
        else:
            asyncio.run_coroutine_threadsafe(self.sync(), target)

    def on_server_event(self, event: Any) -> None:
        """Give one server event to the session state; warn about a rollback."""
        try:
            state = self.state
            if state is None or state.closed or not isinstance(event, Mapping):
                return
            rejection = state.on_server_event(event)
            if event.get("type") == "session.created":
                confirmed = state.confirmed
                if confirmed is not None and confirmed.model != state.desired.model:
                    state.write({"model": confirmed.model})  # the URL chose it
            if rejection is not None:
                refused = ", ".join(cv.key_of(p) for p in rejection.change.paths())
                log.warning(
                    "the server refused the update of %s (%s); asking again will resend it",
                    refused,
                    rejection.error.get("message"),
                )
        except Exception:  # never break the SDK's receive loop
            log.exception("failed to handle a server event")

    def report_refused(self) -> None:
        """Warn once per change the live server refuses (voice after audio):
        it is kept for the next connection."""
        assert self.state is not None
        now = frozenset(self.state.needs_reconnect)
        for r in now - self.warned:
            log.warning(
                "not sending %s=%r on this connection (%s); "
                "it is kept and goes out if the session connects again",
                cv.key_of(r.path),
                r.value,
                r.reason,
            )
        self.warned = now


def _is_ws_model(model: Any) -> bool:
    """Whether ``model`` builds its ``session.update`` as the OpenAI websocket model does."""
    names = ("_update_session_config", "_get_session_config", "_handle_ws_event", "_send_raw_message")
    return all(callable(getattr(model, n, None)) for n in names)


def link_model(model: Any, store: Store[RealtimeOptions]) -> ModelLink:
    """The model's link (made on first use, with ``store``)."""
    link = vars(model).get(ATTR)
    if isinstance(link, ModelLink):
        return link
    if not _is_ws_model(model):
        raise TypeError(f"optstate.agents needs an OpenAIRealtimeWebSocketModel (got {type(model).__name__})")
    return ModelLink(model, store)


class SessionLink:
    """One ``RealtimeSession``: marks what its agent names, links its model."""

    def __init__(self, session: Any, store: Store[RealtimeOptions]) -> None:
        self.session = session
        # Another RealtimeModel implementation keeps its own wire: only the marks apply.
        model = session.model
        self.model: ModelLink | None = link_model(model, store) if _is_ws_model(model) else None
        self._stock_settings: Callable[..., Any] = session._get_updated_model_settings_from_agent
        session._get_updated_model_settings_from_agent = self.settings_from_agent
        setattr(session, ATTR, self)

    async def settings_from_agent(self, starting_settings: Any, agent: Any) -> AgentSettings:
        """The SDK's settings for ``agent``, marked with the keys it names: its
        instructions, tools, hand-offs and prompt, and the session's own
        ``initial_model_settings`` (the run config's copy in it is not named)."""
        settings = await self._stock_settings(starting_settings=starting_settings, agent=agent)
        named = {"instructions", "tools", "handoffs", *(starting_settings or ())}
        if agent.prompt is not None:
            named.add("prompt")
        return AgentSettings(settings, named)


def link_session(session: Any, store: Store[RealtimeOptions]) -> SessionLink:
    """The session's link (made on first use, with ``store``)."""
    link = vars(session).get(ATTR)
    return link if isinstance(link, SessionLink) else SessionLink(session, store)


def model_link_of(obj: object) -> ModelLink:
    """The model link of an attached session or model, or ``OptStateError``."""
    link = vars(obj).get(ATTR) if hasattr(obj, "__dict__") else None
    if isinstance(link, SessionLink) and link.model is not None:
        return link.model
    if isinstance(link, ModelLink):
        return link
    raise OptStateError(f"{type(obj).__name__} is not attached: call optstate.agents.attach() on its runner")
