"""A pytest plugin that runs the Agents SDK's own realtime tests with optstate attached.

Every ``OpenAIRealtimeWebSocketModel`` the tests make is attached (its own store) and
every ``RealtimeSession`` is attached (its run config's store; its model is linked when
it is the OpenAI websocket model)::

    cd <a checkout of openai-agents-python at the installed release>
    PYTHONPATH=<optstate>/tools .venv-agents/bin/pytest -p agents_sdk_attached tests/realtime
"""

from __future__ import annotations

import functools
from typing import Any

from agents.realtime import OpenAIRealtimeWebSocketModel, RealtimeSession

import optstate.agents
from optstate.agents._adapter import LiveSettings, link_model


def _after_init(cls: type, attach: Any) -> None:
    stock: Any = cls.__dict__["__init__"]

    @functools.wraps(stock)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        stock(self, *args, **kwargs)
        attach(self)

    cls.__init__ = init  # type: ignore[misc]


_making = [False]


def _attach_model(model: Any) -> None:
    """Link a model to a store of its own (the store's scratch model stays stock)."""
    if _making[0]:
        return
    _making[0] = True
    try:
        store = LiveSettings({}).store
    finally:
        _making[0] = False
    link_model(model, store)


_after_init(OpenAIRealtimeWebSocketModel, _attach_model)
_after_init(RealtimeSession, optstate.agents.attach)
