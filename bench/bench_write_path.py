"""The whole write path through the livekit adapter, against the stock plugin.

From ``update_options(speed=...)`` to the event ready to send, serialised with
``json.dumps``, on livekit-plugins-openai as installed:

* **optstate**: the plugin with :func:`optstate.livekit.attach`; the session's
  ``send_event`` is replaced by ``json.dumps`` of the event dict the store built
  (translate the keyword, write, mirror the plugin's ``_opts``, diff, encode);
* **stock**: the same plugin without optstate, its ``send_event`` a no-op
  (``update_options`` alone: compare, build the pydantic event);
* **stock + serialisation**: ``send_event`` does what the plugin's send task
  does with the event: ``model_dump(by_alias=True, exclude_unset=True,
  exclude_defaults=False)`` then ``json.dumps``.

The speed alternates between two values, so every call is a real change and
sends one event. Sessions need a running asyncio loop: they are created in one
and their connection task is cancelled at once, so nothing connects (as the
harness's livekit driver does). Model-level rows have one session.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from typing import Any

from livekit.plugins.openai.realtime import RealtimeModel

import optstate.livekit

from ._livekit import cut_off_session
from ._timing import Row, Target, interleaved, ratio, settings, within

SPEEDS = (1.25, 1.5)
STOCK = "stock update_options"
STOCK_JSON = "stock update_options + model_dump + json.dumps"


def _noop(_event: Any) -> None:
    return None


def _dump(event: Any) -> None:
    json.dumps(event.model_dump(by_alias=True, exclude_unset=True, exclude_defaults=False))


def _json(event: Any) -> None:
    json.dumps(event)


async def _setup() -> dict[str, Any]:
    """Two stock models (send_event no-op / serialising) and one attached, one
    session each, cut off the network."""
    url = "ws://127.0.0.1:9/v1"
    stock = RealtimeModel(api_key="sk-bench", base_url=url)
    dumped = RealtimeModel(api_key="sk-bench", base_url=url)
    ours = optstate.livekit.attach(RealtimeModel(api_key="sk-bench", base_url=url))
    s_stock, s_dumped, s_ours = [await cut_off_session(m) for m in (stock, dumped, ours)]
    s_stock.send_event = _noop
    s_dumped.send_event = _dump
    sent: list[str] = []
    s_ours.send_event = lambda event: sent.append(json.dumps(event))
    s_ours.update_options(speed=SPEEDS[0])
    assert json.loads(sent[-1])["session"] == {"type": "realtime", "audio": {"output": {"speed": SPEEDS[0]}}}
    s_ours.send_event = _json
    return {
        "models": (stock, dumped, ours),
        "s_stock": s_stock,
        "s_dumped": s_dumped,
        "s_ours": s_ours,
        "m_stock": stock,
        "m_dumped": dumped,
        "m_ours": ours,
        "speed": itertools.cycle(SPEEDS).__next__,
    }


async def _teardown(namespace: dict[str, Any]) -> None:
    for session in (namespace["s_stock"], namespace["s_dumped"], namespace["s_ours"]):
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await session.aclose()
    for model in namespace["models"]:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await model.aclose()


def run(*, quick: bool = False) -> list[Row]:
    """Session-level and model-level rows, each against both stock baselines."""

    async def main() -> list[Row]:
        namespace = await _setup()
        try:
            rows = []
            for level, who in (("session", "s"), ("model", "m")):
                t = interleaved(
                    {
                        "optstate": f"{who}_ours.update_options(speed=speed())",
                        STOCK: f"{who}_stock.update_options(speed=speed())",
                        STOCK_JSON: f"{who}_dumped.update_options(speed=speed())",
                    },
                    namespace=namespace,
                    **settings(quick),
                )
                scenario = f"write path, {level}.update_options(speed) to JSON text"
                for base in (STOCK, STOCK_JSON):
                    rows.append(Row(scenario, t["optstate"], base, t[base], ratio(t["optstate"], t[base])))
            return rows
        finally:
            await _teardown(namespace)

    # The plugin warns on an aiohttp session it did not close; not ours to fix here.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    return asyncio.run(main())


#: The target (the issue's "correct and no slower") and the aim, as ratios to the stock
#: plugin's update_options with its own serialisation.
TARGET, AIM = 1.0, 0.5


def targets(rows: list[Row]) -> list[Target]:
    """The session-level write path ≤ 1.0x the stock plugin's, serialisation
    included (and, as a second row, the aim: ≤ 0.5x)."""
    r = next(r for r in rows if r.scenario.startswith("write path, session") and r.baseline == STOCK_JSON)
    measured = f"{r.ratio:.2f}x ({r.timing.median * 1e6:.2f} µs vs {r.base.median * 1e6:.2f} µs)"
    out = []
    explained = False
    for limit, name in ((TARGET, "target"), (AIM, "aim")):
        near = r.ratio > limit or within(r.ratio, limit)
        # One explanation (the costlier part of the report) for the strictest limit missed.
        explain = near and not explained
        explained = explained or explain
        out.append(
            Target(
                f"write path (session.update_options(speed) to JSON) ≤ {limit}x stock + serialisation "
                f"({name})",
                measured,
                r.ratio <= limit,
                note=note(r) if explain else "",
                profile=profile_statement() if explain else None,
                close=within(r.ratio, limit),
            )
        )
    return out


#: What each part of the optstate write path is measured by: the ``SessionLink``
#: methods replaced by no-ops, cumulatively, in the order the path runs them last.
_ABLATIONS = (
    ("the `_opts` mirror (the plugin reads its session's own copy)", ("mirror",)),
    ("handing the event to `send_event` (here `json.dumps`, as the send task does)", ("sent",)),
    ("`sync` (what to send, refusals, event id, encode, in-flight record)", ("sync",)),
    ("the store write (validated apply of the change and its diff, the override and its stamp)", ("write",)),
)


def note(r: Row) -> str:
    """Where the time of the optstate write path goes: each part measured by
    leaving it out (the adapter's methods replaced by no-ops, cumulatively, each
    step timed against the stock path in the same rounds), down to the keyword's
    translation alone, against the stock plugin's whole path. At the size of
    the rows (a quick run's rows make quick measurements)."""
    from optstate.livekit._adapter import SessionLink

    quick = len(r.timing.rounds) < settings(False)["rounds"]

    namespace = profile_statement()[1]
    rounds = {"optstate": "s_ours.update_options(speed=speed())", STOCK_JSON: f"s_dumped.{_STOCK_CALL}"}
    saved = {name: SessionLink.__dict__[name] for _, names in _ABLATIONS for name in names}
    parts: list[tuple[str, float]] = []
    try:
        before = ratio_of(rounds, namespace, quick)
        for label, names in _ABLATIONS:
            for name in names:
                setattr(SessionLink, name, _noop_method)
            after = ratio_of(rounds, namespace, quick)
            parts.append((label, before - after))
            before = after
        parts.append(("the keyword translated and validated into a patch (all that is left)", before))
    finally:
        for name, method in saved.items():
            setattr(SessionLink, name, method)
    shown = "; ".join(f"{label} {share:.2f}x" for label, share in parts)
    return (
        f"Measured {r.ratio:.2f}x: optstate {r.timing.median * 1e6:.2f} µs against the stock plugin's "
        f"{r.base.median * 1e6:.2f} µs (its `update_options` compares the keyword with its `_opts`, "
        "builds one pydantic event, validated in C by pydantic-core, then `model_dump` and "
        "`json.dumps`). The optstate path in parts, in units of the stock path (each part left out "
        f"in turn, cumulatively, timed against stock in the same rounds): {shown}. The store write "
        "is the largest part: `apply` builds the three records on the changed path (a slot store "
        "for each of their fields, one validated leaf), the session's override, its stamp and the "
        "written set are updated, and the diff is remembered for the sync and the mirror. Each part "
        "is a few dozen Python-level calls (about 165 per write in the profile below, where the "
        "stock path makes about 60, most of them in C). Reaching 1.0x would take the core's hot "
        "modules (`_patch`, `_store`, `_connection`) compiled, e.g. with mypyc, shipped as "
        "wheels with the pure-Python modules as the fallback where no wheel fits; not done here."
    )


_STOCK_CALL = "update_options(speed=speed())"


def _noop_method(self: Any, *args: Any) -> None:
    return None


def ratio_of(rounds: dict[str, str], namespace: dict[str, Any], quick: bool) -> float:
    """optstate ÷ stock for ``rounds`` (interleaved, paired by round)."""
    t = interleaved(rounds, namespace=namespace, **settings(quick))
    return ratio(t["optstate"], t[STOCK_JSON])


def profile_statement() -> tuple[str, dict[str, Any]]:
    """A statement (and namespace) that runs the optstate write path outside a loop."""
    loop = asyncio.new_event_loop()
    try:
        namespace = loop.run_until_complete(_setup())
    finally:
        loop.close()
    return "s_ours.update_options(speed=speed())", namespace


if __name__ == "__main__":
    for row in run():
        print(f"{row.scenario}: {row.timing.us()}  = {row.ratio:.3g}x {row.baseline} ({row.base.us()})")
