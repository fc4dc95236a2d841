"""The livekit-plugins-openai adapter's implementation; see :mod:`optstate.livekit`.

* ``_convert``: livekit's option values (``NOT_GIVEN``, the ``openai`` pydantic
  types, plain strings, ``None``) to optstate values and back — the only place
  that knows them;
* ``_adapter``: the per-model and per-session glue that routes the plugin's
  ``update_options``/``update_instructions``/``update_tools`` through a
  :class:`~optstate.Store`.
"""
