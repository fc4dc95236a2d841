"""The realtime plugins' ``update_options`` keyword vocabulary, mapped to option paths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ._dialects import BETA

__all__ = ["PLUGIN_KEYWORDS"]

#: The options livekit-plugins-openai's ``update_options`` takes. Its keywords
#: are the options' beta names (see :data:`._dialects.BETA`), or their GA
#: names for the options beta lacks (``truncation``).
_KEYWORD_PATHS = (
    "audio.output.voice",
    "audio.output.speed",
    "audio.input.turn_detection",
    "audio.input.transcription",
    "audio.input.noise_reduction",
    "tool_choice",
    "max_output_tokens",
    "tracing",
    "truncation",
    "reasoning",
)

#: ``update_options`` keyword (livekit-plugins-openai's names) -> the option path it sets.
PLUGIN_KEYWORDS: Final[Mapping[str, str]] = {BETA.key(path): path for path in _KEYWORD_PATHS}
