"""The glue between one livekit ``RealtimeModel`` (and its sessions) and a Store.

Nothing changes on the plugin's classes, so other models and sessions in the
process keep the stock behaviour:

* on the model instance: ``update_options`` (a model-level store write) and
  ``session`` (every new session is linked as it is created);
* each linked session becomes an instance of its class's linked subclass (one
  per plugin class, made once, same name, no added slot): its
  ``update_options`` (a session-level write), ``update_instructions`` and
  ``update_tools`` (session-level writes of ``instructions`` and ``tools``),
  ``_create_session_update_event`` (what the plugin's reconnect sends first:
  rebuilt from the store), ``_create_tools_update_event`` (the reconnect's
  tools replay: restated from the store) and ``aclose`` go to the session's
  :class:`SessionLink`; plus listeners on the plugin's
  ``openai_server_event_received`` and ``openai_client_event_queued`` events.

Which plugin behaviours exist is detected on the objects, not from version
strings. The wire dialect is what the model's own session class makes of a
session update (:func:`dialect_of`): livekit-plugins-openai's GA session,
its legacy Azure path's flat one (``api_version`` set), or livekit-plugins-xai's
(``voice``/``turn_detection`` hoisted to the top level). A session that holds
its own ``_opts`` copy (1.8) has it kept in step with its own desired state,
and capabilities follow the options only where the plugin itself makes them
(its ``_server_turn_taking_enabled`` helper, 1.8).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import secrets
import weakref
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from livekit.agents import llm

from .. import (
    InvalidOption,
    OptStateError,
    Patch,
    Refusal,
    SessionState,
    Store,
    apply,
    diff,
    get,
    patch,
)
from ..openai import OpenAICodec, RealtimeOptions
from . import _convert as cv
from ._plugin import connection_model, dialect_of, skip_one_tools_replay, take_stock_update

__all__ = ["ATTR", "ModelAdapter", "SessionLink", "adapter_of", "link_of"]

log = logging.getLogger("optstate.livekit")

#: The attribute that holds the adapter on a model and the link on a session.
ATTR: Final = "_optstate"

#: The plugin keeps these options in ``_opts`` under the keyword's own name.
_MIRRORED: Final = tuple(kw for kw in cv.PATHS if kw not in ("instructions", "tools"))


def _shadow(obj: object, name: str, value: object) -> None:
    """Set an instance attribute that hides the class's method of that name."""
    setattr(obj, name, value)


def _install(obj: object, name: str, impl: Callable[..., Any]) -> None:
    """Hide the class's method ``name`` on ``obj`` behind ``impl``, showing the
    stock method's signature and docstring (for help() and introspection)."""
    stock = getattr(type(obj), name)
    method: Any
    if inspect.iscoroutinefunction(impl):

        async def method(*args: Any, **kwargs: Any) -> Any:
            return await impl(*args, **kwargs)

    else:

        def method(*args: Any, **kwargs: Any) -> Any:
            return impl(*args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"{type(obj).__name__}.{name}"
    method.__doc__ = stock.__doc__ or impl.__doc__
    sig = inspect.signature(stock)
    method.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])
    method.__wrapped__ = impl
    _shadow(obj, name, method)


def _keywords(method: Callable[..., Any]) -> frozenset[str]:
    """The keyword-only parameters of a plugin method (what this version accepts)."""
    params = inspect.signature(method).parameters.values()
    return frozenset(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


#: The name of the plugin's session class a linked class keeps as its stock.
STOCK: Final = "_optstate_stock"

#: Plugin session class -> the class its linked sessions take (made once per class).
_LINKED: dict[type, type] = {}


def _linked_class(stock: type) -> type:
    """The subclass of a plugin session class that a linked session becomes.

    Its methods hand the plugin's calls to the session's :class:`SessionLink`
    (``update_options``, ``update_instructions``, ``update_tools``, ``aclose``,
    and the reconnect's ``_create_session_update_event`` and
    ``_create_tools_update_event``), showing the stock signatures and docstrings.
    It adds no slot and keeps the stock class's name, so ``isinstance`` and
    ``repr`` see the plugin's class; only the sessions linked take it (other
    sessions, of this model or another, keep the stock class). One class per
    plugin class, made once: a linked session costs no per-session method
    objects, only its link.
    """
    found = _LINKED.get(stock)
    if found is not None:
        return found

    def update_options(self: Any, **values: Any) -> None:
        self._optstate.update_options(**values)

    async def update_instructions(self: Any, instructions: str) -> None:
        await self._optstate.update_instructions(instructions)

    async def update_tools(self: Any, tools: list[Any]) -> None:
        await self._optstate.update_tools(tools)

    async def aclose(self: Any) -> None:
        await self._optstate.aclose()

    def _create_session_update_event(self: Any) -> Any:
        return self._optstate.reconnect_update()

    def _create_tools_update_event(self: Any, tools: list[Any]) -> Any:
        return self._optstate.restate_tools(tools)

    methods: dict[str, Any] = {}
    fn: Any
    # Each method with the SessionLink method it calls (whose docstring stands in
    # for a stock method that has none).
    for fn, impl in (
        (update_options, SessionLink.update_options),
        (update_instructions, SessionLink.update_instructions),
        (update_tools, SessionLink.update_tools),
        (aclose, SessionLink.aclose),
        (_create_session_update_event, SessionLink.reconnect_update),
        (_create_tools_update_event, SessionLink.restate_tools),
    ):
        name = fn.__name__
        original = getattr(stock, name)
        fn.__qualname__ = f"{stock.__qualname__}.{name}"
        fn.__module__ = stock.__module__
        fn.__doc__ = original.__doc__ or impl.__doc__
        fn.__signature__ = inspect.signature(original)
        methods[name] = fn
    linked = type(stock)(
        stock.__name__,
        (stock,),
        {
            "__slots__": (),
            "__module__": stock.__module__,
            "__qualname__": stock.__qualname__,
            "__doc__": stock.__doc__,
            STOCK: stock,
            **methods,
        },
    )
    _LINKED[stock] = linked
    return linked


#: The keyword-only parameters of each plugin session class's ``update_options``.
_SESSION_KEYWORDS: dict[type, frozenset[str]] = {}


def _mirror(
    opts: Any,
    state: RealtimeOptions,
    since: RealtimeOptions | None = None,
    moves: Callable[[RealtimeOptions, RealtimeOptions], tuple[tuple[str, Any], ...]] | None = None,
) -> set[str]:
    """Make a plugin ``_RealtimeOptions`` say what ``state`` says; return the
    keywords it changed. Fields that already stand for the same value keep
    their object (the caller's pydantic model, ``None`` for auto, ...).

    ``since`` is the state ``opts`` was last made to say: then only the
    keywords whose option differs between the two are set, to the values
    ``moves(since, state)`` gives (:func:`mirror_moves`, or a shared memo of it:
    reading a mirror value back means validating it, which costs far more than
    the diff). Only optstate writes to a linked ``_opts``: the plugin's own
    writers are its ``update_options``, which the adapter replaces."""
    if since is not None:
        if since is state:
            return set()
        # ``opts`` says ``since``: a keyword whose option changed needs its new value.
        changed = set()
        for keyword, value in (moves or mirror_moves)(since, state):
            if hasattr(opts, keyword):
                setattr(opts, keyword, value)
                changed.add(keyword)
        return changed
    changed = set()
    for keyword in _MIRRORED:
        if not hasattr(opts, keyword):
            continue
        want = get(state, cv.PATHS[keyword])
        if cv.mirror_leaf(keyword, getattr(opts, keyword)) != want:
            setattr(opts, keyword, cv.from_leaf(keyword, want))
            changed.add(keyword)
    return changed


#: The mirrored keyword that holds each option (a leaf path, so a diff names it exactly).
_MIRROR_KEYWORDS: Final = {cv.PATHS[kw]: kw for kw in _MIRRORED}


def mirror_moves(
    since: RealtimeOptions,
    state: RealtimeOptions,
    differ: Callable[[RealtimeOptions, RealtimeOptions], Patch] = diff,
) -> tuple[tuple[str, Any], ...]:
    """``(keyword, livekit value)`` for each mirrored option that differs between
    ``since`` and ``state``, the value as the plugin keeps it in ``_opts``."""
    out = []
    for path, value in differ(since, state)._leaves().items():
        keyword = _MIRROR_KEYWORDS.get(path)
        if keyword is not None:
            out.append((keyword, cv.from_leaf(keyword, value)))
    return tuple(out)


def _renamed(e: InvalidOption) -> InvalidOption:
    """``e`` naming the livekit keyword instead of the optstate path."""
    return type(e)(cv.keyword_of(e.path), e.value, e.rule)


class ModelAdapter:
    """A model's store and the model-level half of the glue."""

    def __init__(self, model: Any) -> None:
        opts = model._opts
        self.model = model
        self.codec = OpenAICodec(dialect_of(model))
        defaults = cv.state_from_opts(opts)
        module = inspect.getmodule(type(model).update_options)
        model_name = connection_model(module, opts)
        if model_name != defaults.model:
            defaults = apply(defaults, patch(RealtimeOptions, {"model": model_name}))
        self.check_encodable(self.codec.connect_patch(defaults))
        self.store: Store[RealtimeOptions] = Store(defaults, codec=self.codec)
        plugin = type(model)
        self.keywords = _keywords(plugin.update_options)
        # 1.8 derives capabilities from the options whenever they change; 1.5 fixes
        # them at construction. Follow whichever this plugin does.
        self.turn_taking: Callable[[Any], bool] | None = getattr(module, "_server_turn_taking_enabled", None)
        self.warn_half: Callable[[Any], None] | None = getattr(
            module, "_warn_on_half_disabled_turn_taking", None
        )
        self._stock_session: Callable[..., Any] = model.session
        # The defaults the model's ``_opts`` was last made to say (None: not yet).
        self.mirrored: RealtimeOptions | None = None
        # (id(since), id(state)) -> (since, state, mirror_moves(since, state)); see moves().
        self.moves_memo: dict[tuple[int, int], tuple[Any, Any, tuple[tuple[str, Any], ...]]] = {}
        #: mirror_moves for a session's own state (its diff found in the store's memo).
        self.own_moves = functools.partial(mirror_moves, differ=self.store.shared_diff)
        _install(model, "update_options", self.update_options)
        _install(model, "session", self.session)
        _shadow(model, ATTR, self)

    def adopt(self, paths: frozenset[str]) -> None:
        """Set at the model level the options at ``paths`` nobody set yet, at the
        values the defaults hold (the plugin's constructor chose them)."""
        store = self.store
        fresh = sorted(paths - store.written - {"model"})
        if fresh:
            store.write(patch(RealtimeOptions, {p: get(store.defaults, p) for p in fresh}))

    # -- what the plugin calls -------------------------------------------------------

    def update_options(self, **values: Any) -> None:
        """Model-level ``update_options``: set the named options on the defaults
        and on every live session, then send each session what it needs."""
        change = self.translate(values, self.keywords, "RealtimeModel")
        links = self.links()
        self.store.write(change)
        self.mirror()
        # One pass for every session (sessions on shared state share the work).
        events = SessionState.sync_all([link.state for link in links])
        for link, event in zip(links, events, strict=True):
            link.sent(event)
            link.mirror()

    def session(self, *args: Any, **kwargs: Any) -> Any:
        """The plugin's ``session()``, with the new session linked to the store."""
        session = self._stock_session(*args, **kwargs)
        self.link(session)
        return session

    # -- the rest --------------------------------------------------------------------

    def translate(self, values: Mapping[str, Any], accepted: frozenset[str], owner: str) -> Patch:
        """The validated, sendable patch for livekit keyword arguments; raises
        before anything changes."""
        for keyword, value in values.items():
            if keyword not in accepted:
                raise TypeError(f"{owner}.update_options() got an unexpected keyword argument {keyword!r}")
            if keyword not in cv.PATHS and keyword not in cv.IGNORED:
                raise InvalidOption(keyword, value, "is not an option optstate.livekit knows how to send")
        change = cv.to_change(values)
        if self.codec.dialect != "ga":  # the GA dialect says every option
            self.check_encodable(change)
        return change

    def check_encodable(self, change: Patch) -> None:
        """Raise ``UnsupportedInDialect`` or ``InvalidOption`` (naming the livekit
        keyword) if the wire dialect cannot say ``change`` or its server refuses
        it (legacy Azure is the flat dialect; xAI has its own voices, VAD, ...)."""
        if self.codec.dialect == "ga":
            return  # the GA dialect says every option (only flat ones raise here)
        try:
            self.codec.encode(change, event_id="check")
        except InvalidOption as e:
            raise _renamed(e) from None

    def moves(self, since: RealtimeOptions, state: RealtimeOptions) -> tuple[tuple[str, Any], ...]:
        """:func:`mirror_moves` remembered by identity: after a model-level write the
        sessions on shared state get one tuple (and share its livekit values, as the
        stock plugin's sessions share the values its model passes on)."""
        key = (id(since), id(state))
        hit = self.moves_memo.get(key)
        if hit is not None and hit[0] is since and hit[1] is state:
            return hit[2]
        found = mirror_moves(since, state, self.store.shared_diff)
        if len(self.moves_memo) > 64:
            self.moves_memo.clear()
        self.moves_memo[key] = (since, state, found)
        return found

    def link(self, session: Any) -> SessionLink:
        """The session's link, made on first use."""
        link = vars(session).get(ATTR)
        if isinstance(link, SessionLink):
            return link
        return SessionLink(self, session)

    def links(self) -> list[SessionLink]:
        """The links of the model's live sessions (linking any not linked yet)."""
        out = []
        sessions = getattr(self.model, "_sessions", ())
        if type(sessions) is weakref.WeakSet:
            # Its references, copied at once (WeakSet's own iterator is a generator
            # guarded against changes, several times slower per session).
            found = [ref() for ref in list(sessions.data)]  # type: ignore[attr-defined]
        else:
            found = list(sessions)
        for session in found:
            if session is None:
                continue
            channel = getattr(session, "_msg_ch", None)
            if channel is not None and channel.closed:
                continue
            link = self.link(session)
            if not link.state.closed:
                out.append(link)
        return out

    def mirror(self) -> None:
        """Keep the model's ``_opts`` (and, where the plugin derives them, its
        capabilities) in step with the store's defaults."""
        opts = self.model._opts
        defaults = self.store.defaults
        changed = _mirror(opts, defaults, self.mirrored, self.moves)
        self.mirrored = defaults
        if self.turn_taking is not None and "turn_detection" in changed:
            self.model._capabilities.turn_detection = self.turn_taking(opts.turn_detection)
            if self.warn_half is not None:
                self.warn_half(opts.turn_detection)
        if self.turn_taking is not None and cv.TRANSCRIPTION in changed:
            self.model._capabilities.user_transcription = getattr(opts, cv.TRANSCRIPTION) is not None


class SessionLink:
    """One plugin session and its :class:`~optstate.SessionState`.

    Linking makes the session an instance of the plugin class's linked subclass
    (:func:`_linked_class`), whose methods call this object's.
    """

    # Slots: one link per live session (see bench/bench_memory.py).
    __slots__ = (
        "adapter",
        "codec",
        "keywords",
        "mirrored",
        "own_caps",
        "own_opts",
        "session",
        "state",
        "stock",
        "tool_memo",
        "warned",
        "wire",
    )

    def __init__(self, adapter: ModelAdapter, session: Any) -> None:
        self.adapter = adapter
        self.session = session
        self.codec = adapter.codec
        store = adapter.store
        self.state: SessionState[RealtimeOptions] = store.session(codec=adapter.codec)
        cls = type(session)
        # The plugin's own session class (its methods are the stock behaviour).
        self.stock: Any = getattr(cls, STOCK, cls)
        keywords = _SESSION_KEYWORDS.get(self.stock)
        if keywords is None:
            keywords = _SESSION_KEYWORDS[self.stock] = _keywords(self.stock.update_options)
        self.keywords = keywords
        # session.update event ids sent on this connection, oldest first: the server
        # answers them in order, which tells whose answer a session.updated is.
        self.wire: list[str] = []
        self.warned: frozenset[Refusal] = frozenset()
        # 1.8 sessions keep their own copy of the options (and capabilities).
        self.own_opts: Any = vars(session).get("_opts")
        self.own_caps: Any = vars(session).get("_capabilities")
        # The desired state ``own_opts`` was last made to say (None: not yet).
        self.mirrored: RealtimeOptions | None = None

        # What the plugin's constructor sets is what its own first update carries:
        # those fields are set at the model level (the URL chooses the model); the
        # rest stay the server's.
        adapter.adopt(cv.stock_update_paths(session._create_session_update_event(), adapter.codec.dialect))
        start = Patch()
        if self.own_opts is not None:
            held = cv.state_from_opts(self.own_opts, base=store.defaults)
            start = diff(store.defaults, held).without({"model"})  # the URL chooses the model
        instructions = getattr(session, "_instructions", None)
        if instructions is not None:
            start = start | self.adapter.translate({"instructions": instructions}, _OWN, "RealtimeSession")
        # The tools last given, converted: (id(tool), id(tool.info)) -> (tool, its
        # records and names). Only the current list is kept (see _tools_change).
        self.tool_memo: Mapping[tuple[int, int], tuple[Any, tuple[tuple[Any, str], ...]]] = _NO_TOOLS
        tools = session._tools.flatten()
        if tools:
            start = start | self._tools_change(tools)[0]
        if start:
            self.state.write(start)

        _shadow(session, ATTR, self)
        session.__class__ = _linked_class(self.stock)
        session.on("openai_server_event_received", self.on_server_event)
        session.on("openai_client_event_queued", self.on_client_event)

        # The server has (or is about to get) the plugin's own first update, built
        # from options the store may disagree with (1.5 drops model-level writes):
        # send the store's full state. A first update still queued is replaced.
        take_stock_update(session)
        self.sync()

    # -- what the plugin calls -------------------------------------------------------

    def update_options(self, **values: Any) -> None:
        """Session-level ``update_options``: set the named options on this
        session only, then send what it needs."""
        change = self.adapter.translate(values, self.keywords, "RealtimeSession")
        self.write(change)

    async def update_instructions(self, instructions: str) -> None:
        """``update_instructions`` as a session-level write of ``instructions``."""
        change = self.adapter.translate({"instructions": instructions}, _OWN, "RealtimeSession")
        self.session._instructions = instructions
        self.write(change)

    async def update_tools(self, tools: list[Any]) -> None:
        """``update_tools`` as a session-level write of ``tools``; the session
        keeps the tools the plugin could convert, as the plugin does."""
        session = self.session
        lock = getattr(session, "_update_fnc_ctx_lock", None) or asyncio.Lock()
        async with lock:
            change, names = self._tools_change(tools)
            self.write(change)
            session._tools = llm.ToolContext(
                [
                    tool
                    for tool in tools
                    if (isinstance(tool, llm.FunctionTool | llm.RawFunctionTool) and tool.info.name in names)
                    or isinstance(tool, llm.ProviderTool)
                ]
            )

    def reconnect_update(self) -> Any:
        """The first event of a new connection (the plugin's reconnect): the
        store's whole desired state, refused-before changes included."""
        if self.state.closed:
            return self.stock._create_session_update_event(self.session)
        self.wire.clear()
        self.state.on_reconnect()
        event = self.state.sync()
        self.report_refused()
        if event is None:
            return self.stock._create_session_update_event(self.session)
        if "tools" in event["session"]:
            # This update carries the tools: the plugin's next step, restating them
            # in an update of their own, would send them twice on this connection.
            skip_one_tools_replay(self.session)
        return event

    def restate_tools(self, tools: list[Any]) -> dict[str, Any] | None:
        """The reconnect's tools replay. The store's connect update already
        carries the tools, so this restates them from the store; its answer is
        not taken for the answer to one of the store's updates."""
        change = patch(RealtimeOptions, {"tools": self.state.desired.tools})
        return self.codec.encode(change, event_id=f"tools_restate_{secrets.token_hex(6)}")

    async def aclose(self) -> None:
        """The plugin's ``aclose``, then the session leaves the store."""
        try:
            await self.stock.aclose(self.session)
        finally:
            self.state.close()

    def on_server_event(self, event: Any) -> None:
        """Every raw server event goes to the session state (answers to
        ``session.update``s the store did not send excepted)."""
        try:
            if not isinstance(event, Mapping):
                return
            kind = event.get("type")
            if kind == "session.updated" and self.wire:
                answered = self.wire.pop(0)
                if answered not in self.state.in_flight:
                    return
            elif kind == "error":
                error = event.get("error")
                event_id = error.get("event_id") if isinstance(error, Mapping) else None
                if isinstance(event_id, str) and event_id in self.wire:
                    self.wire.remove(event_id)
            if self.state.closed:
                return
            rejection = self.state.on_server_event(event)
            if kind == "session.created":
                self._adopt_model(event)
            if rejection is not None:
                refused = ", ".join(cv.keyword_of(p) for p in rejection.change.paths())
                log.warning(
                    "the server refused the update of %s (%s); asking again will resend it",
                    refused,
                    rejection.error.get("message"),
                )
                self.mirror()
        except Exception:  # a listener must never break the plugin's receive loop
            log.exception("failed to handle a server event")

    def on_client_event(self, event: Any) -> None:
        """Note each ``session.update`` as it goes on the wire."""
        if isinstance(event, Mapping) and event.get("type") == "session.update":
            self.wire.append(str(event.get("event_id")))

    # -- the rest --------------------------------------------------------------------

    def write(self, change: Patch) -> None:
        """A session-level write, its mirrors, and its event. A write to a closed
        session is dropped, as the plugin drops events sent after ``aclose``."""
        state = self.state
        if state.closed:
            log.debug("dropped a write to a closed session: %r", change)
            return
        state.write(change)
        self.after_write()

    def after_write(self) -> None:
        """Send what the session now needs and bring the mirrors in step (after
        the sync, desired is what was sent: the mirror reads it without a diff)."""
        self.sync()
        self.mirror()

    def mirror(self) -> None:
        """Keep a 1.8 session's own ``_opts`` and capabilities in step with its
        desired state (a 1.5 session reads the model's)."""
        if self.own_opts is None or self.state.closed:
            return
        desired = self.state.desired
        adapter = self.adapter
        # Only the model's defaults object is shared between sessions: remember its moves.
        moves = adapter.moves if desired is adapter.store.defaults else adapter.own_moves
        changed = _mirror(self.own_opts, desired, self.mirrored, moves)
        self.mirrored = desired
        caps, derive = self.own_caps, self.adapter.turn_taking
        if caps is not None and derive is not None:
            if "turn_detection" in changed:
                caps.turn_detection = derive(self.own_opts.turn_detection)
            if cv.TRANSCRIPTION in changed:
                caps.user_transcription = getattr(self.own_opts, cv.TRANSCRIPTION) is not None

    def sync(self) -> None:
        """Send the session what the server lacks, through the plugin's queue."""
        if self.state.closed:
            return
        self.sent(self.state.sync())

    def sent(self, event: dict[str, Any] | None) -> None:
        """Put the event a sync gave on the plugin's queue (if any), and warn of
        what the live server refuses."""
        if event is not None:
            self.session.send_event(event)
        if self.warned or self.state.needs_reconnect:
            self.report_refused()

    def report_refused(self) -> None:
        """Warn once per change the live server refuses (voice after audio,
        tracing once enabled): it is kept and goes out on the next connection."""
        refused = self.state.needs_reconnect
        if not refused and not self.warned:
            return  # the common case: nothing refused now or before
        now = frozenset(refused)
        for r in now - self.warned:
            log.warning(
                "not sending %s=%r on this connection (%s); "
                "it is kept and goes out when the session next connects",
                cv.keyword_of(r.path),
                r.value,
                r.reason,
            )
        self.warned = now

    def _adopt_model(self, event: Mapping[str, Any]) -> None:
        """The connection's URL chose the model, and the server names it (a
        dated snapshot, an Azure deployment): take its name, so it is not
        reported as a change to make."""
        confirmed = self.state.confirmed
        if confirmed is not None and confirmed.model != self.state.desired.model:
            self.state.write({"model": confirmed.model})

    def _tools_change(self, tools: list[Any]) -> tuple[Patch, set[str]]:
        """The validated write of ``tools`` (livekit tools) and the names of
        those the plugin could convert.

        A tool object given last time (the same object, with the same ``info``)
        is not converted or validated again: its record is reused, so a list
        of 10 000 unchanged tools costs a look-up each, and when every record is
        the one the session holds, the write is of the held vector itself (the
        diff then skips it by identity). Only the current list is remembered.
        """
        memo = self.tool_memo
        fresh: dict[tuple[int, int], tuple[Any, tuple[tuple[Any, str], ...]]] = {}
        records: list[Any] = []
        names: set[str] = set()
        for tool in tools:
            key = (id(tool), id(getattr(tool, "info", None)))
            hit = memo.get(key) or fresh.get(key)
            if hit is None or hit[0] is not tool:
                hit = (tool, cv.tool_records(self.session._convert_tools_to_oai([tool]), len(records)))
            fresh[key] = hit
            for record, name in hit[1]:
                records.append(record)
                names.add(name)
        self.tool_memo = fresh
        held = self.state.desired.tools
        same = len(held) == len(records) and all(a is b for a, b in zip(held, records, strict=True))
        change = self.adapter.translate({"tools": held if same else records}, _OWN, "RealtimeSession")
        return change, names


#: The store fields that are not update_options keywords.
_OWN: Final = frozenset({"instructions", "tools"})

#: A link's tool memo before any tools were given (never changed: replaced whole).
_NO_TOOLS: Final[Mapping[tuple[int, int], Any]] = MappingProxyType({})


def adapter_of(model: object) -> ModelAdapter:
    """The model's adapter, or ``OptStateError`` if it was not attached."""
    adapter = vars(model).get(ATTR) if hasattr(model, "__dict__") else None
    if not isinstance(adapter, ModelAdapter):
        raise OptStateError(f"{type(model).__name__} is not attached: call optstate.livekit.attach(model)")
    return adapter


def link_of(session: object) -> SessionLink:
    """The session's link, or ``OptStateError`` if its model was not attached."""
    link = vars(session).get(ATTR) if hasattr(session, "__dict__") else None
    if not isinstance(link, SessionLink):
        raise OptStateError(
            f"{type(session).__name__} is not linked: call optstate.livekit.attach() on its model"
        )
    return link
