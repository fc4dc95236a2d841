"""What a fresh connection holds before the client says anything: the server's defaults."""

from __future__ import annotations

from ..openai import RealtimeOptions

__all__ = ["DEFAULT_INSTRUCTIONS", "DEFAULT_MODEL", "server_defaults"]

#: The model a session holds when its URL names none.
DEFAULT_MODEL: str = RealtimeOptions().model

#: The instructions a session holds until the client sets its own. Like the real
#: service, which fills in default instructions when a client sets none, the
#: loopback server starts from a non-empty text, so a client that sends
#: ``instructions: ""`` without being asked to wipes something the server had.
DEFAULT_INSTRUCTIONS: str = (
    "You are a helpful, concise voice assistant. (optstate loopback server default instructions)"
)


def server_defaults(model: str = DEFAULT_MODEL) -> RealtimeOptions:
    """The session a fresh connection to :class:`~optstate.server.RealtimeServer` holds.

    It is what that connection's ``session.created`` carries: the documented
    defaults of :class:`~optstate.openai.RealtimeOptions`, with ``model`` (the
    model of the URL, or :data:`DEFAULT_MODEL`) and :data:`DEFAULT_INSTRUCTIONS`.
    Every connection starts from exactly this value, whatever earlier connections
    changed. Raises :class:`~optstate.InvalidOption` for a malformed ``model``.
    """
    return RealtimeOptions(model=model, instructions=DEFAULT_INSTRUCTIONS)
