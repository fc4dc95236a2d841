"""The realtime plugins' ``update_options`` keyword vocabulary, mapped to option paths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["PLUGIN_KEYWORDS"]

#: ``update_options`` keyword (livekit-plugins-openai's names) -> the option path it sets.
PLUGIN_KEYWORDS: Final[Mapping[str, str]] = {
    "voice": "audio.output.voice",
    "speed": "audio.output.speed",
    "turn_detection": "audio.input.turn_detection",
    "input_audio_transcription": "audio.input.transcription",
    "input_audio_noise_reduction": "audio.input.noise_reduction",
    "tool_choice": "tool_choice",
    "max_response_output_tokens": "max_output_tokens",
    "tracing": "tracing",
    "truncation": "truncation",
    "reasoning": "reasoning",
}
