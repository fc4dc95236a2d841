"""pipecat integration; the harness driver now, attach() coming.

``optstate check --driver pipecat-stock`` runs the harness on pipecat-ai's
``OpenAIRealtimeLLMService`` (see :mod:`optstate.pipecat._driver`); importing
that module needs ``pip install 'optstate[pipecat]'``.
"""

# The layers of this package: ``_driver``, the harness driver ``pipecat-stock``
# (imports pipecat, and is imported only by the harness).

__all__: list[str] = []
