"""Size independence: a one-leaf change costs the same on a tiny and on a big state.

The big state holds 100 KB of ``instructions`` and 200 function tools that did
not change (the same objects on both sides), so ``diff`` must skip them by
identity (law 5). The baseline of each row is the same operation on the tiny
(default) state, timed in alternation with it; the ratio is big ÷ tiny.

``apply``/``set`` rows are informative: they rebuild each record on the changed
path through its constructor, which re-runs the validators of its unchanged
fields, including the 200-tool ``tools`` vector on the root.
"""

from __future__ import annotations

from pyrsistent import pvector

import optstate
from optstate.openai import FunctionTool, RealtimeOptions

from ._timing import Row, Target, interleaved, ratio, settings, within


def big_state(tools: int = 200, instructions: int = 100_000) -> RealtimeOptions:
    """Options with ``instructions`` characters of instructions and ``tools`` tools."""
    return RealtimeOptions(
        instructions="x" * instructions,
        tools=pvector(
            FunctionTool(
                name=f"tool_{i}",
                description="Looks something up in the catalogue. " * 2,
                parameters={"type": "object", "properties": {"q": {"type": "string"}}},
            )
            for i in range(tools)
        ),
    )


def run(*, quick: bool = False) -> list[Row]:
    """Rows of (scenario, big-state timing, "tiny state", tiny timing, big ÷ tiny)."""
    tiny, big = RealtimeOptions(), big_state()
    tiny_new = optstate.set(tiny, "audio.output.speed", 1.25)
    big_new = optstate.set(big, "audio.output.speed", 1.25)
    change = optstate.diff(big, big_new)
    assert change == optstate.diff(tiny, tiny_new)
    assert change.paths() == {"audio.output.speed": 1.25}
    ops = {
        "diff, one leaf": "diff({s}_old, {s}_new)",
        "apply, one leaf": "apply({s}_old, change)",
        "set, one leaf": "set({s}_old, 'audio.output.speed', 1.25)",
    }
    namespace = {
        "diff": optstate.diff,
        "apply": optstate.apply,
        "set": optstate.set,
        "change": change,
        "big_old": big,
        "big_new": big_new,
        "tiny_old": tiny,
        "tiny_new": tiny_new,
    }
    rows = []
    for op, stmt in ops.items():
        t = interleaved(
            {"big": stmt.format(s="big"), "tiny": stmt.format(s="tiny")},
            namespace=namespace,
            **settings(quick),
        )
        rows.append(
            Row(
                f"{op}, 100 KB instructions + 200 tools",
                t["big"],
                "same on the default state",
                t["tiny"],
                ratio(t["big"], t["tiny"]),
            )
        )
    return rows


def targets(rows: list[Row]) -> list[Target]:
    """diff of one leaf is size-independent: big ÷ tiny ≤ 1.3."""
    r = next(r for r in rows if r.scenario.startswith("diff, one leaf"))
    return [
        Target(
            "diff one leaf, big state ÷ tiny state ≤ 1.3",
            f"{r.ratio:.2f}",
            r.ratio <= 1.3,
            close=within(r.ratio, 1.3),
        )
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row.scenario}: {row.timing.us()}  = {row.ratio:.3g}x {row.baseline} ({row.base.us()})")
