"""Make the OpenAI Agents SDK's realtime sessions send their options through optstate.

::

    from agents.realtime import RealtimeAgent, RealtimeRunner
    import optstate.agents

    run_config = {"model_settings": {"voice": "marin"}}
    runner = optstate.agents.attach(RealtimeRunner(agent, config=run_config))
    async with await runner.run() as session:
        run_config["model_settings"]["speed"] = 1.2     # reaches every live session
        await session.update_agent(other_agent)         # sends only what the agent changes

After :func:`attach`, the runner, its sessions and their
``OpenAIRealtimeWebSocketModel`` keep the SDK's API, but:

* the run config's ``model_settings`` is the model level of a
  :class:`~optstate.Store` (one per run config, shared by the runners using it):
  a change to it reaches every live session and every later one, without
  undoing what a session set itself;
* ``update_agent``, hand-offs and ``RealtimeModelSendSessionUpdate`` events are
  session-level writes of exactly the settings they name (an agent names its
  instructions, tools, hand-offs and prompt): voice, speed, turn detection and
  transcription a session set are no longer reset to the SDK's defaults, and
  nothing is sent when nothing changed;
* a bad value raises :class:`~optstate.InvalidOption` naming the settings key;
* an update the server refuses (``error``) is rolled back, so asking again sends
  it again; a voice change after the model has produced audio is not sent on
  that connection (a warning says so);
* ``session.created``/``session.updated`` are the truth (a contradiction is
  reported, not re-sent in a loop).
"""

# The layers of this package, each importing only those above it:
#
# * ``_convert``: the SDK's ``RealtimeSessionModelSettings`` keys -> option paths
#   (values go through the SDK's own session conversion);
# * ``_adapter``: the per-runner, per-session and per-model glue;
# * ``_driver``: the harness drivers ``openai-agents-stock`` and
#   ``openai-agents-optstate``, imported only by the harness.

from __future__ import annotations

from typing import Any, TypeVar

try:
    import agents.realtime  # noqa: F401 - fails early without the SDK
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("optstate.agents needs openai-agents: pip install 'optstate[agents]'") from e

from .. import OptStateError, SessionState, Store
from ..openai import RealtimeOptions
from ._adapter import ATTR, link_session, live_settings, model_link_of

__all__ = ["attach", "state_of", "store_of"]

T = TypeVar("T")


def attach(runner: T) -> T:
    """Route the option changes of ``runner`` (a ``RealtimeRunner``), of the
    sessions its ``run()`` makes and of their models through an optstate
    :class:`~optstate.Store`; return ``runner``.

    A ``RealtimeSession`` made without a runner may be attached itself (its run
    config is its model level). Idempotent.
    """
    obj: Any = runner
    if isinstance(vars(obj).get(ATTR) if hasattr(obj, "__dict__") else None, _Attached):
        return runner
    if hasattr(obj, "_starting_agent") and hasattr(obj, "run"):
        if obj._config is None:
            obj._config = {}
        _Attached(obj)
    elif hasattr(obj, "_get_updated_model_settings_from_agent") and hasattr(obj, "model"):
        link_session(obj, live_settings(obj._run_config).store)
    else:
        raise TypeError(f"attach() needs an Agents SDK RealtimeRunner (got {type(obj).__name__})")
    return runner


class _Attached:
    """An attached runner: every session its ``run()`` makes is linked."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.settings = live_settings(runner._config)
        self._stock_run = runner.run
        runner.run = self.run
        setattr(runner, ATTR, self)

    async def run(self, **kwargs: Any) -> Any:
        """The SDK's ``run()``, with the new session linked to the store."""
        session = await self._stock_run(**kwargs)
        link_session(session, self.settings.store)
        return session


def store_of(runner: Any) -> Store[RealtimeOptions]:
    """The store of an attached runner (its ``defaults`` are the run config's settings)."""
    attached = vars(runner).get(ATTR) if hasattr(runner, "__dict__") else None
    if isinstance(attached, _Attached):
        return attached.settings.store
    raise OptStateError(f"{type(runner).__name__} is not attached: call optstate.agents.attach(runner)")


def state_of(session: Any) -> SessionState[RealtimeOptions]:
    """The :class:`~optstate.SessionState` of an attached session's current
    connection (``desired``, ``sent``, ``confirmed``, ``needs_reconnect``)."""
    state = model_link_of(session).state
    if state is None:
        raise OptStateError(f"{type(session).__name__} has not connected yet")
    return state
