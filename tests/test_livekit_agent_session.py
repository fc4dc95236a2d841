"""LiveKit's own ``AgentSession`` end to end, against the loopback server.

A real ``livekit.agents.AgentSession`` (no room: ``AgentSession(llm=model)`` then
``start(agent)``, which leaves the session without audio or text IO) drives a
stock ``RealtimeModel`` on 127.0.0.1 through one scenario (:data:`SCENARIO`): an
agent with instructions and a tool, a handoff, model- and session-level writes, a
dropped connection, a refused update asked again, and a voice change after the
model has spoken (the loopback server answers ``generate_reply`` with audio).

After every step the server holds exactly what the application asked for
(written as data in each step; a field nobody set keeps the server's default
from :func:`~optstate.server.server_defaults`), less what the live server may
not take (``kept``). Each step is a test, run with the adapter attached and
without it: the stock runs are expected failures where the stock plugin is
wrong, and each says which bug (:data:`STOCK_BUGS`). A stock run that fails in
any other way than its named bug is an error, not an expected failure. Waits
poll (a bounded time); nothing sleeps.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

pytest.importorskip("livekit.plugins.openai")

from livekit.agents import Agent, AgentSession, llm
from openai.types.realtime import AudioTranscription
from openai.types.realtime.realtime_audio_input_turn_detection import SemanticVad as LkSemanticVad
from tests.test_livekit import Harness, until
from tests.test_livekit import harness as harness

import optstate
import optstate.livekit as lk
from optstate.openai import RealtimeOptions, SemanticVad, Transcription
from optstate.server import server_defaults

pytestmark = pytest.mark.livekit


@llm.function_tool
async def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return "sunny"


@llm.function_tool
async def book_table(time: str) -> str:
    """Book a table at the restaurant."""
    return "booked"


@llm.function_tool
async def cancel_booking(booking: str) -> str:
    """Cancel a booking."""
    return "cancelled"


class Entered(Agent):
    """An ``Agent`` that says when its activity has started (``on_enter``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entered = asyncio.Event()

    async def on_enter(self) -> None:
        self.entered.set()


class Run:
    """One run of the scenario: the loopback server, the model, the AgentSession."""

    def __init__(self, harness: Harness, attached: bool) -> None:
        self.server = harness.server
        self.attached = attached
        # Everything the application sets on the model, given explicitly.
        self.model: Any = harness.model(
            attach=attached,
            voice="marin",
            input_audio_transcription=AudioTranscription(model="gpt-4o-mini-transcribe"),
            turn_detection=LkSemanticVad(
                type="semantic_vad", eagerness="medium", create_response=True, interrupt_response=True
            ),
        )
        self.session = AgentSession(llm=self.model)
        self.conn = 0  # the server connection of the current realtime session
        self.markers = itertools.count()

    @property
    def rt(self) -> Any:
        """The realtime session of the current agent (the plugin's ``RealtimeSession``)."""
        return self.session.current_agent.realtime_llm_session

    async def enter(self, agent: Entered, start: Callable[[], Awaitable[None] | None]) -> None:
        """Start ``agent`` (``start`` or hand off) and wait until its activity is on."""
        started = start()
        if started is not None:
            await started
        await asyncio.wait_for(agent.entered.wait(), 5.0)

    async def reconnected(self) -> None:
        """Drop the current connection; wait for the plugin's new one and its first update."""
        await self.server.drop(self.conn)
        conn = await self.server.wait_for_connections(len(self.server.connections) + 1)
        await self.server.wait_for_event("session.update", session=conn.index)
        self.conn = conn.index

    async def settled(self) -> None:
        """Wait until the server has handled everything the client sent so far, and the
        client has its answers: a marker (``conversation.item.truncate``, echoed with its
        item id, changing no option) goes out after them on the same connection."""
        item = f"marker_{next(self.markers)}"
        self.rt.send_event(
            {"type": "conversation.item.truncate", "item_id": item, "content_index": 0, "audio_end_ms": 0}
        )
        sent = self.server.connections[self.conn].sent
        await until(lambda: any(e.get("item_id") == item for e in sent), f"the server answering {item}")
        if self.attached:
            await until(lambda: not lk.state_of(self.rt).in_flight, "the answers reaching optstate")

    async def aclose(self) -> None:
        await self.session.aclose()


# -- the scenario ----------------------------------------------------------------------

AGENT_A = {"instructions": "You are the front desk. Answer weather questions.", "tools": [get_weather]}
AGENT_B = {"instructions": "You are the booking desk.", "tools": [book_table, cancel_booking]}


async def start(run: Run) -> None:
    agent = Entered(**AGENT_A)
    await run.enter(agent, lambda: run.session.start(agent))
    await run.server.wait_for_event("session.update", session=0)


async def hand_off(run: Run) -> None:
    agent = Entered(**AGENT_B)
    await run.enter(agent, lambda: run.session.update_agent(agent))


async def voice_and_speed(run: Run) -> None:
    run.model.update_options(voice="cedar", speed=1.2)


async def clear_transcription(run: Run) -> None:
    run.rt.update_options(input_audio_transcription=None)


async def unrelated_model_write(run: Run) -> None:
    run.model.update_options(max_response_output_tokens=500)


async def drop_and_reconnect(run: Run) -> None:
    await run.reconnected()


async def refused(run: Run) -> None:
    run.server.fail_next_update(session=run.conn)
    run.model.update_options(speed=1.4)
    await run.settled()
    # A plugin that never sent the change never used the failure: take it back.
    run.server.withdraw_failures(session=run.conn)


async def asked_again(run: Run) -> None:
    run.model.update_options(speed=1.4)


async def model_speaks(run: Run) -> None:
    run.server.respond_with_audio(session=run.conn)
    await asyncio.wait_for(run.session.generate_reply().wait_for_playout(), 5.0)
    await until(lambda: run.server.connections[run.conn].audio_started, "audio on the server")
    if run.attached:
        await until(lambda: lk.state_of(run.rt).audio_started, "optstate seeing the audio")


async def voice_after_audio(run: Run) -> None:
    run.model.update_options(voice="ash")


@dataclass(frozen=True)
class Step:
    """One step: what it does, what the application asks for by it (dotted paths; tool
    names for ``tools``), and what the live connection keeps instead of the ask
    (server rules and refusals), with the paths optstate holds for the next connection."""

    id: str
    act: Callable[[Run], Awaitable[None]]
    asks: Mapping[str, Any]
    kept: Mapping[str, Any] = field(default_factory=dict)
    waits_for_reconnect: tuple[str, ...] = ()


#: What the application gives the RealtimeModel's constructor.
CONSTRUCTED: Mapping[str, Any] = {
    "audio.output.voice": "marin",
    "audio.input.transcription": Transcription(model="gpt-4o-mini-transcribe"),
    "audio.input.turn_detection": SemanticVad(eagerness="medium"),
}

SCENARIO: tuple[Step, ...] = (
    Step("start", start, {"instructions": AGENT_A["instructions"], "tools": ("get_weather",)}),
    Step(
        "handoff",
        hand_off,
        {"instructions": AGENT_B["instructions"], "tools": ("book_table", "cancel_booking")},
    ),
    Step("model_voice_speed", voice_and_speed, {"audio.output.voice": "cedar", "audio.output.speed": 1.2}),
    Step("session_clears_transcription", clear_transcription, {"audio.input.transcription": None}),
    Step("unrelated_model_write", unrelated_model_write, {"max_output_tokens": 500}),
    Step("reconnect", drop_and_reconnect, {}),
    Step("refused", refused, {"audio.output.speed": 1.4}, kept={"audio.output.speed": 1.2}),
    Step("asked_again", asked_again, {"audio.output.speed": 1.4}),
    Step("model_speaks", model_speaks, {}),
    Step(
        "voice_after_audio",
        voice_after_audio,
        {"audio.output.voice": "ash"},
        kept={"audio.output.voice": "cedar"},
        waits_for_reconnect=("audio.output.voice",),
    ),
    Step("reconnect_after_audio", drop_and_reconnect, {}),
)
STEP_IDS = [s.id for s in SCENARIO]


def asked_by(steps: tuple[Step, ...]) -> dict[str, Any]:
    """Everything the application has asked for up to and including ``steps[-1]``."""
    asked = dict(CONSTRUCTED)
    for step in steps:
        asked.update(step.asks)
    return asked


def mismatches(held: RealtimeOptions, asked: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{path: (what the server holds, what was asked)}`` for every path where the
    server differs from ``asked`` laid over the server's defaults."""
    tools = asked.get("tools", ())
    want = server_defaults()
    for path, value in asked.items():
        if path != "tools":
            want = optstate.set(want, path, value)
    no_tools = optstate.set(held, "tools", ())
    out = {p: (v, optstate.get(want, p)) for p, v in optstate.diff(want, no_tools).paths().items()}
    names = tuple(t.name for t in held.tools)
    if names != tools:
        out["tools"] = (names, tools)
    return out


# -- what the stock plugin gets wrong --------------------------------------------------


@dataclass(frozen=True)
class Bug:
    """A stock plugin bug: its name and the paths where the server differs from the
    ask, by step id, from the step that causes it until one that heals it."""

    name: str
    wrong: Mapping[str, frozenset[str]]


def spans(*spans: tuple[str, str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """``{step: paths}`` for each ``(first step, last step, paths)``, paths of overlapping
    spans together."""
    out: dict[str, frozenset[str]] = {}
    for first, last, paths in spans:
        for step in STEP_IDS[STEP_IDS.index(first) : STEP_IDS.index(last) + 1]:
            out[step] = out.get(step, frozenset()) | paths
    return out


VOICE, SPEED = "audio.output.voice", "audio.output.speed"
TRANSCRIPTION, MAX_TOKENS = "audio.input.transcription", "max_output_tokens"

#: By plugin kind: 1.5 sessions share the model's options object; 1.8 sessions own a copy.
STOCK_BUGS: Mapping[str, tuple[Bug, ...]] = {
    "shared options (1.5)": (
        Bug(
            "livekit/agents#5530: model.update_options() never reaches a live session "
            "(until the plugin reconnects and replays the model's options)",
            spans(
                ("model_voice_speed", "unrelated_model_write", frozenset({VOICE, SPEED})),
                ("unrelated_model_write", "unrelated_model_write", frozenset({MAX_TOKENS})),
                ("asked_again", "voice_after_audio", frozenset({SPEED})),
            ),
        ),
    ),
    "own options (1.8)": (
        Bug(
            "an unrelated model.update_options() resends the model's input_audio_transcription, "
            "undoing the session's update_options(input_audio_transcription=None)",
            spans(("unrelated_model_write", "reconnect_after_audio", frozenset({TRANSCRIPTION}))),
        ),
        Bug(
            "a session.update the server refused is not rolled back, so asking for the same "
            "value again is taken as no change and never sent (until a reconnect)",
            spans(("asked_again", "voice_after_audio", frozenset({SPEED}))),
        ),
    ),
}


class KnownBug(AssertionError):
    """The server differs from the ask exactly where the named stock bugs say."""


def plugin_kind(rt: Any) -> str:
    """Which stock plugin this is, from its session (never from a version string)."""
    return "own options (1.8)" if "_opts" in vars(rt) else "shared options (1.5)"


def expected_wrong(kind: str, step: str) -> tuple[frozenset[str], list[str]]:
    bugs = [b for b in STOCK_BUGS[kind] if step in b.wrong]
    paths = frozenset().union(*(b.wrong[step] for b in bugs))
    return paths, [b.name for b in bugs]


async def check(run: Run, done: tuple[Step, ...]) -> None:
    """The server's state after ``done[-1]``: what the application asked for (less
    what the live connection keeps), or, for a stock run, wrong exactly where the
    named bugs say (raising :class:`KnownBug`)."""
    step = done[-1]
    await run.settled()
    asked = {**asked_by(done), **step.kept}
    wrong = mismatches(run.server.states[run.conn], asked)
    if run.attached:
        assert wrong == {}, f"after {step.id}"
        waiting = tuple(r.path for r in lk.state_of(run.rt).needs_reconnect)
        assert waiting == step.waits_for_reconnect, f"after {step.id}"
        return
    paths, names = expected_wrong(plugin_kind(run.rt), step.id)
    assert set(wrong) == paths, f"after {step.id}: {wrong} (expected the stock bugs {names})"
    if wrong:
        raise KnownBug(f"after {step.id}: {'; '.join(names)}: {wrong}")


@pytest.mark.parametrize("upto", STEP_IDS)
@pytest.mark.parametrize("attached", [False, True], ids=["stock", "attached"])
async def test_agent_session(
    harness: Harness, request: pytest.FixtureRequest, attached: bool, upto: str
) -> None:
    """The scenario up to ``upto``, checking the server after every step."""
    run = Run(harness, attached)
    steps = SCENARIO[: STEP_IDS.index(upto) + 1]
    try:
        for i, step in enumerate(steps):
            await step.act(run)
            if not attached and i == 0:
                paths, names = expected_wrong(plugin_kind(run.rt), upto)
                if paths:
                    reason = f"stock {plugin_kind(run.rt)}: {'; '.join(names)}"
                    request.applymarker(pytest.mark.xfail(strict=True, raises=KnownBug, reason=reason))
            try:
                await check(run, steps[: i + 1])
            except KnownBug:
                if step is steps[-1]:
                    raise
    finally:
        await run.aclose()
