"""What the livekit adapter knows of the plugins' own internals, apart from the glue.

The plugin's first full ``session.update`` in a session's queue, the reconnect's
tools restatement, the model a connection's URL asks for, and the wire dialect a
model's sessions speak: each found on the objects (their methods and attributes),
never from a version string.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlparse

from ..openai import Dialect
from ..openai._dialects import FLAT_DIALECTS

__all__ = ["connection_model", "dialect_of", "skip_one_tools_replay", "take_stock_update"]

log = logging.getLogger("optstate.livekit")


def _is_stock_session_update(event: object) -> bool:
    """Whether a queued client event is the plugin's own full ``session.update``."""
    if isinstance(event, Mapping):
        kind, event_id = event.get("type"), event.get("event_id")
    else:
        kind, event_id = getattr(event, "type", None), getattr(event, "event_id", None)
    return kind == "session.update" and str(event_id).startswith("session_update_")


def take_stock_update(session: Any) -> bool:
    """Take the plugin's first full ``session.update`` out of the session's
    queue if it is still the only thing queued (not sent yet): the link sends
    the store's instead. Anything else is left exactly where it was."""
    channel = getattr(session, "_msg_ch", None)
    if channel is None or channel.closed or channel.qsize() != 1:
        return False
    event = channel.recv_nowait()
    if _is_stock_session_update(event):
        return True
    channel.send_nowait(event)  # it was alone in the queue, so its place is kept
    return False


class _NoToolsOnce:
    """Stands in for a session's ``_tools`` until it is first flattened: that
    flatten (the plugin's reconnect asking which tools to restate, right after it
    took the connection's first update) finds none, and the session's own tool
    context is back in place; any other use goes to the real one."""

    def __init__(self, session: Any, tools: Any) -> None:
        self._session = session
        self._tools = tools

    def flatten(self) -> list[Any]:
        if self._session.__dict__.get("_tools") is self:
            self._session._tools = self._tools
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tools, name)


def skip_one_tools_replay(session: Any) -> None:
    """Make the plugin's reconnect skip its tools restatement once (see
    :class:`_NoToolsOnce`): the connection's first update already carries them."""
    tools = session.__dict__.get("_tools")
    if tools is not None and not isinstance(tools, _NoToolsOnce):
        session._tools = _NoToolsOnce(session, tools)


def connection_model(module: Any, opts: Any) -> str:
    """The model a connection asks for: what the plugin puts in the URL (the
    deployment, for Azure), not necessarily ``_opts.model``."""
    process = getattr(module, "process_base_url", None)
    if process is not None:
        with contextlib.suppress(Exception):
            url = process(
                opts.base_url,
                opts.model,
                is_azure=opts.is_azure,
                azure_deployment=opts.azure_deployment,
                api_version=opts.api_version,
            )
            query = parse_qs(urlparse(url).query)
            for key in ("model", "deployment"):
                if query.get(key):
                    return str(query[key][0])
    return str(opts.model)


def dialect_of(model: Any) -> Dialect:
    """The wire dialect ``model``'s sessions speak, found by asking its session
    class to wrap a probe update (a voice and a transcription) the way it wraps
    every update: the transcription at ``input_audio_transcription`` is the flat
    dialect (legacy Azure), a top-level ``voice`` with GA nesting left is xAI's,
    else GA. A plugin without that hook (1.5) is GA, or flat for legacy Azure."""
    opts = model._opts
    legacy_azure = bool(getattr(opts, "is_azure", False) and getattr(opts, "api_version", None))
    session_cls = getattr(inspect.getmodule(type(model)), "RealtimeSession", None)
    wrap = getattr(session_cls, "_wrap_session_update", None)
    if session_cls is None or wrap is None:
        return "beta" if legacy_azure else "ga"
    try:
        from openai.types.realtime import (
            AudioTranscription,
            RealtimeAudioConfig,
            RealtimeAudioConfigInput,
            RealtimeAudioConfigOutput,
            RealtimeSessionCreateRequest,
        )

        probe = session_cls.__new__(session_cls)  # no connection, no tasks: only the hook runs
        probe._opts = opts
        request = RealtimeSessionCreateRequest(
            type="realtime",
            audio=RealtimeAudioConfig(
                input=RealtimeAudioConfigInput(transcription=AudioTranscription(model="probe")),
                output=RealtimeAudioConfigOutput(voice="probe"),
            ),
        )
        event = wrap(probe, "probe", request)
        if not isinstance(event, Mapping):
            event = event.model_dump(by_alias=True, exclude_unset=True)
        session = event.get("session") or {}
    except Exception:  # a hook that cannot run on a probe: what the options say
        log.debug("could not probe the session update shape", exc_info=True)
        return "beta" if legacy_azure else "ga"
    if FLAT_DIALECTS["beta"].key("audio.input.transcription") in session:
        return "beta"
    return "xai" if "voice" in session else "ga"
