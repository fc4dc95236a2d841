"""``update_tools`` with a large tool list, through the livekit adapter, against the stock plugin.

On livekit-plugins-openai as installed, 10 000 function tools (a name, a
description and a small JSON Schema each), in the same process:

* **optstate**: the plugin with :func:`optstate.livekit.attach`; ``send_event``
  is ``json.dumps`` of the event dict the store built (when there is one);
* **stock**: the same plugin without optstate, ``send_event`` a no-op (its
  ``update_tools``: convert every tool, build the event);
* **stock + serialisation**: ``send_event`` does what the plugin's send task
  does with the event (``model_dump`` of a pydantic event, then ``json.dumps``).

Two scenarios: the same 10 000 tools given again (optstate sends nothing; the
stock plugin converts and sends them all), and two lists that differ in one
tool, alternated (both send the whole new list: the wire replaces ``tools``
whole). Sessions are cut off the network as in ``bench_write_path``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Coroutine
from typing import Any

from livekit.agents import llm
from livekit.plugins.openai.realtime import RealtimeModel
from pydantic import BaseModel

import optstate.livekit

from ._livekit import cut_off_session
from ._timing import Row, Target, interleaved, ratio, settings, within

STOCK = "stock update_tools"
STOCK_JSON = "stock update_tools + model_dump + json.dumps"
UNCHANGED = "update_tools, {n} unchanged tools"
ONE_CHANGED = "update_tools, one of {n} tools changed"


def drive(coro: Coroutine[Any, Any, Any]) -> None:
    """Run a coroutine that never suspends (an uncontended lock) to its end."""
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("update_tools suspended")


def make_tools(n: int, tag: str = "") -> list[Any]:
    """``n`` raw function tools ``tool_<i><tag>``, each with a one-parameter schema."""

    async def call(raw_arguments: dict[str, Any]) -> str:
        return ""

    return [
        llm.function_tool(
            call,
            raw_schema={
                "name": f"tool_{i}{tag}",
                "description": f"Tool number {i}",
                "parameters": {
                    "type": "object",
                    "properties": {"x": {"type": "integer", "description": "an x"}},
                    "required": ["x"],
                },
            },
        )
        for i in range(n)
    ]


def _noop(_event: Any) -> None:
    return None


def _dump(event: Any) -> None:
    if isinstance(event, BaseModel):
        event = event.model_dump(by_alias=True, exclude_unset=True, exclude_defaults=False)
    json.dumps(event)


async def _setup(n: int) -> dict[str, Any]:
    url = "ws://127.0.0.1:9/v1"
    models = (
        RealtimeModel(api_key="sk-bench", base_url=url),
        RealtimeModel(api_key="sk-bench", base_url=url),
        optstate.livekit.attach(RealtimeModel(api_key="sk-bench", base_url=url)),
    )
    s_stock, s_dumped, s_ours = [await cut_off_session(m) for m in models]
    s_stock.send_event = _noop
    s_dumped.send_event = _dump
    sent: list[Any] = []
    s_ours.send_event = sent.append
    tools = make_tools(n)
    other = list(tools)
    other[n // 2] = make_tools(1, "_b")[0]
    for s in (s_stock, s_dumped, s_ours):
        drive(s.update_tools(tools))
    assert len(sent[-1]["session"]["tools"]) == n
    sent.clear()
    drive(s_ours.update_tools(tools))
    assert not sent, "unchanged tools were sent"
    s_ours.send_event = lambda event: json.dumps(event)
    return {
        "models": models,
        "s_stock": s_stock,
        "s_dumped": s_dumped,
        "s_ours": s_ours,
        "drive": drive,
        "tools": tools,
        "lists": itertools.cycle((other, tools)).__next__,
        "lists_stock": itertools.cycle((other, tools)).__next__,
    }


async def _teardown(namespace: dict[str, Any]) -> None:
    for session in (namespace["s_stock"], namespace["s_dumped"], namespace["s_ours"]):
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await session.aclose()
    for model in namespace["models"]:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await model.aclose()


def run(*, quick: bool = False) -> list[Row]:
    """The unchanged and the one-tool-changed rows, against both stock baselines."""
    n = 50 if quick else 10_000
    timing = settings(quick) if quick else {"rounds": 7, "min_time": 0.2}

    async def main() -> list[Row]:
        namespace = await _setup(n)
        try:
            rows = []
            same = interleaved(
                {
                    "optstate": "drive(s_ours.update_tools(tools))",
                    STOCK: "drive(s_stock.update_tools(tools))",
                    STOCK_JSON: "drive(s_dumped.update_tools(tools))",
                },
                namespace=namespace,
                **timing,
            )
            for base in (STOCK, STOCK_JSON):
                rows.append(_row(UNCHANGED.format(n=n), same, base))
            one = interleaved(
                {
                    "optstate": "drive(s_ours.update_tools(lists()))",
                    STOCK_JSON: "drive(s_dumped.update_tools(lists_stock()))",
                },
                namespace=namespace,
                **timing,
            )
            rows.append(_row(ONE_CHANGED.format(n=n), one, STOCK_JSON))
            return rows
        finally:
            await _teardown(namespace)

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    return asyncio.run(main())


def _row(scenario: str, t: dict[str, Any], base: str) -> Row:
    return Row(scenario, t["optstate"], base, t[base], ratio(t["optstate"], t[base]))


def targets(rows: list[Row]) -> list[Target]:
    """Unchanged tools: no slower than the stock plugin (its cheapest form, no
    serialisation); one changed tool: no slower than stock + serialisation."""
    same = next(r for r in rows if r.scenario.endswith("unchanged tools") and r.baseline == STOCK)
    one = next(r for r in rows if "changed" in r.scenario and "unchanged" not in r.scenario)
    out = []
    for r, goal in (
        (same, f"{same.scenario} ≤ 1x {STOCK}"),
        (one, f"{one.scenario} ≤ 1x {STOCK_JSON}"),
    ):
        out.append(
            Target(
                goal,
                f"{r.ratio:.2f}x ({r.timing.median * 1e3:.2f} ms vs {r.base.median * 1e3:.2f} ms)",
                r.ratio <= 1.0,
                note=_NOTE if r is one and (r.ratio > 1.0 or within(r.ratio, 1.0)) else "",
                profile=profile_statement(_size(r)) if r.ratio > 1.0 else None,
                close=within(r.ratio, 1.0),
            )
        )
    return out


def _size(r: Row) -> int:
    """How many tools the row's scenario had."""
    return int(next(word for word in r.scenario.split() if word.isdigit()))


def profile_statement(n: int) -> tuple[str, dict[str, Any]]:
    """A statement (and namespace) that runs the optstate one-tool change of
    ``n`` tools outside a loop."""
    loop = asyncio.new_event_loop()
    try:
        namespace = loop.run_until_complete(_setup(n))
    finally:
        loop.close()
    # One call takes about as long as 20 000 of the small benchmarks' statements.
    namespace["PROFILE_CALLS"] = 5
    return "drive(s_ours.update_tools(lists()))", namespace


_NOTE = (
    "A changed tool is converted and validated alone (the others reuse their records), "
    "but the wire replaces `tools` whole, so the event holds every tool: most of the time "
    "is `to_json` of 10 000 records and `json.dumps` of the event, which the stock row pays too."
)


if __name__ == "__main__":
    for row in run():
        print(f"{row.scenario}: {row.timing.us()}  = {row.ratio:.3g}x {row.baseline} ({row.base.us()})")
