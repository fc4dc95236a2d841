"""What a fresh connection holds before the client says anything: the server's defaults."""

from __future__ import annotations

from ..openai import RealtimeOptions

__all__ = ["DEFAULT_MODEL", "server_defaults"]

#: The model a session holds when its URL names none.
DEFAULT_MODEL: str = RealtimeOptions().model


def server_defaults(model: str = DEFAULT_MODEL) -> RealtimeOptions:
    """The session a fresh connection to :class:`~optstate.server.RealtimeServer` holds.

    It is what that connection's ``session.created`` carries: the documented
    defaults of :class:`~optstate.openai.RealtimeOptions`, with ``model`` (the
    model of the URL, or :data:`DEFAULT_MODEL`).
    Every connection starts from exactly this value, whatever earlier connections
    changed. Raises :class:`~optstate.InvalidOption` for a malformed ``model``.
    """
    return RealtimeOptions(model=model)
