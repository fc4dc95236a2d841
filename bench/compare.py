"""Compare two trees' benchmarks: each bench module run at each tree, alternating.

usage: python -m bench.compare OLD_TREE NEW_TREE [ROUNDS]   (a markdown table on stdout)

OLD_TREE is a checkout of another commit (``git worktree add ../old 580984d``). Each run
is a subprocess of this interpreter with ``PYTHONPATH=<tree>/src:<tree>``, so both trees
use the same packages; a row's ratio is against the baseline measured in that same
process, which cancels most of the machine's load, and the table compares the ratios.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from typing import Any

from .__main__ import MODULES

_CODE = """
import importlib, json, sys
rows = importlib.import_module(sys.argv[1]).run(quick=False)
out = [{"s": r.scenario, "t": r.shown(r.timing), "r": r.ratio} for r in rows]
print(json.dumps(out))
"""


def _rows(tree: str, module: str) -> list[dict[str, Any]]:
    env = {"PYTHONPATH": f"{tree}/src:{tree}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", _CODE, module], cwd=tree, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        print(f"{module} at {tree} failed: {done.stderr[-500:]}", file=sys.stderr)
        return []
    rows: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return rows


def main(old: str, new: str, rounds: int) -> None:
    """Print one table row per benchmark row both trees have."""
    found: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    for module in MODULES:
        for n in range(rounds):
            order = [("old", old), ("new", new)] if n % 2 == 0 else [("new", new), ("old", old)]
            for side, tree in order:
                for row in _rows(tree, module):
                    scenario = re.sub(r" \(\d+ writes, \d+ lost\)", "", row["s"])
                    found.setdefault((module, scenario), {}).setdefault(side, []).append(row)
            print(f"done {module}, round {n + 1} of {rounds}", file=sys.stderr)
    print(f"| module | row | {old} | {new} | new/old |")
    print("|---|---|---|---|---|")
    for (module, scenario), sides in found.items():
        if len(sides) < 2:
            continue
        o = statistics.median(r["r"] for r in sides["old"])
        n = statistics.median(r["r"] for r in sides["new"])
        shown = f"{sides['old'][0]['t']} ({o:.3g}x) | {sides['new'][0]['t']} ({n:.3g}x)"
        print(f"| {module.split('.')[-1]} | {scenario} | {shown} | {n / o:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 2)
