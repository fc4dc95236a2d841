"""``python -m bench``: run every benchmark module and write bench/RESULTS.md.

``python -m bench --quick`` runs each module once at tiny size and writes nothing.
Each module has ``run(quick=...) -> list[Row]`` and ``targets(rows) -> list[Target]``;
a missed target with a ``profile`` statement is profiled with cProfile and the
top of the profile goes into RESULTS.md next to it.
"""

from __future__ import annotations

import cProfile
import importlib
import io
import os
import platform
import pstats
import sys
from pathlib import Path

from ._timing import Row, Target

MODULES = [
    "bench.bench_diff",
    "bench.bench_size",
    "bench.bench_update",
    "bench.bench_write_path",
    "bench.bench_tools",
    "bench.bench_fanout",
    "bench.bench_contention",
    "bench.bench_memory",
    "bench.bench_harness",
]


def machine() -> str:
    """CPU model, core count and Python version."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def profile(stmt: str, namespace: dict[str, object], calls: int = 20_000, top: int = 12) -> str:
    """The top of a cProfile run of ``stmt`` repeated ``calls`` times, by own time."""
    prof = cProfile.Profile()
    prof.runctx(f"for _ in range({calls}):\n    {stmt}", dict(namespace), {})
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    lines = out.getvalue().strip().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    return "\n".join([lines[start - 2].strip(), "", *lines[start:]])


def row_line(r: Row) -> str:
    return f"| {r.scenario} | {r.shown(r.timing)} | {r.baseline} | {r.shown(r.base)} | {r.ratio:.3g}x |"


def target_lines(targets: list[Target]) -> list[str]:
    lines = ["## Targets", "", "| target | measured | |", "|---|---|---|"]
    for t in targets:
        verdict = "met" if t.met else "**missed**"
        lines.append(f"| {t.goal} | {t.measured} | {verdict}{', within 10%' if t.close else ''} |")
    for t in targets:
        if (t.met and not t.close) or not (t.note or t.profile):
            continue
        heading = "Missed" if not t.met else "Met within 10% (noise can flip it)"
        lines += ["", f"### {heading}: {t.goal}", ""]
        if t.note:
            lines += [t.note, ""]
        if t.profile:
            stmt, namespace = t.profile
            calls = int(namespace.get("PROFILE_CALLS", 20_000))  # type: ignore[call-overload]
            lines += [f"cProfile of `{stmt}` x {calls:,} (sorted by own time):".replace(",", " "), "", "```"]
            lines += [profile(stmt, namespace, calls=calls), "```"]
    return lines


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m bench`. Per-call time: median over interleaved rounds (best of",
        "three runs each) ± half the spread between rounds. Ratio: optstate ÷ baseline, the median",
        "of the per-round ratios (each round times both back to back, in this same process).",
        "",
        f"Machine: {machine()}",
        "",
        "| scenario | optstate (per call, or bytes) | baseline | baseline | ratio |",
        "|---|---|---|---|---|",
    ]
    targets: list[Target] = []
    for name in MODULES:
        module = importlib.import_module(name)
        print(f"running {name} ...", flush=True)
        rows = module.run(quick=quick)
        for r in rows:
            print("  " + row_line(r), flush=True)
        lines += [row_line(r) for r in rows]
        targets += module.targets(rows)
    lines += ["", *target_lines(targets)]
    for t in targets:
        close = " (within 10%)" if t.close else ""
        print(f"  {'met   ' if t.met else 'MISSED'} {t.goal}: {t.measured}{close}", flush=True)
    if not quick:
        out = Path(__file__).with_name("RESULTS.md")
        out.write_text("\n".join(lines) + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
