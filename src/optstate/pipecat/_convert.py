"""pipecat's ``SessionProperties`` <-> optstate values.

The only place in optstate that knows pipecat's session-property models
(``pipecat.services.openai.realtime.events``). A settings delta names a field by
*setting* it (pydantic's ``model_fields_set``), so an explicit ``None`` is told
apart from a field left out:

==================================  ==============================  ===============================
``SessionProperties`` field         optstate path                   explicit ``None`` (or ``False``)
==================================  ==============================  ===============================
``output_modalities``               ``output_modalities``           ``["audio"]`` (the default)
``audio.input.format``              ``audio.input.format``          not named
``audio.input.transcription``       ``audio.input.transcription``   ``null`` (off)
``audio.input.noise_reduction``     ``audio.input.noise_reduction`` ``null`` (off)
``audio.input.turn_detection``      ``audio.input.turn_detection``  ``False``: ``null`` (off);
                                                                    ``None``: server VAD defaults
``audio.output.format``             ``audio.output.format``         not named
``audio.output.voice``/``speed``    ``audio.output.voice``/``speed``  not named
``tool_choice``                     ``tool_choice``                 ``"auto"``
``max_output_tokens``               ``max_output_tokens``           ``"inf"``
``tracing``                         ``tracing``                     ``null`` (off)
``prompt``                          ``prompt``                      ``null``
``include``                         ``include``                     ``[]``
``reasoning``                       ``reasoning``                   ``null``
==================================  ==============================  ===============================

``instructions`` and ``tools`` are what pipecat resolves when it builds its
``session.update`` (its context, ``system_instruction`` and adapter), so the
adapter takes them from there, not from a delta; ``model``, ``type``, ``id``,
``object`` and ``expires_at`` are never written. A pipecat record carries
fields its class does not declare when built as ``TurnDetection(...).model_copy(
update={"create_response": False})`` or from a subclass: they are read too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from pipecat.services.openai.realtime import events as pe
from pydantic import BaseModel

from .. import Patch, get, patch
from ..openai import RealtimeOptions, to_json

__all__ = ["PATHS", "from_change", "merge", "to_change", "tools_to_json"]

#: ``SessionProperties`` leaf (dotted, as pipecat nests it) -> optstate path.
PATHS: Final[Mapping[str, str]] = {
    "output_modalities": "output_modalities",
    "audio.input.format": "audio.input.format",
    "audio.input.transcription": "audio.input.transcription",
    "audio.input.noise_reduction": "audio.input.noise_reduction",
    "audio.input.turn_detection": "audio.input.turn_detection",
    "audio.output.format": "audio.output.format",
    "audio.output.voice": "audio.output.voice",
    "audio.output.speed": "audio.output.speed",
    "tool_choice": "tool_choice",
    "max_output_tokens": "max_output_tokens",
    "tracing": "tracing",
    "prompt": "prompt",
    "include": "include",
    "reasoning": "reasoning",
}

#: What an explicit ``None`` means where it is not ``null`` on the wire (absent: not named).
_NONE_MEANS: Final[Mapping[str, Any]] = {
    "output_modalities": ["audio"],
    "audio.input.transcription": None,
    "audio.input.noise_reduction": None,
    "audio.input.turn_detection": {"type": "server_vad"},
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "tracing": None,
    "prompt": None,
    "include": [],
    "reasoning": None,
}

#: The merge nodes of ``SessionProperties`` (a delta carries only the children it sets).
_NODES: Final = frozenset({"audio", "audio.input", "audio.output"})


def _json(value: BaseModel) -> dict[str, Any]:
    """A pipecat record as JSON: its declared fields (``None`` left out) and any
    field it carries beyond them (``model_copy(update=...)``, a subclass)."""
    out = value.model_dump(mode="json", exclude_none=True, warnings=False)
    declared = type(value).model_fields
    for name, v in vars(value).items():
        if name not in declared and not name.startswith("_") and v is not None:
            out[name] = v
    return out


def _leaves(model: BaseModel, prefix: str = "") -> Iterable[tuple[str, Any]]:
    """The (dotted name, value) of every leaf ``model`` sets, merge nodes walked into."""
    for name in model.model_fields_set:
        key = prefix + name
        value = getattr(model, name)
        if key in _NODES and isinstance(value, BaseModel):
            yield from _leaves(value, key + ".")
        elif key in _NODES and value is None:
            continue  # ``audio=None``: nothing named below it
        else:
            yield key, value


def _value(key: str, value: Any) -> Any:
    if key == "audio.input.turn_detection" and value is False:
        return None
    if value is None:
        return _NONE_MEANS[key]
    if key == "audio.input.turn_detection" and value is True:
        return {"type": "server_vad"}
    if isinstance(value, BaseModel):
        return _json(value)
    return value


def to_change(sp: BaseModel) -> Patch:
    """The validated optstate write for the fields a ``SessionProperties`` delta
    sets (see the module table); raises :class:`~optstate.InvalidOption` naming
    the path and value before anything changes."""
    values: dict[str, Any] = {}
    for key, value in _leaves(sp):
        path = PATHS.get(key)
        if path is None or (value is None and key not in _NONE_MEANS):
            continue
        values[path] = _value(key, value)
    return patch(RealtimeOptions, values)


def from_change(state: RealtimeOptions, paths: Iterable[str]) -> BaseModel:
    """A ``SessionProperties`` delta setting the given optstate paths (as
    :data:`PATHS` names them) to their values in ``state``: what the service's
    own copy of its settings must take to say what optstate holds."""
    by_path = {p: k for k, p in PATHS.items()}
    tree: dict[str, Any] = {}
    for path in paths:
        key = by_path.get(path)
        if key is None:
            continue
        value = to_json(get(state, path))
        if key == "audio.input.turn_detection" and value is None:
            value = False  # pipecat's "off"
        *parents, leaf = key.split(".")
        node = tree
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    delta: BaseModel = pe.SessionProperties.model_validate(tree)
    return delta


def merge(old: Any, new: BaseModel, prefix: str = "") -> BaseModel:
    """``old`` with the fields ``new`` sets, merge nodes merged child by child
    (pipecat replaces its stored ``SessionProperties`` with a delta's)."""
    if not isinstance(old, BaseModel):
        return new.model_copy()
    update: dict[str, Any] = {}
    for name in new.model_fields_set:
        value = getattr(new, name)
        mine = getattr(old, name, None)
        if prefix + name in _NODES and isinstance(value, BaseModel) and isinstance(mine, BaseModel):
            update[name] = merge(mine, value, prefix + name + ".")
        else:
            update[name] = value
    return old.model_copy(update=update)


def tools_to_json(tools: Any) -> list[Any] | None:
    """The JSON tools of pipecat's resolved ``session.update`` (``None`` if pipecat
    sent none)."""
    if tools is None:
        return None
    return [t.model_dump(mode="json", exclude_none=True) if isinstance(t, BaseModel) else t for t in tools]
