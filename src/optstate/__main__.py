"""``optstate`` on the command line.

* ``optstate demo`` — both shipped livekit drivers through the harness, side by side
  (with ``--basic``: one change, its diff, and its GA and beta events);
* ``optstate check [--driver NAME | module:factory] [--examples N] [--seed S]
  [--transport inproc|ws]`` — run the property-test harness on a plugin.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import diff, set
from .openai import Dialect, RealtimeOptions, encode

#: Drivers shipped with optstate, by name: "module:factory" taking ``transport=``.
DRIVERS = {
    "livekit-stock": "optstate.livekit._driver:stock",
    "livekit-optstate": "optstate.livekit._driver:attached",
}


def basic_demo() -> int:
    """Show a state, a change, its diff and the GA and beta events it produces."""
    before = set(
        RealtimeOptions(instructions="Be brief."), "audio.input.transcription", {"model": "whisper-1"}
    )
    after = set(before, "audio.output.speed", 1.5)
    after = set(after, "audio.input.turn_detection", {"type": "semantic_vad", "eagerness": "high"})
    after = set(after, "audio.input.transcription", None)
    change = diff(before, after)
    print("state:   ", before.audio.output)
    print("change:  ", change)
    dialects: tuple[Dialect, ...] = ("ga", "beta")
    for dialect in dialects:
        event = encode(change, dialect, event_id="evt_demo")
        print(f"{dialect + ':':9}", json.dumps(event))
    print("no change:", encode(diff(after, after)))
    return 0


def resolve(spec: str, transport: str) -> Callable[[], Any]:
    """A driver factory from a shipped name or ``module:factory``."""
    target = DRIVERS.get(spec, spec)
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise SystemExit(
            f"optstate: --driver must be one of {sorted(DRIVERS)} or module:factory (got {spec!r})"
        )
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise SystemExit(f"optstate: cannot load driver {spec!r}: {e}") from None
    if spec in DRIVERS:
        return lambda: factory(transport=transport)
    return factory  # type: ignore[no-any-return]


def run_check(spec: str, *, examples: int, seed_value: int, transport: str) -> tuple[bool, str]:
    """Run the harness on one driver; print progress and the report; return (ok, summary)."""
    from .testing import check

    # The harness provokes rejections and dropped connections on purpose: the adapter's
    # warnings and livekit's reconnect logs are noise here. Restored afterwards.
    quiet = {"optstate": logging.ERROR, "livekit": logging.CRITICAL}
    saved = {name: logging.getLogger(name).level for name in quiet}
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)
    try:
        print(f"checking {spec} ({transport}, {examples} examples, seed {seed_value})", flush=True)
        result = check(
            resolve(spec, transport), examples=examples, seed_value=seed_value, progress=sys.stderr
        )
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
    if not result.ok:
        print(result.report)
        print(
            f"reproduce: optstate check --driver {spec} --examples {examples} --seed {seed_value}"
            f" --transport {transport}"
        )
    summary = f"{spec:18} {result.summary()}"
    print(summary, flush=True)
    return result.ok, summary


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``optstate`` command."""
    parser = argparse.ArgumentParser(prog="optstate", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="check the stock and the optstate livekit drivers side by side")
    demo.add_argument("--basic", action="store_true", help="only show one change and its events")
    demo.add_argument("--examples", type=int, default=100)
    chk = sub.add_parser("check", help="run the property-test harness on a plugin driver")
    chk.add_argument("--driver", default="livekit-optstate", help=f"{' | '.join(DRIVERS)} | module:factory")
    chk.add_argument("--examples", type=int, default=200)
    chk.add_argument("--seed", type=int, default=0)
    chk.add_argument("--transport", choices=["inproc", "ws"], default="inproc")
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.basic:
            return basic_demo()
        basic_demo()
        print()
        summaries = [
            run_check(name, examples=args.examples, seed_value=0, transport="inproc")[1] for name in DRIVERS
        ]
        print("\nsummary")
        for line in summaries:
            print("  " + line)
        return 0
    if args.examples < 1:
        parser.error("--examples must be at least 1")
    try:
        ok, _ = run_check(args.driver, examples=args.examples, seed_value=args.seed, transport=args.transport)
    except (TypeError, ValueError) as e:  # a factory that is no driver, a bad transport
        print(f"optstate: {e}", file=sys.stderr)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
