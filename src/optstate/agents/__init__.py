"""openai-agents integration; the harness driver now, attach() coming.

``optstate check --driver openai-agents-stock`` runs the harness on the OpenAI
Agents SDK's ``RealtimeSession`` and its ``OpenAIRealtimeWebSocketModel`` (see
:mod:`optstate.agents._driver`); importing that module needs
``pip install 'optstate[agents]'``.
"""

# The layers of this package: ``_driver``, the harness driver ``openai-agents-stock``
# (imports the Agents SDK, and is imported only by the harness).

__all__: list[str] = []
