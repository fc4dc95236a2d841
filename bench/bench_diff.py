"""diff of a one-leaf change against a hand-written per-field comparison (the floor).

The baseline is what a plugin writes by hand: twelve ``if old.x != new.x`` checks
over a mutable options object, collecting the changed fields in a dict.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import optstate
from optstate.openai import RealtimeOptions

from ._timing import Timing, interleaved


@dataclasses.dataclass
class HandOptions:
    """A livekit-style mutable options object with twelve fields."""

    model: str = "gpt-realtime"
    voice: str = "alloy"
    speed: float = 1.0
    instructions: str = ""
    turn_detection: Any = None
    input_audio_transcription: Any = None
    input_audio_noise_reduction: Any = None
    tool_choice: str = "auto"
    max_response_output_tokens: Any = "inf"
    tracing: Any = None
    truncation: Any = "auto"
    modalities: tuple[str, ...] = ("audio",)


FIELDS = [f.name for f in dataclasses.fields(HandOptions)]


def hand_diff(old: HandOptions, new: HandOptions) -> dict[str, Any]:
    """The hand-written per-field comparison."""
    changed: dict[str, Any] = {}
    if old.model != new.model:
        changed["model"] = new.model
    if old.voice != new.voice:
        changed["voice"] = new.voice
    if old.speed != new.speed:
        changed["speed"] = new.speed
    if old.instructions != new.instructions:
        changed["instructions"] = new.instructions
    if old.turn_detection != new.turn_detection:
        changed["turn_detection"] = new.turn_detection
    if old.input_audio_transcription != new.input_audio_transcription:
        changed["input_audio_transcription"] = new.input_audio_transcription
    if old.input_audio_noise_reduction != new.input_audio_noise_reduction:
        changed["input_audio_noise_reduction"] = new.input_audio_noise_reduction
    if old.tool_choice != new.tool_choice:
        changed["tool_choice"] = new.tool_choice
    if old.max_response_output_tokens != new.max_response_output_tokens:
        changed["max_response_output_tokens"] = new.max_response_output_tokens
    if old.tracing != new.tracing:
        changed["tracing"] = new.tracing
    if old.truncation != new.truncation:
        changed["truncation"] = new.truncation
    if old.modalities != new.modalities:
        changed["modalities"] = new.modalities
    return changed


def run(*, quick: bool = False) -> list[tuple[str, Timing, str, float]]:
    """Rows of (scenario, optstate timing, baseline name, ratio)."""
    old = RealtimeOptions()
    new = optstate.set(old, "audio.output.speed", 1.5)
    h_old, h_new = HandOptions(), dataclasses.replace(HandOptions(), speed=1.5)
    assert optstate.diff(old, new).paths() == {"audio.output.speed": 1.5}
    assert hand_diff(h_old, h_new) == {"speed": 1.5}
    t = interleaved(
        {
            "optstate": lambda: optstate.diff(old, new),
            "hand": lambda: hand_diff(h_old, h_new),
        },
        rounds=2 if quick else 7,
        min_time=0.002 if quick else 0.02,
    )
    return [
        ("diff, one leaf (speed)", t["optstate"], "hand-written", t["optstate"].median / t["hand"].median)
    ]


if __name__ == "__main__":
    for name, timing, base, ratio in run():
        print(f"{name}: {timing.us()}  = {ratio:.2f}x {base}")
