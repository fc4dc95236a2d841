"""Make livekit-plugins-openai's ``RealtimeModel`` (and livekit-plugins-xai's, and the
legacy Azure one) send their options through optstate.

::

    from livekit.plugins import openai
    import optstate.livekit

    model = optstate.livekit.attach(openai.realtime.RealtimeModel(voice="marin"))
    session = model.session()
    model.update_options(speed=1.5)                      # reaches every session
    session.update_options(input_audio_noise_reduction="near_field")   # this one only

After :func:`attach`, the stock model and every session it creates (before or
after the call) keep their API, but:

* ``model.update_options(...)`` is a model-level write to a
  :class:`~optstate.Store` (defaults and every live session; a session-level
  setting it does not name is never undone), ``session.update_options(...)``,
  ``update_instructions`` and ``update_tools`` are session-level writes; each
  sends exactly the ``session.update`` the server needs, through the session's
  own ``send_event`` — nothing when nothing changed;
* a bad value raises :class:`~optstate.InvalidOption` naming the livekit
  keyword (``turn_detection.threshold``) and the value, and changes nothing;
* the server's answers go to each session's
  :class:`~optstate.SessionState`, so an update the server refused is rolled
  back and asking again sends it again;
* on reconnect, the plugin's replay starts with the store's whole desired state;
* a change the live server refuses (``voice`` after the model has spoken,
  ``tracing`` once enabled) is logged as a warning and sent on the next
  connection;
* the wire dialect is the one the model's sessions speak, told by what the
  plugin makes of an update (never by version): legacy Azure deployments
  (``api_version`` set) use the flat dialect, livekit-plugins-xai's
  ``RealtimeModel`` xAI's (a voice or VAD xAI refuses raises
  ``InvalidOption``/``UnsupportedInDialect`` naming the keyword).

The plugin's own mirrors (``_opts`` of the model and, in 1.8, of each session,
and the capabilities 1.8 derives from them) are kept in step with the store,
because the plugin reads them. Works with livekit-plugins-openai 1.5 and 1.8.
"""

# The layers of this package, each importing only those above it (and the
# optstate core through its public or explicitly internal names):
#
# * ``_convert``: livekit's option values (``NOT_GIVEN``, the ``openai`` pydantic
#   types, plain strings, ``None``) to optstate values and back, the only module
#   that knows them;
# * ``_adapter``: the per-model and per-session glue that routes the plugin's
#   ``update_options``/``update_instructions``/``update_tools`` through a Store;
# * ``_driver``: the harness drivers ``livekit-stock`` and ``livekit-optstate``
#   (``optstate check --driver``), imported only by the harness.

from __future__ import annotations

from typing import Any, TypeVar

try:
    from livekit.plugins.openai.realtime import RealtimeModel
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("optstate.livekit needs livekit-plugins-openai: pip install 'optstate[livekit]'") from e

from .. import SessionState, Store
from ..openai import RealtimeOptions
from ._adapter import ATTR, ModelAdapter, adapter_of, link_of

__all__ = ["attach", "state_of", "store_of"]

M = TypeVar("M", bound=RealtimeModel)


def attach(model: M) -> M:
    """Route ``model``'s option changes, and those of all its sessions, through
    an optstate :class:`~optstate.Store`; return ``model``.

    Idempotent: attaching again only links sessions created behind the
    model's back (not through ``model.session()``). Sessions that already
    exist are linked now; since the store cannot know what their server
    holds, each is sent the store's full state once.
    """
    adapter = getattr(model, "__dict__", {}).get(ATTR)
    if not isinstance(adapter, ModelAdapter):
        if not (hasattr(model, "_opts") and hasattr(model, "_sessions")):
            raise TypeError(
                f"attach() needs a livekit-plugins-openai RealtimeModel (got {type(model).__name__})"
            )
        adapter = ModelAdapter(model)
    adapter.links()
    return model


def store_of(model: Any) -> Store[RealtimeOptions]:
    """The store of an attached model (its ``defaults`` are the model-level options)."""
    return adapter_of(model).store


def state_of(session: Any) -> SessionState[RealtimeOptions]:
    """The :class:`~optstate.SessionState` of a session of an attached model
    (``desired``, ``sent``, ``confirmed``, ``needs_reconnect``)."""
    return link_of(session).state
