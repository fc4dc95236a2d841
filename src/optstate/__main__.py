"""``optstate`` on the command line.

* ``optstate demo`` — what optstate does with one change, then every installed
  driver through the harness (the matrix), what a user of each failing stock
  plugin experiences, and what to do next (``--basic``: only the first part);
* ``optstate check [--driver NAME | module:factory | --all] [--examples N] [--seed S]
  [--max-bugs N] [--transport inproc|ws] [--json PATH|-]`` — run the property-test
  harness on a plugin (or every installed one); exit 1 when a property fails.

Exit status: 0 every property holds, 1 a property failed, 2 a usage error or a
missing package (one line naming the ``pip install`` to run).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from . import diff, set
from .openai import Dialect, RealtimeOptions, encode

if TYPE_CHECKING:
    from .testing import CheckResult


@attrs.frozen
class DriverEntry:
    """One shipped driver: ``factory`` ("module:callable", called with ``transport=``),
    ``requires`` (the module whose presence says the framework is installed),
    ``extra`` (the optstate extra that installs it) and ``distribution`` (the
    framework's package, whose version a report names)."""

    factory: str
    requires: str
    extra: str
    distribution: str

    def installed(self) -> bool:
        """Whether the framework can be imported."""
        try:
            return importlib.util.find_spec(self.requires) is not None
        except ImportError:  # a parent package is missing
            return False

    def version(self) -> str | None:
        """The installed framework's version, if known."""
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None


#: Drivers shipped with optstate, by name: the one place they are listed.
DRIVERS: dict[str, DriverEntry] = {
    "livekit-stock": DriverEntry(
        "optstate.livekit._driver:stock", "livekit.plugins.openai", "livekit", "livekit-plugins-openai"
    ),
    "livekit-optstate": DriverEntry(
        "optstate.livekit._driver:attached", "livekit.plugins.openai", "livekit", "livekit-plugins-openai"
    ),
    "livekit-azure-stock": DriverEntry(
        "optstate.livekit._driver:azure_stock", "livekit.plugins.openai", "livekit", "livekit-plugins-openai"
    ),
    "livekit-azure-optstate": DriverEntry(
        "optstate.livekit._driver:azure_attached",
        "livekit.plugins.openai",
        "livekit",
        "livekit-plugins-openai",
    ),
    "livekit-xai-stock": DriverEntry(
        "optstate.livekit._driver:xai_stock", "livekit.plugins.xai", "xai", "livekit-plugins-xai"
    ),
    "livekit-xai-optstate": DriverEntry(
        "optstate.livekit._driver:xai_attached", "livekit.plugins.xai", "xai", "livekit-plugins-xai"
    ),
    "pipecat-stock": DriverEntry(
        "optstate.pipecat._driver:stock", "pipecat.services.openai.realtime.llm", "pipecat", "pipecat-ai"
    ),
    "pipecat-optstate": DriverEntry(
        "optstate.pipecat._driver:attached", "pipecat.services.openai.realtime.llm", "pipecat", "pipecat-ai"
    ),
    "openai-agents-stock": DriverEntry(
        "optstate.agents._driver:stock", "agents.realtime", "agents", "openai-agents"
    ),
    "openai-agents-optstate": DriverEntry(
        "optstate.agents._driver:attached", "agents.realtime", "agents", "openai-agents"
    ),
}

#: What a user of a plugin experiences when a property fails, by matrix column;
#: ``{option}`` is the option the bug is about (:data:`OPTION_NAMES`).
EXPERIENCE: dict[str, str] = {
    "server's view": "The {option} the application sets never reaches the server: the assistant "
    "carries on with the old one, and nothing says so.",
    "no unnamed field changed": "Changing an unrelated option silently undoes what the session set for "
    "{option} (for example, transcription turns back on after a voice change).",
    "rejection rollback": "After the server refuses a change of {option}, asking for it again does "
    "nothing: the assistant keeps the old {option}, with no error.",
    "reconnect": "After the connection drops and comes back, the {option} the application set is gone.",
    "no-op sends nothing": "Setting {option} to the value it already has still sends an update: "
    "extra traffic and server events, and a needless update the server may refuse.",
    "schema-valid": "The server answers the plugin's update with an error, so the change of {option} "
    "does not happen.",
}

#: How an option path reads in a sentence (others: the path's last part).
OPTION_NAMES: dict[str, str] = {
    "audio.input.transcription": "transcription",
    "audio.input.turn_detection": "turn detection",
    "audio.input.noise_reduction": "noise reduction",
    "audio.output.voice": "voice",
    "audio.output.speed": "speaking speed",
    "max_output_tokens": "reply length limit",
}


def experience(column: str, paths: Sequence[str]) -> str:
    """The plain sentence for a bug in ``column`` about ``paths``."""
    names = [OPTION_NAMES.get(p, p.rsplit(".", 1)[-1].replace("_", " ")) for p in paths]
    return EXPERIENCE[column].format(option=" and ".join(names) or "an option")


class UsageError(Exception):
    """A command line that cannot run; the parser already printed why."""


class MissingPackage(Exception):
    """An optional package is missing; the message names the pip install."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's NoReturn hook
        """Print this command's usage, the message and the drivers; raise UsageError."""
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        print(f"available drivers: {', '.join(DRIVERS)}, or module:factory", file=sys.stderr)
        raise UsageError(message)


def _numbers_ok(args: argparse.Namespace) -> None:
    """UsageError (through the command's parser) for a count below 1."""
    for option in ("examples", "max_bugs"):
        value = getattr(args, option, 1)
        if value < 1:
            flag = "--" + option.replace("_", "-")
            args.command_parser.error(f"{flag} must be at least 1 (got {value})")


def basic_demo() -> int:
    """Show a state, a change, its diff and the GA and beta events it produces, saying why."""
    before = set(
        RealtimeOptions(instructions="Be brief."), "audio.input.transcription", {"model": "whisper-1"}
    )
    after = set(before, "audio.output.speed", 1.5)
    after = set(after, "audio.input.turn_detection", {"type": "semantic_vad", "eagerness": "high"})
    after = set(after, "audio.input.transcription", None)
    change = diff(before, after)
    print("== 1. One change, as optstate sees it: faster speech, eager turn taking, transcription off")
    print("before:  ", before.audio.output)
    print("change:  ", change)
    print("The diff names exactly the three options that changed (None clears one); every other")
    print("option - the voice, the instructions - is left alone on the server. Sending more would")
    print("clobber what the session set; sending less would lose a change. As an event:")
    dialects: tuple[Dialect, ...] = ("ga", "beta")
    for dialect in dialects:
        event = encode(change, dialect, event_id="evt_demo")
        print(f"{dialect + ':':9}", json.dumps(event))
    print("no change:", encode(diff(after, after)), "(nothing to send)")
    return 0


def resolve(spec: str, transport: str) -> Callable[[], Any]:
    """A driver factory from a shipped name or ``module:factory`` (UsageError if it is
    neither, MissingPackage if a shipped driver's framework is not installed)."""
    entry = DRIVERS.get(spec)
    if entry is not None and not entry.installed():
        raise MissingPackage(f"{spec} needs {entry.distribution}: pip install 'optstate[{entry.extra}]'")
    target = entry.factory if entry is not None else spec
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise UsageError(f"--driver must be one of {', '.join(DRIVERS)} or module:factory (got {spec!r})")
    try:
        obj = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except ImportError as e:
        raise UsageError(f"cannot load driver {spec!r}: {e}") from None
    except AttributeError:
        raise UsageError(f"cannot load driver {spec!r}: {module_name!r} has no {attr!r}") from None
    if not callable(obj) or isinstance(obj, type(sys)):
        raise UsageError(f"{spec!r} is not module:callable ({target} is a {type(obj).__name__})")
    factory: Callable[..., Any] = obj
    if entry is not None:
        return lambda: factory(transport=transport)
    return factory


@contextmanager
def _quiet() -> Iterator[None]:
    """The harness provokes rejections and dropped connections on purpose: the
    adapter's warnings and livekit's reconnect logs are noise here."""
    quiet = {"optstate": logging.ERROR, "livekit": logging.CRITICAL}
    saved = {name: logging.getLogger(name).level for name in quiet}
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _need_testing() -> None:
    """MissingPackage (one line naming the pip install) unless the harness can be imported."""
    try:
        import optstate.testing  # noqa: F401
    except ImportError as e:
        raise MissingPackage(str(e)) from None


def _check(factory: Callable[[], Any], args: argparse.Namespace, out: TextIO) -> CheckResult:
    from .testing import check

    with _quiet():
        return check(
            factory, examples=args.examples, seed_value=args.seed, max_bugs=args.max_bugs, progress=sys.stderr
        )


def _row(name: str, result: CheckResult, transport: str) -> dict[str, Any]:
    entry = DRIVERS.get(name)
    return {
        "driver": name,
        "framework": entry.distribution if entry else None,
        "version": entry.version() if entry else None,
        "transport": transport,
        "ok": result.ok,
        "seconds": round(result.seconds, 2),
        "programs": result.examples,
        "seed": result.seed,
        "lacks": list(result.lacks),
        "properties": result.cells(),
        "bugs": [
            {
                "property": b.property,
                "column": b.column,
                "paths": list(b.paths),
                "first_line": b.first_line,
                "program": list(b.program),
                "found_after": b.found_after,
                "report": b.report,
            }
            for b in result.bugs
        ],
    }


def run_all(
    args: argparse.Namespace, out: TextIO, names: Sequence[str] | None = None, *, matrix: bool = True
) -> list[dict[str, Any]]:
    """Check every registered driver whose framework is installed (skipping the others
    with a one-line note); print the matrix (unless ``matrix`` is false); return the
    report rows."""
    rows: list[dict[str, Any]] = []
    for name in names if names is not None else list(DRIVERS):
        entry = DRIVERS[name]
        if not entry.installed():
            print(
                f"skipped {name}: {entry.distribution} is not installed (pip install "
                f"'optstate[{entry.extra}]')",
                file=out,
            )
            rows.append({"driver": name, "skipped": f"pip install 'optstate[{entry.extra}]'"})
            continue
        factory = resolve(name, args.transport)
        print(f"checking {name} ({args.examples} examples, seed {args.seed})", file=out, flush=True)
        result = _check(factory, args, out)
        print(f"  {name}: {result.summary()}", file=out, flush=True)
        rows.append(_row(name, result, args.transport))
    if matrix:
        print_matrix(rows, out)
    return rows


def print_matrix(rows: Sequence[Mapping[str, Any]], out: TextIO) -> None:
    """The drivers x properties matrix of the checked report rows."""
    from ._harness import render_matrix

    checked = [(r["driver"], r["properties"]) for r in rows if "properties" in r]
    print("\n" + render_matrix(checked), file=out)


def merge_reports(rows: list[dict[str, Any]], paths: Sequence[str]) -> list[dict[str, Any]]:
    """``rows`` with the checked rows of the ``--json`` reports at ``paths`` (made by
    ``optstate check --all`` in other environments) added: a driver already checked
    here keeps its row, and a report that cannot be read is a usage error."""
    merged = list(rows)
    seen = {r["driver"] for r in rows if "properties" in r}
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                report = json.load(f)
            others = [r for r in report["drivers"] if "properties" in r and r["driver"] not in seen]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UsageError(f"--also {path}: not a report of 'optstate check --json' ({e})") from None
        merged = [r for r in merged if r["driver"] not in {o["driver"] for o in others}] + others
        seen |= {r["driver"] for r in others}
    return merged


def _write_json(path: str, rows: list[dict[str, Any]], args: argparse.Namespace, started: float) -> None:
    try:
        version: str | None = importlib.metadata.version("optstate")
    except importlib.metadata.PackageNotFoundError:
        version = None
    report = {
        "optstate": version,
        "examples": args.examples,
        "seed": args.seed,
        "max_bugs": args.max_bugs,
        "seconds": round(time.monotonic() - started, 2),
        "drivers": rows,
    }
    text = json.dumps(report, indent=2)
    if path == "-":
        print(text)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")


def cmd_check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``optstate check``: one driver (report, reproduce line, summary) or ``--all`` (matrix)."""
    started = time.monotonic()
    out = sys.stderr if args.json == "-" else sys.stdout  # keep stdout pure JSON
    if args.all:
        names = [n for n, e in DRIVERS.items() if args.extra is None or e.extra == args.extra]
        rows = run_all(args, out, names)
        for row in rows:
            for bug in row.get("bugs", []):
                print(f"\n{row['driver']}: {bug['report']}", file=out)
    else:
        try:
            factory = resolve(args.driver, args.transport)
        except UsageError as e:
            parser.error(str(e))
        print(
            f"checking {args.driver} ({args.transport}, {args.examples} examples, seed {args.seed})",
            file=out,
            flush=True,
        )
        result = _check(factory, args, out)
        if not result.ok:
            print(result.report, file=out)
            print(
                f"reproduce: optstate check --driver {args.driver} --examples {args.examples}"
                f" --seed {args.seed} --transport {args.transport}",
                file=out,
            )
        print(f"{args.driver:18} {result.summary()}", file=out, flush=True)
        rows = [_row(args.driver, result, args.transport)]
    if args.json:
        _write_json(args.json, rows, args, started)
    return 0 if all(r.get("ok", True) for r in rows) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    """``optstate demo``: the basic block, the matrix, what users experience, what to do next."""
    print("\n== 2. Every installed plugin driver through the property-test harness")
    print(f"   ({args.examples} random programs each; a cell is 'holds', 'n/a' when the framework lacks")
    print("   the step, or the first line of the minimal program that breaks the property)")
    args.seed, args.max_bugs, args.transport = 0, 5, "inproc"
    rows = merge_reports(run_all(args, sys.stdout, matrix=False), args.also)
    if args.also:
        print(f"   (with the reports of {len(args.also)} other environment(s): {', '.join(args.also)})")
    print_matrix(rows, sys.stdout)
    failing = [r for r in rows if r["driver"].endswith("-stock") and r.get("bugs")]
    if failing:
        print("\n== 3. What a user of each failing stock plugin experiences, bug by bug")
    for row in failing:
        version = f" {row['version']}" if row["version"] else ""
        print(f"\n{row['driver']} ({row['framework']}{version}):")
        for bug in row["bugs"]:
            print(f"  - {bug['column']}: {experience(bug['column'], bug['paths'])}")
            for line in bug["program"]:
                print(f"        {line}")
    print("\n== 4. What to do next")
    print("  Fix a livekit model with one call:  optstate.livekit.attach(model)")
    print("  Check your own plugin:              optstate check --driver your_module:make_driver")
    print("  (see 'Checking your own plugin' in the README; pip install 'optstate[testing]')")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``optstate`` argument parser (every option has help and a default)."""
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = _Parser(prog="optstate", description=__doc__.split("\n\n")[0], formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,check}")
    demo = sub.add_parser(
        "demo",
        help="show one change, then every installed driver through the harness",
        description="One change and its events, the drivers x properties matrix, what users of the "
        "failing stock plugins experience, and what to do next.",
        formatter_class=fmt,
    )
    demo.set_defaults(command_parser=demo)
    demo.add_argument("--basic", action="store_true", help="only show one change and its events")
    demo.add_argument("--examples", type=int, default=60, metavar="N", help="programs per driver")
    demo.add_argument(
        "--also",
        nargs="*",
        default=[],
        metavar="REPORT",
        help="reports of 'optstate check --all --json' run in other environments (frameworks that "
        "cannot share this one), merged into the matrix",
    )
    chk = sub.add_parser(
        "check",
        help="run the property-test harness on a plugin driver",
        description="Run random programs of option writes through a driver and report every distinct "
        "bug with its minimal program. Exit 0: every property holds; 1: a property failed; 2: usage.",
        formatter_class=fmt,
    )
    chk.set_defaults(command_parser=chk)
    which = chk.add_mutually_exclusive_group()
    which.add_argument(
        "--driver",
        default="livekit-optstate",
        help=f"a shipped driver ({', '.join(DRIVERS)}) or module:factory returning a Driver",
    )
    which.add_argument(
        "--all",
        action="store_true",
        help="check every shipped driver whose framework is installed; print the matrix",
    )
    chk.add_argument(
        "--extra",
        choices=sorted({e.extra for e in DRIVERS.values()}),
        help="with --all: only the drivers of the frameworks this optstate extra installs",
    )
    chk.add_argument(
        "--examples", type=int, default=200, metavar="N", help="random programs to run (the budget)"
    )
    chk.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (same seed, same report)")
    chk.add_argument(
        "--max-bugs", type=int, default=5, metavar="N", help="stop after this many distinct bugs"
    )
    chk.add_argument(
        "--transport",
        choices=["inproc", "ws"],
        default="inproc",
        help="shipped drivers: capture in process, or talk to the loopback server over websockets",
    )
    chk.add_argument(
        "--json", metavar="PATH", help="also write a machine-readable report to PATH ('-': stdout)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``optstate`` command; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError:
        return 2
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    try:
        _numbers_ok(args)
        if args.command == "demo":
            basic_demo()
            if args.basic:
                return 0
        _need_testing()
        if args.command == "demo":
            return cmd_demo(args)
        return cmd_check(args, args.command_parser)
    except UsageError:
        return 2
    except MissingPackage as e:
        print(f"optstate: {e}", file=sys.stderr)
        return 2
    except (TypeError, ValueError) as e:  # a factory that is no driver, an unknown dialect
        print(f"optstate: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
