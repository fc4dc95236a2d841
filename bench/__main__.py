"""``python -m bench``: run every benchmark module and write bench/RESULTS.md."""

from __future__ import annotations

import importlib
import platform
import sys
from pathlib import Path

MODULES = ["bench.bench_diff"]


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
    import os

    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}",
        "",
        "| scenario | optstate per call (median ± half-spread) | baseline | ratio |",
        "|---|---|---|---|",
    ]
    for name in MODULES:
        module = importlib.import_module(name)
        print(f"running {name} ...", flush=True)
        for scenario, timing, base, ratio in module.run(quick=quick):
            row = f"| {scenario} | {timing.us()} | {base} | {ratio:.2f}x |"
            print("  " + row, flush=True)
            lines.append(row)
    if not quick:
        out = Path(__file__).with_name("RESULTS.md")
        out.write_text("\n".join(lines) + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
