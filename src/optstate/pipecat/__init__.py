"""Make pipecat-ai's ``OpenAIRealtimeLLMService`` send its session options through optstate.

::

    from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
    import optstate.pipecat

    llm = optstate.pipecat.attach(OpenAIRealtimeLLMService(api_key=...))
    # ... the pipeline as before; then, as pipecat documents:
    await worker.queue_frame(LLMUpdateSettingsFrame(delta=OpenAIRealtimeLLMService.Settings(
        session_properties=SessionProperties(audio=AudioConfiguration(output=AudioOutput(voice="marin"))))))

After :func:`attach` (before the pipeline starts), the service keeps its API, but:

* a settings delta's ``session_properties`` is a session-level write of the
  fields it *sets*: nothing else changes (stock pipecat replaces every stored
  property with the delta's, so ``reset_conversation`` lost earlier settings),
  an explicit ``None`` clears (transcription, noise reduction, tracing,
  reasoning go out as ``null``; ``turn_detection=False`` is ``null`` too), and
  an update that changes nothing sends nothing;
* a bad value changes nothing and becomes pipecat's error frame naming the
  field path and the value;
* every server event reaches the service's :class:`~optstate.SessionState`: an
  ``error`` answering an optstate update rolls it back (asking again sends it
  again) and no longer ends pipecat's receive loop;
* on every new connection (``reset_conversation``) the whole desired state is
  sent; a change the live server refuses (``voice`` after the model has
  spoken) is logged and sent on the next connection.

Several services may share one :class:`~optstate.Store` (``attach(llm,
store=store)``): :func:`update_all` is then the model-level write pipecat lacks.
Detected on the service, never from version strings; tested with pipecat-ai 1.14.
"""

# The layers of this package, each importing only those above it (and the
# optstate core through its public or explicitly internal names):
#
# * ``_convert``: pipecat's ``SessionProperties`` to optstate values and back,
#   the only module that knows them;
# * ``_adapter``: the per-service glue (the hooks on the instance);
# * ``_driver``: the harness drivers ``pipecat-stock`` and ``pipecat-optstate``
#   (``optstate check --driver``), imported only by the harness.

from __future__ import annotations

from typing import Any, TypeVar

try:
    from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("optstate.pipecat needs pipecat-ai: pip install 'optstate[pipecat]'") from e

from .. import OptStateError, SessionState, Store, WriteResult
from ..openai import RealtimeOptions
from . import _adapter

__all__ = ["attach", "state_of", "store_of", "update_all"]

S = TypeVar("S", bound=OpenAIRealtimeLLMService)


def attach(service: S, *, store: Store[RealtimeOptions] | None = None) -> S:
    """Route ``service``'s session options through an optstate
    :class:`~optstate.Store` (``store``, shared with other services, or its own);
    return ``service``. Call it before the pipeline starts; attaching again is a
    no-op (with another ``store`` it raises :class:`~optstate.OptStateError`)."""
    link = vars(service).get(_adapter.ATTR) if hasattr(service, "__dict__") else None
    if isinstance(link, _adapter.ServiceLink):
        if store is not None and store is not link.store:
            raise OptStateError("this service is already attached to another store")
        return service
    for needed in ("_settings", "_update_settings", "send_client_event", "_receive_task_handler", "_ws_send"):
        if not hasattr(service, needed):
            raise TypeError(
                f"attach() needs a pipecat OpenAIRealtimeLLMService (got {type(service).__name__})"
            )
    if getattr(service, "_websocket", None) is not None:
        raise OptStateError("attach() the service before its pipeline starts (it is already connected)")
    _adapter.ServiceLink(service, store)
    return service


def store_of(service: Any) -> Store[RealtimeOptions]:
    """The store of an attached service (shared when given to :func:`attach`)."""
    return _adapter.link_of(service).store


def state_of(service: Any) -> SessionState[RealtimeOptions]:
    """The :class:`~optstate.SessionState` of an attached service (``desired``,
    ``sent``, ``confirmed``, ``needs_reconnect``)."""
    return _adapter.link_of(service).state


async def update_all(store: Store[RealtimeOptions], change: Any) -> WriteResult:
    """The model-level write: set the fields ``change`` names (a pipecat
    ``SessionProperties`` delta, or optstate paths ``{"audio.output.speed": 1.2}``)
    on the store's defaults and every live service attached to it, and send each
    what it now needs. A setting a service made itself and ``change`` does not
    name is never undone. Await it on the services' event loop."""
    return await _adapter.update_all(store, change)
