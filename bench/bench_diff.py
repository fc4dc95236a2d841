"""``diff`` against what plugins do without optstate, on the same change.

Baselines, each run in the same process, interleaved with ``diff``:

* **hand-written** (the floor): twelve ``if old.x != new.x`` checks over a
  livekit-style mutable options object, collecting the changed fields in a dict.
  Its ``turn_detection`` is ``None`` (nothing nested to compare) except in the
  ``turn_detection`` scenario, where it holds a small dataclass like optstate's
  ``ServerVad``;
* **jsonpatch** ``make_patch`` and **DeepDiff** on the equivalent JSON dicts
  (``encode_session(state)``, built before timing).

Scenarios: a one-leaf change (``audio.output.speed``), a ``turn_detection``
sub-field change (a replace leaf, so compared by value), no change (a deep copy:
equal values, no object shared; and an equal-value write: subtrees shared by
identity), and a 4 KB ``instructions`` edit. Plus ``diff(x, x)`` on the same
object, in absolute time. The deep-copy scenario also times its two parts alone
(the value comparisons it forces, and the walk through fresh merge nodes), which
is why it cannot reach 2x the floor.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import attrs
import jsonpatch
from deepdiff import DeepDiff

import optstate
from optstate import full_patch
from optstate.openai import RealtimeOptions, ServerVad, encode_session

from ._timing import Row, Target, interleaved, measure, ratio, settings, within


@dataclasses.dataclass(frozen=True)
class HandVad:
    """A hand-written turn-detection value with ``ServerVad``'s six fields."""

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None


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


def instructions_4k(last: str) -> str:
    """About 4 KB of prompt text ending in ``last`` (same length for any one letter)."""
    sentence = "You are a concise, friendly voice assistant for a hardware store. "
    body = sentence * (4096 // len(sentence))
    return body + "Answer in " + last + "."


@dataclasses.dataclass
class Scenario:
    """Two optstate states, the equivalent hand-written pair, and the expected diff."""

    name: str
    old: RealtimeOptions
    new: RealtimeOptions
    h_old: HandOptions
    h_new: HandOptions
    paths: dict[str, Any]


def scenarios() -> list[Scenario]:
    """The diff scenarios, each checked for equivalence before it is timed.

    Every hand-written object is built fresh by its constructor or
    ``dataclasses.replace``, never by ``copy.deepcopy``: deepcopy reads the
    instance ``__dict__``, which leaves CPython 3.11+ attribute access on that
    object about twice as slow and would make the floor look slower than it is.
    """
    base = RealtimeOptions()
    vad = ServerVad(threshold=0.7)
    text_a, text_b = instructions_4k("A"), instructions_4k("B")
    long_a = RealtimeOptions(instructions=text_a)
    h_vad = HandOptions(turn_detection=HandVad())
    h_long = HandOptions(instructions=text_a)
    out = [
        Scenario(
            "one leaf (speed)",
            base,
            optstate.set(base, "audio.output.speed", 1.5),
            HandOptions(),
            dataclasses.replace(HandOptions(), speed=1.5),
            {"audio.output.speed": 1.5},
        ),
        Scenario(
            "turn_detection sub-field (threshold)",
            base,
            optstate.set(base, "audio.input.turn_detection", vad),
            h_vad,
            dataclasses.replace(h_vad, turn_detection=HandVad(threshold=0.7)),
            {"audio.input.turn_detection": vad},
        ),
        Scenario("no change (deep copy)", base, copy.deepcopy(base), HandOptions(), HandOptions(), {}),
        Scenario(
            "no change (equal-value write, subtrees shared)",
            base,
            # Rebuilt by hand: apply returns the state itself for an equal-value write.
            attrs.evolve(
                base, audio=attrs.evolve(base.audio, output=attrs.evolve(base.audio.output, speed=1.0))
            ),
            HandOptions(),
            dataclasses.replace(HandOptions(), speed=1.0),
            {},
        ),
        Scenario(
            "4 KB instructions edit",
            long_a,
            optstate.set(long_a, "instructions", text_b),
            h_long,
            dataclasses.replace(h_long, instructions=text_b),
            {"instructions": text_b},
        ),
    ]
    for s in out:
        assert s.old is not s.new
        assert s.h_old is not s.h_new
        assert optstate.diff(s.old, s.new).paths() == s.paths, s.name
        assert len(hand_diff(s.h_old, s.h_new)) == len(s.paths), s.name
    return out


def noop(_a: object, _b: object) -> None:
    """An empty Python function of two arguments: the cost of any call at all."""


def forced_comparisons(old: RealtimeOptions, new: RealtimeOptions) -> tuple[str, dict[str, Any], list[str]]:
    """The value comparisons any correct diff of ``old`` and ``new`` must make: one
    ``==`` per leaf that is not the same object on both sides. Returns a statement
    making just those comparisons, its namespace, and the leaf paths."""
    paths = [p for p, v in full_patch(old).paths().items() if v is not optstate.get(new, p)]
    namespace = {f"a{i}": optstate.get(old, p) for i, p in enumerate(paths)}
    namespace |= {f"b{i}": optstate.get(new, p) for i, p in enumerate(paths)}
    return "; ".join(f"a{i} == b{i}" for i in range(len(paths))) or "pass", namespace, paths


def fresh_nodes(state: RealtimeOptions) -> RealtimeOptions:
    """``state`` with new root and merge-node objects but every leaf value shared:
    what ``diff`` walks in a deep copy, without the value comparisons."""
    audio = state.audio
    return attrs.evolve(
        state,
        audio=attrs.evolve(audio, input=attrs.evolve(audio.input), output=attrs.evolve(audio.output)),
    )


DEEP_COPY = "no change (deep copy)"
FORCED = f"{DEEP_COPY}: only its value comparisons"
WALK = f"{DEEP_COPY}: only its walk (fresh merge nodes, leaves shared)"


def run(*, quick: bool = False) -> list[Row]:
    """Rows of (scenario, optstate timing, baseline, baseline timing, ratio)."""
    rows: list[Row] = []
    for s in scenarios():
        d_old, d_new = encode_session(s.old), encode_session(s.new)
        assert bool(jsonpatch.make_patch(d_old, d_new)) == bool(s.paths)
        assert bool(DeepDiff(d_old, d_new)) == bool(s.paths)
        fns = {
            "optstate": "diff(old, new)",
            "hand-written": "hand_diff(h_old, h_new)",
            "jsonpatch.make_patch": "make_patch(d_old, d_new)",
            "deepdiff.DeepDiff": "DeepDiff(d_old, d_new)",
        }
        namespace = {
            "diff": optstate.diff,
            "hand_diff": hand_diff,
            "make_patch": jsonpatch.make_patch,
            "DeepDiff": DeepDiff,
            "old": s.old,
            "new": s.new,
            "h_old": s.h_old,
            "h_new": s.h_new,
            "d_old": d_old,
            "d_new": d_new,
        }
        if s.name == DEEP_COPY:
            # Its two parts, timed alone: why it cannot reach 2x (see deep_copy_note).
            fns[FORCED], forced_namespace, _ = forced_comparisons(s.old, s.new)
            fns[WALK] = "diff(old, walk)"
            namespace |= forced_namespace | {"walk": fresh_nodes(s.old)}
        t = interleaved(fns, namespace=namespace, **settings(quick))
        ours, hand = t.pop("optstate"), t["hand-written"]
        if s.name == DEEP_COPY:
            for part in (FORCED, WALK):
                only = t.pop(part)
                rows.append(Row(part, only, "hand-written", hand, ratio(only, hand)))
        rows += [Row(f"diff, {s.name}", ours, k, v, ratio(ours, v)) for k, v in t.items()]
    x = RealtimeOptions()
    t = interleaved(
        {"optstate": "diff(x, x)", "call": "noop(x, x)"},
        namespace={"diff": optstate.diff, "noop": noop, "x": x},
        **settings(quick),
    )
    rows.append(
        Row(
            "diff(x, x), same object",
            t["optstate"],
            "empty function call",
            t["call"],
            ratio(t["optstate"], t["call"]),
        )
    )
    return rows


def targets(rows: list[Row]) -> list[Target]:
    """The goals of the benchmark issue for ``diff``, checked against ``rows``."""
    by = {(r.scenario, r.baseline): r for r in rows}
    states = {f"diff, {s.name}": s for s in scenarios()}
    out = []
    for scenario, limit in (
        ("diff, one leaf (speed)", 4.0),
        (f"diff, {DEEP_COPY}", 2.0),
        ("diff, no change (equal-value write, subtrees shared)", 2.0),
    ):
        r = by[scenario, "hand-written"]
        s = states[scenario]
        out.append(
            Target(
                f"{scenario} ≤ {limit:g}x hand-written",
                f"{r.ratio:.2f}x",
                r.ratio <= limit,
                note=NOTES[scenario](rows) if scenario in NOTES else "",
                profile=("diff(old, new)", {"diff": optstate.diff, "old": s.old, "new": s.new}),
                close=within(r.ratio, limit),
            )
        )
    same = by["diff(x, x), same object", "empty function call"]
    out.append(
        Target(
            "diff(x, x) ≤ 0.1 µs",
            f"{same.timing.median * 1e6:.3f} µs",
            same.timing.median <= 1e-7,
            close=within(same.timing.median, 1e-7),
        )
    )
    for baseline, limit in (("jsonpatch.make_patch", 60), ("deepdiff.DeepDiff", 800)):
        mine = [r for r in rows if r.baseline == baseline]
        worst = min(mine, key=lambda r: 1 / r.ratio)
        s = states[worst.scenario]
        out.append(
            Target(
                f"diff ≥ {limit}x faster than {baseline}, every scenario",
                f"min {1 / worst.ratio:.0f}x ({worst.scenario.removeprefix('diff, ')})",
                all(1 / r.ratio >= limit for r in mine),
                note=slowest_note(rows, worst),
                profile=("diff(old, new)", {"diff": optstate.diff, "old": s.old, "new": s.new}),
                close=within(1 / worst.ratio, limit),
            )
        )
    return out


def count_fields(p: optstate.Patch) -> int:
    """How many fields (leaves and merge nodes) a full patch names."""
    return sum(1 + (count_fields(v) if isinstance(v, optstate.Patch) else 0) for v in p.values())


def deep_copy_note(rows: list[Row]) -> str:
    """Why diff of a deep copy stays above 2x the hand-written floor, with this run's numbers."""
    by = {(r.scenario, r.baseline): r for r in rows}
    forced, walk = by[FORCED, "hand-written"], by[WALK, "hand-written"]
    full = by[f"diff, {DEEP_COPY}", "hand-written"]
    shared = by["diff, no change (equal-value write, subtrees shared)", "hand-written"]
    base = RealtimeOptions()
    twin = copy.deepcopy(base)
    _, _, paths = forced_comparisons(base, twin)
    records = sum(1 for p in paths if attrs.has(type(optstate.get(base, p))))
    return (
        "A deep copy shares no record, vector or merge node with the original (only strings, "
        "numbers and `None`, which `copy.deepcopy` returns as they are). Any diff that obeys laws 1 "
        "and 3 must therefore (1) compare by value each leaf that is not the same object: "
        f"{', '.join(f'`{p}`' for p in paths)}. {records} of these `==` are attrs' generated "
        "`__eq__`, Python code that builds two tuples; the row "
        f"*{FORCED}* runs just those `==`: {forced.timing.median * 1e6:.3f} µs, "
        f"{forced.ratio:.2f}x the floor by themselves. And (2) walk all "
        f"{count_fields(full_patch(base))} fields of the four records, since identity cannot skip a "
        f"fresh merge node; the row *{WALK}* does just that: {walk.timing.median * 1e6:.3f} µs, "
        f"{walk.ratio:.2f}x the floor, which checks 12 flat fields once each. The two parts add up "
        f"to {forced.ratio + walk.ratio:.2f}x; the whole diff measures {full.ratio:.2f}x. Reaching 2x "
        "would take skipping fields or comparisons, which the laws forbid. With subtrees shared by "
        f"identity (the equal-value write) the same no-change diff measures {shared.ratio:.2f}x. "
        f"The profile shows each `diff` as one call of the generated `diff_RealtimeOptions` plus "
        f"{records} record `__eq__` calls; the vector `==` run in C and do not appear."
    )


def one_leaf_note(rows: list[Row]) -> str:
    """What a one-leaf diff spends beyond the walk, with this run's numbers."""
    by = {(r.scenario, r.baseline): r for r in rows}
    one = by["diff, one leaf (speed)", "hand-written"]
    shared = by["diff, no change (equal-value write, subtrees shared)", "hand-written"]
    return (
        "The one-leaf diff walks the same fields as the equal-value write "
        f"({shared.ratio:.2f}x the floor: the root's 13 fields, `audio`'s 2, `audio.output`'s 3, "
        "each one identity check, as fast per field as the hand-written checks), and then builds "
        "its result: a dict and a Patch at each of the three levels (root, `audio`, "
        f"`audio.output`), six allocations where the hand-written diff makes one; that brings it "
        f"to {one.ratio:.2f}x. The profile shows the three Patch allocations per diff "
        "(`__new__`); dict literals are inline bytecode and do not appear. Patch's public shape "
        "(a Mapping whose merge nodes are sub-Patches) fixes that count."
    )


def slowest_note(rows: list[Row], worst: Row) -> str:
    """What the scenario with the smallest lead over a library baseline spends."""
    by = {(r.scenario, r.baseline): r for r in rows}
    walk = by["diff, no change (equal-value write, subtrees shared)", "hand-written"].timing.median
    alloc = measure(
        "p = new(Patch); p._changes = {'key': 1}",
        namespace={"new": object.__new__, "Patch": optstate.Patch},
        repeat=5,
        min_time=0.01,
    )
    others = ", ".join(
        f"{r.scenario.removeprefix('diff, ')} {1 / r.ratio:.0f}x"
        for r in rows
        if r.baseline == worst.baseline and r is not worst
    )
    return (
        f"The other scenarios: {others}. The slowest, *{worst.scenario}*, takes "
        f"{worst.timing.median * 1e6:.3f} µs against {worst.base.median * 1e6:.0f} µs for "
        f"{worst.baseline}. About {walk * 1e6:.2f} µs of it is the walk through the fields (the "
        "equal-value write row walks the same path and allocates nothing); the rest is the value "
        "comparison of the changed leaf and building the result: a dict and a Patch at each "
        "changed level, root, `audio` and the changed child, as the generated code does it "
        f"(`p = object.__new__(Patch); p._changes = {{key: value}}`), {alloc.median * 1e6:.3f} µs "
        f"per level on this machine, {3 * alloc.median * 1e6:.2f} µs in all. "
        "The profile shows the three Patch allocations (`__new__`) and, for "
        "the `turn_detection` scenario, attrs' `ServerVad.__eq__`. Patch's public shape (a "
        "Mapping whose merge nodes are sub-Patches) fixes the allocation count."
    )


#: Why a target is missed, when it is, with the run's own numbers.
NOTES = {f"diff, {DEEP_COPY}": deep_copy_note, "diff, one leaf (speed)": one_leaf_note}


if __name__ == "__main__":
    for row in run():
        print(f"{row.scenario}: {row.timing.us()}  = {row.ratio:.3g}x {row.baseline} ({row.base.us()})")
