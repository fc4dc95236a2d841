"""``python -m optstate``: the command line (``demo`` for now)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import diff, set
from .openai import Dialect, RealtimeOptions, encode


def demo() -> int:
    """Show a state, a change, its diff and the GA and beta events it produces."""
    before = set(
        RealtimeOptions(instructions="Be brief."),
        "audio.input.transcription",
        {"model": "whisper-1"},
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``optstate`` command."""
    parser = argparse.ArgumentParser(prog="optstate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="show a change and the session.update it needs")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    return 2  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":
    sys.exit(main())
