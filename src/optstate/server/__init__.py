"""A loopback OpenAI-Realtime-compatible websocket server that applies optstate's semantics.

An edge package for tests: it imports ``aiohttp`` (``pip install 'optstate[server]'``)
and is never imported by the core. Start it from an event loop::

    async with RealtimeServer() as server:
        model = RealtimeModel(base_url=server.base_url, api_key="x")  # livekit, or any client
        ...
        assert server.states[0].audio.output.speed == 1.5

What it does with each connection (one *session*, numbered in connection order):

* on connect it sends ``session.created`` holding :func:`server_defaults`: the
  documented defaults, the ``model`` of the URL and non-empty default
  ``instructions``, as the real service starts a session;
* a ``session.update`` becomes a patch (:func:`~optstate.openai.decode_update`), is
  checked against the official schema when the ``openai`` package is installed, and
  against the server rules (:func:`~optstate.openai.refusals`); then it is applied
  with :func:`optstate.apply` and answered by ``session.updated``, or it changes
  nothing and is answered by an ``error`` naming the client's ``event_id``;
* the other client events a realtime plugin sends are accepted and answered the way
  the plugin expects; unknown events and malformed JSON get an ``error`` and the
  connection stays open.

``/v1/realtime?model=...`` (and ``/openai/v1/realtime``) speak the GA dialect;
Azure's legacy ``/openai/realtime?api-version=...&deployment=...`` speaks the beta one;
``/xai/v1/realtime`` (:attr:`RealtimeServer.xai_base_url`) speaks xAI's (xAI's own URL
is GA's path, ``wss://api.x.ai/v1/realtime``, on another host).

Test controls (:meth:`RealtimeServer.fail_next_update` and
:meth:`~RealtimeServer.withdraw_failures`, :meth:`~RealtimeServer.drop_after`,
:meth:`~RealtimeServer.mute`, ...) inject faults. What happened is public:
:attr:`RealtimeServer.received` lists what each connection was sent by its client,
:attr:`~RealtimeServer.sent` what the server answered, and each
:class:`ServerSession`'s ``updates`` what it did with each ``session.update``
(an :class:`UpdateOutcome`: applied, or refused with which error).

Layout: ``_server`` (listening, handshake and routing by path to a dialect, the
controls' API), ``_session`` (one connection's session and what it does with each
client message), ``_events`` (the server events it builds), ``_controls`` (the
faults a test set), ``_defaults`` (what a fresh connection holds), ``_official``
(the check against the ``openai`` models).
"""

from ._defaults import DEFAULT_INSTRUCTIONS, DEFAULT_MODEL, server_defaults
from ._server import RealtimeServer
from ._session import REFUSAL_CODES, ServerSession, UpdateOutcome

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "DEFAULT_MODEL",
    "REFUSAL_CODES",
    "RealtimeServer",
    "ServerSession",
    "UpdateOutcome",
    "server_defaults",
]

# Public classes report the public module, in reprs, pickles and docs.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
