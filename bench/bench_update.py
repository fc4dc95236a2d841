"""From a write to its ``session.update``: ``set``, ``apply`` and ``encode`` of one leaf.

Baselines are what a plugin writes by hand over the twelve-field options object
of :mod:`bench.bench_diff`:

* a new state with one field changed: ``dataclasses.replace`` (optstate's
  ``set``/``apply`` also validate the value and rebuild the records on its path);
* the GA event for a changed-fields dict: a table from field to wire location;
* end to end: replace, compare field by field, build the event.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import optstate
from optstate.openai import RealtimeOptions, encode

from ._timing import Row, Target, interleaved, ratio, settings
from .bench_diff import HandOptions, hand_diff

#: Where each hand-written field goes in a GA ``session`` object.
WIRE: dict[str, tuple[str, ...]] = {
    "model": ("model",),
    "voice": ("audio", "output", "voice"),
    "speed": ("audio", "output", "speed"),
    "instructions": ("instructions",),
    "turn_detection": ("audio", "input", "turn_detection"),
    "input_audio_transcription": ("audio", "input", "transcription"),
    "input_audio_noise_reduction": ("audio", "input", "noise_reduction"),
    "tool_choice": ("tool_choice",),
    "max_response_output_tokens": ("max_output_tokens",),
    "tracing": ("tracing",),
    "truncation": ("truncation",),
    "modalities": ("output_modalities",),
}


def hand_event(changed: dict[str, Any]) -> dict[str, Any] | None:
    """The GA ``session.update`` for a hand-written changed-fields dict."""
    if not changed:
        return None
    session: dict[str, Any] = {"type": "realtime"}
    for name, value in changed.items():
        *parents, key = WIRE[name]
        into = session
        for p in parents:
            into = into.setdefault(p, {})
        into[key] = list(value) if isinstance(value, tuple) else value
    return {"type": "session.update", "session": session}


def hand_update(old: HandOptions) -> tuple[HandOptions, dict[str, Any] | None]:
    """Change one field by hand, compare, and build the event."""
    new = dataclasses.replace(old, speed=1.5)
    return new, hand_event(hand_diff(old, new))


def optstate_update(old: RealtimeOptions) -> tuple[RealtimeOptions, dict[str, Any] | None]:
    """Change one field with optstate, diff, and encode the event."""
    new = optstate.set(old, "audio.output.speed", 1.5)
    return new, encode(optstate.diff(old, new))


def run(*, quick: bool = False) -> list[Row]:
    """Rows of (scenario, optstate timing, baseline, baseline timing, ratio)."""
    old, h_old = RealtimeOptions(), HandOptions()
    change = optstate.patch(RealtimeOptions, {"audio.output.speed": 1.5})
    assert encode(change) == hand_event({"speed": 1.5})
    assert optstate_update(old)[1] == hand_update(h_old)[1]
    namespace = {
        "old": old,
        "h_old": h_old,
        "change": change,
        "changed": {"speed": 1.5},
        "apply": optstate.apply,
        "set": optstate.set,
        "encode": encode,
        "replace": dataclasses.replace,
        "hand_event": hand_event,
        "optstate_update": optstate_update,
        "hand_update": hand_update,
    }
    # scenario: (optstate statement, baseline, baseline statement)
    cases = {
        "apply, one leaf": ("apply(old, change)", "dataclasses.replace", "replace(h_old, speed=1.5)"),
        "set, one leaf": (
            "set(old, 'audio.output.speed', 1.5)",
            "dataclasses.replace",
            "replace(h_old, speed=1.5)",
        ),
        "encode, one-leaf patch (GA)": ("encode(change)", "hand-built event", "hand_event(changed)"),
        "set + diff + encode, one leaf": (
            "optstate_update(old)",
            "replace + hand diff + event",
            "hand_update(h_old)",
        ),
    }
    rows = []
    for scenario, (ours, baseline, theirs) in cases.items():
        t = interleaved({"optstate": ours, baseline: theirs}, namespace=namespace, **settings(quick))
        rows.append(Row(scenario, t["optstate"], baseline, t[baseline], ratio(t["optstate"], t[baseline])))
    return rows


def targets(rows: list[Row]) -> list[Target]:
    """No stated goals: these rows are measured to find easy wins, not gated."""
    return []


if __name__ == "__main__":
    for row in run():
        print(f"{row.scenario}: {row.timing.us()}  = {row.ratio:.3g}x {row.baseline} ({row.base.us()})")
