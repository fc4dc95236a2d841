"""The Agents SDK's realtime settings -> optstate values.

The only module that knows the SDK's ``RealtimeSessionModelSettings`` keys. The
values are never converted here: the SDK's own ``_get_session_config`` turns a
settings dict into its ``session`` object (defaults, audio formats, tools and
hand-offs, the nested ``audio`` keys winning over the flat ones), and optstate
decodes that object. What this module adds is which option paths each settings
key *names*, so that a write changes those and nothing else:

=================================  ==========================================
settings key                       optstate paths
=================================  ==========================================
``voice``, ``speed``               ``audio.output.voice``, ``audio.output.speed``
``turn_detection``                 ``audio.input.turn_detection``
``input_audio_transcription``      ``audio.input.transcription``
``input_audio_noise_reduction``    ``audio.input.noise_reduction``
``input_audio_format``             ``audio.input.format``
``output_audio_format``            ``audio.output.format``
``audio``                          ``audio.input.*``/``audio.output.*`` it holds
``modalities``, ``output_modalities``  ``output_modalities``
``max_output_tokens``              ``max_output_tokens``
``tools``, ``handoffs``            ``tools`` (the SDK sends both as tools)
``instructions``, ``prompt``, ``tool_choice``, ``parallel_tool_calls``,
``reasoning``, ``model_name``      the option of the same name (``model``)
``tracing``                        ``tracing`` (the SDK sends it after ``session.created``)
=================================  ==========================================

``None`` clears where the server has a null (turn detection, transcription, noise
reduction, reasoning, prompt, tracing); the SDK leaves some of those out of its
session object when they are ``None``, and then the clear is added here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .. import InvalidOption, Patch, apply, patch
from ..openai import RealtimeOptions, decode_update

__all__ = ["KEY_PATHS", "change_of", "defaults_of", "key_of", "session_json"]

#: settings key -> the option paths it names.
KEY_PATHS: Final[Mapping[str, tuple[str, ...]]] = {
    "model_name": ("model",),
    "instructions": ("instructions",),
    "prompt": ("prompt",),
    "modalities": ("output_modalities",),
    "output_modalities": ("output_modalities",),
    "voice": ("audio.output.voice",),
    "speed": ("audio.output.speed",),
    "input_audio_format": ("audio.input.format",),
    "output_audio_format": ("audio.output.format",),
    "input_audio_transcription": ("audio.input.transcription",),
    "input_audio_noise_reduction": ("audio.input.noise_reduction",),
    "turn_detection": ("audio.input.turn_detection",),
    "max_output_tokens": ("max_output_tokens",),
    "tool_choice": ("tool_choice",),
    "parallel_tool_calls": ("parallel_tool_calls",),
    "reasoning": ("reasoning",),
    "tools": ("tools",),
    "handoffs": ("tools",),
    "tracing": ("tracing",),
}

#: The ``audio`` sub-keys and the option each names.
_AUDIO_PATHS: Final[Mapping[str, Mapping[str, str]]] = {
    "input": {
        "format": "audio.input.format",
        "noise_reduction": "audio.input.noise_reduction",
        "transcription": "audio.input.transcription",
        "turn_detection": "audio.input.turn_detection",
    },
    "output": {"format": "audio.output.format", "voice": "audio.output.voice", "speed": "audio.output.speed"},
}

#: Options whose ``None`` is a clear the SDK's session object may leave out.
_NULLABLE: Final = frozenset(
    {
        "audio.input.turn_detection",
        "audio.input.transcription",
        "audio.input.noise_reduction",
        "reasoning",
        "prompt",
        "tracing",
        "parallel_tool_calls",
    }
)

_KEY_BY_PATH: Final = {
    **{p: key for key, paths in KEY_PATHS.items() for p in paths if key not in ("modalities", "handoffs")},
    **{path: f"audio.{side}.{sub}" for side, subs in _AUDIO_PATHS.items() for sub, path in subs.items()},
}


def key_of(path: str) -> str:
    """The settings key an optstate path is set by (``audio.output.voice`` -> ``voice``)."""
    for prefix in sorted(_KEY_BY_PATH, key=len, reverse=True):
        if path == prefix or path.startswith((prefix + ".", prefix + "[")):
            return _KEY_BY_PATH[prefix] + path[len(prefix) :]
    return path


def _paths(settings: Mapping[str, Any], named: Iterable[str]) -> dict[str, Any]:
    """``{option path: the settings value naming it}`` for the named keys."""
    out: dict[str, Any] = {}
    for key in named:
        if key == "audio":
            audio = settings.get("audio")
            for side, subs in _AUDIO_PATHS.items():
                held = audio.get(side) if isinstance(audio, Mapping) else None
                for sub, path in subs.items():
                    if isinstance(held, Mapping) and sub in held:
                        out[path] = held[sub]
        else:
            for path in KEY_PATHS.get(key, ()):
                out[path] = settings.get(key)
    return out


def session_json(model: Any, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The SDK's own ``session`` object for ``settings`` as JSON, as its
    ``_send_raw_message`` serialises it (``type`` left out)."""
    obj = model._get_session_config(settings)
    wire: dict[str, Any] = json.loads(obj.model_dump_json(exclude_unset=True))
    wire.pop("type", None)
    return wire


def change_of(model: Any, settings: Mapping[str, Any], named: Iterable[str]) -> Patch:
    """The validated patch that sets the options the ``named`` settings keys name,
    to what the SDK would send for ``settings``. Raises
    :class:`~optstate.InvalidOption` naming the settings key and the value."""
    wanted = _paths(settings, named)
    if not wanted:
        return Patch()
    try:
        full = decode_update(session_json(model, settings))
    except InvalidOption as e:
        raise type(e)(key_of(e.path), e.value, e.rule) from None
    leaves = full.paths()
    kept = full.without(leaves.keys() - wanted.keys())
    clears = {p: None for p, v in wanted.items() if v is None and p in _NULLABLE and p not in leaves}
    return kept | patch(RealtimeOptions, clears) if clears else kept


def defaults_of(model: Any, settings: Mapping[str, Any]) -> RealtimeOptions:
    """The options the SDK gives a session for the run's ``settings`` (the SDK's
    own defaults filled in), before any agent: the model level. ``instructions``
    and ``tools`` are left out (each session's agent sets them), and ``model``
    (the connection's URL chooses it)."""
    named = [k for k in settings if k not in _SESSION_KEYS]
    base = decode_update(session_json(model, settings)).without({"tools", "instructions", "model"})
    return apply(RealtimeOptions(), base | change_of(model, settings, named))


#: Settings keys each session sets itself, never the model level.
_SESSION_KEYS: Final = frozenset({"instructions", "tools", "handoffs", "model_name", "tracing"})
