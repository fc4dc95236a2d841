"""optstate.agents.attach: the Agents SDK's realtime runner, sessions and model through a Store.

Runs in its own pinned environment (``make test-agents``); skipped where the SDK is missing.
The stock SDK's failures are shown in tests/test_drivers_agents.py; here each minimal
program runs green against the attached SDK, the checker passes, and real websockets
to :class:`optstate.server.RealtimeServer` end with the server holding what optstate says.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("agents.realtime", reason="needs openai-agents (make test-agents)")

from agents.realtime import OpenAIRealtimeWebSocketModel, RealtimeAgent, RealtimeRunner
from agents.realtime.model_inputs import RealtimeModelSendSessionUpdate
from tests.driver_checks import check_driver

import optstate
import optstate.agents
from optstate.agents._driver import AgentsDriver, attached
from optstate.openai import RealtimeOptions
from optstate.server import RealtimeServer

pytestmark = pytest.mark.agents


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    """The tests provoke server errors and refusals on purpose; the SDK and optstate log them."""
    caplog.set_level(logging.CRITICAL, logger="openai.agents")
    caplog.set_level(logging.CRITICAL, logger="optstate")


def updates(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``session`` objects of the ``session.update`` events."""
    return [e["session"] for e in events if e.get("type") == "session.update"]


@pytest.fixture
def driver() -> Iterator[AgentsDriver]:
    d = attached()
    d.start()
    yield d
    d.close()


class TestChecker:
    """The harness' properties hold for the attached SDK."""

    def test_inproc(self) -> None:
        """500 random programs over 1-3 sessions, in memory."""
        result = check_driver(attached, examples=500)
        assert result.ok, result.report

    def test_loopback_server(self) -> None:
        """A smaller run over real websockets to the loopback server."""
        result = check_driver(lambda: attached(transport="ws"), examples=30)
        assert result.ok, result.report


class TestStockFailuresFixed:
    """Each minimal program the stock SDK fails on, run against the attached SDK."""

    def test_runner_level_change_reaches_a_live_session(self, driver: AgentsDriver) -> None:
        """A run-config write is sent to the live session (only the field written)."""
        s0 = driver.new_session()
        driver.events(s0)
        driver.update_model(voice="alloy")
        assert updates(driver.events(s0)) == [{"type": "realtime", "audio": {"output": {"voice": "alloy"}}}]

    def test_voice_update_keeps_turn_detection(self, driver: AgentsDriver) -> None:
        """Each settings event sends only what it names: VAD is not reset by a voice change."""
        s0 = driver.new_session()
        driver.events(s0)
        driver.update_session(s0, turn_detection={"type": "server_vad", "threshold": 0.8})
        driver.update_session(s0, voice="marin")
        sent = updates(driver.events(s0))
        assert sent[0]["audio"]["input"]["turn_detection"]["threshold"] == 0.8
        assert sent[1] == {"type": "realtime", "audio": {"output": {"voice": "marin"}}}
        held = optstate.agents.state_of(driver.sessions[s0]).desired
        assert (held.audio.input.turn_detection.threshold, held.audio.output.voice) == (0.8, "marin")

    def test_update_agent_keeps_session_settings(self, driver: AgentsDriver) -> None:
        """``update_agent`` sends the new agent's instructions only: the session's voice,
        speed, VAD and transcription stay."""
        s0 = driver.new_session()
        transcription = {"model": "whisper-1"}
        driver.update_session(
            s0, voice="marin", speed=1.2, turn_detection=None, input_audio_transcription=transcription
        )
        driver.events(s0)
        other = RealtimeAgent(name="other", instructions="You are terse.")

        async def hand_over() -> None:
            await driver.sessions[s0].update_agent(other)
            await asyncio.sleep(0)

        driver._run(hand_over())
        assert updates(driver.events(s0)) == [{"type": "realtime", "instructions": "You are terse."}]
        held = optstate.agents.state_of(driver.sessions[s0]).desired
        assert (held.audio.output.voice, held.audio.output.speed) == ("marin", 1.2)
        assert held.audio.input.turn_detection is None
        assert getattr(held.audio.input.transcription, "model", None) == "whisper-1"

    def test_voice_is_not_resent(self, driver: AgentsDriver) -> None:
        """Other updates never carry the voice; after the model produced audio a voice
        change is not sent on this connection, and is kept."""
        s0 = driver.new_session()
        driver.events(s0)
        driver.update_session(s0, speed=0.9)
        assert updates(driver.events(s0)) == [{"type": "realtime", "audio": {"output": {"speed": 0.9}}}]
        delta = {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i"}
        driver.reply(s0, {**delta, "output_index": 0, "content_index": 0, "delta": ""})
        driver.update_session(s0, voice="cedar")
        assert updates(driver.events(s0)) == []
        state = optstate.agents.state_of(driver.sessions[s0])
        assert [r.path for r in state.needs_reconnect] == ["audio.output.voice"]
        driver.update_session(s0, speed=1.1)
        assert updates(driver.events(s0)) == [{"type": "realtime", "audio": {"output": {"speed": 1.1}}}]


class TestApi:
    """What attach accepts and what it says about bad input."""

    def test_attach_returns_the_runner_and_is_idempotent(self) -> None:
        """attach(runner) is runner; attaching twice keeps one store."""
        runner = RealtimeRunner(RealtimeAgent(name="a"), config={"model_settings": {"speed": 1.2}})
        assert optstate.agents.attach(runner) is runner
        store = optstate.agents.store_of(runner)
        assert optstate.agents.attach(runner) is runner
        assert optstate.agents.store_of(runner) is store
        assert store.defaults.audio.output.speed == 1.2

    def test_runners_sharing_a_config_share_a_store(self) -> None:
        """The run config is the model level: one store per config."""
        config: Any = {"model_settings": {}}
        a = optstate.agents.attach(RealtimeRunner(RealtimeAgent(name="a"), config=config))
        b = optstate.agents.attach(RealtimeRunner(RealtimeAgent(name="b"), config=config))
        assert optstate.agents.store_of(a) is optstate.agents.store_of(b)

    def test_bad_value_names_the_setting_and_changes_nothing(self) -> None:
        """An out-of-range runner setting raises naming the settings key; nothing changes."""
        config: Any = {"model_settings": {}}
        runner = optstate.agents.attach(RealtimeRunner(RealtimeAgent(name="a"), config=config))
        with pytest.raises(optstate.InvalidOption, match="speed"):
            config["model_settings"]["speed"] = 9.0
        assert "speed" not in config["model_settings"]
        assert optstate.agents.store_of(runner).defaults.audio.output.speed == 1.0

    def test_a_runner_setting_cannot_be_unset(self) -> None:
        """Deleting a runner setting is refused (there is no unset on the wire)."""
        config: Any = {"model_settings": {"speed": 1.2}}
        optstate.agents.attach(RealtimeRunner(RealtimeAgent(name="a"), config=config))
        with pytest.raises(TypeError, match="cannot be unset"):
            del config["model_settings"]["speed"]

    def test_not_a_runner(self) -> None:
        """attach() of something else is a TypeError; store_of/state_of of a stock object say so."""
        with pytest.raises(TypeError, match="RealtimeRunner"):
            optstate.agents.attach(object())
        with pytest.raises(optstate.OptStateError, match="not attached"):
            optstate.agents.store_of(RealtimeRunner(RealtimeAgent(name="a")))


# -- end to end over real websockets ------------------------------------------------------------


async def until(predicate: Callable[[], bool], what: str, timeout: float = 2.0) -> None:
    """Poll ``predicate`` until it holds (fail after ``timeout`` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.005)


def expected(session: Any) -> RealtimeOptions:
    """What the server should hold: the session's desired options, less the changes the
    live server refuses (those stay as the server has them)."""
    state = optstate.agents.state_of(session)
    want = state.desired
    for refusal in state.needs_reconnect:
        held = state.confirmed if state.confirmed is not None else state.sent
        want = optstate.set(want, refusal.path, optstate.get(held, refusal.path))
    return want


class Loopback:
    """Attached runners sharing one run config, each session on its own connection."""

    def __init__(self, server: RealtimeServer) -> None:
        self.server = server
        self.config: Any = {"model_settings": {"voice": "marin"}}
        self.sessions: list[Any] = []

    async def open(self, agent: RealtimeAgent | None = None) -> Any:
        """A new attached session, connected; returns it."""
        runner = RealtimeRunner(
            agent or RealtimeAgent(name="assistant", instructions="Be helpful."),
            model=OpenAIRealtimeWebSocketModel(),
            config=self.config,
        )
        optstate.agents.attach(runner)
        known = len(self.server.connections)
        url = self.server.base_url + "/realtime?model=gpt-realtime"
        session = await runner.run(model_config={"url": url, "api_key": "sk-test"})
        await session.enter()
        await self.server.wait_for_connections(known + 1)
        self.sessions.append(session)
        await self.settled()
        return session

    async def settled(self) -> None:
        """Wait until every session's server state is what optstate says (nothing in flight)."""

        def done() -> bool:
            states = self.server.states
            return all(
                not optstate.agents.state_of(s).in_flight and states[i] == expected(s)
                for i, s in enumerate(self.sessions)
            )

        await until(done, "the server holds what optstate says")

    @staticmethod
    async def update(session: Any, **settings: Any) -> None:
        """The SDK's own settings event for a live session."""
        await session.model.send_event(RealtimeModelSendSessionUpdate(session_settings=settings))  # type: ignore[typeddict-item]


@pytest.fixture
async def loopback() -> AsyncIterator[Loopback]:
    async with RealtimeServer() as server:
        lb = Loopback(server)
        yield lb
        for s in lb.sessions:
            await s.close()


class TestEndToEnd:
    """The real SDK on real websockets: the server ends up holding what optstate says."""

    async def test_writes_on_three_sessions(self, loopback: Loopback) -> None:
        """Runner- and session-level writes, null clears included, on three sessions."""
        s = [await loopback.open() for _ in range(3)]
        loopback.config["model_settings"]["speed"] = 1.25
        await loopback.settled()
        await loopback.update(s[0], input_audio_noise_reduction={"type": "near_field"})
        await loopback.update(s[1], turn_detection=None, input_audio_transcription=None)
        await loopback.settled()
        loopback.config["model_settings"].update(max_output_tokens=500, voice="alloy")
        await loopback.settled()
        await loopback.update(s[0], input_audio_noise_reduction=None)
        await loopback.settled()
        states = loopback.server.states
        assert [x.audio.output.speed for x in states] == [1.25] * 3
        assert [x.audio.output.voice for x in states] == ["alloy"] * 3
        assert [x.max_output_tokens for x in states] == [500] * 3
        assert states[0].audio.input.noise_reduction is None
        assert (states[1].audio.input.turn_detection, states[1].audio.input.transcription) == (None, None)
        assert states[2].audio.input.turn_detection is not None

    async def test_runner_write_keeps_session_settings(self, loopback: Loopback) -> None:
        """A runner-level write does not undo what a session set itself."""
        s0, s1 = await loopback.open(), await loopback.open()
        await loopback.update(s0, speed=0.8)
        await loopback.settled()
        loopback.config["model_settings"]["tool_choice"] = "none"
        await loopback.settled()
        assert [x.audio.output.speed for x in loopback.server.states] == [0.8, 1.0]
        assert [x.tool_choice for x in loopback.server.states] == ["none", "none"]
        assert s1 is loopback.sessions[1]

    async def test_rejection_then_retry(self, loopback: Loopback) -> None:
        """A refused update is rolled back; asking again sends it again."""
        s0 = await loopback.open()
        loopback.server.fail_next_update(session=0)
        await loopback.update(s0, speed=1.3)
        await until(lambda: not optstate.agents.state_of(s0).in_flight, "the error")
        await loopback.settled()
        assert loopback.server.states[0].audio.output.speed == 1.0
        assert optstate.agents.state_of(s0).desired.audio.output.speed == 1.0
        await loopback.update(s0, speed=1.3)
        await loopback.settled()
        assert loopback.server.states[0].audio.output.speed == 1.3

    async def test_voice_after_audio(self, loopback: Loopback) -> None:
        """After the model spoke, a voice change waits (it is never re-sent); other
        changes still go out."""
        s0 = await loopback.open()
        await loopback.server.mark_audio_produced(0)
        await until(lambda: optstate.agents.state_of(s0).audio_started, "the audio")
        await loopback.update(s0, voice="cedar", speed=1.2)
        await loopback.settled()
        assert loopback.server.states[0].audio.output.voice == "marin"
        assert loopback.server.states[0].audio.output.speed == 1.2
        assert [r.path for r in optstate.agents.state_of(s0).needs_reconnect] == ["audio.output.voice"]
        errors = [e for e in loopback.server.sent[0] if e.get("type") == "error"]
        assert errors == []

    async def test_update_agent(self, loopback: Loopback) -> None:
        """A hand-over to another agent sends its instructions; the session's own
        settings stay on the server."""
        s0 = await loopback.open()
        await loopback.update(s0, speed=1.1, turn_detection={"type": "server_vad", "threshold": 0.7})
        await loopback.settled()
        await s0.update_agent(RealtimeAgent(name="other", instructions="Be terse."))
        await loopback.settled()
        held = loopback.server.states[0]
        assert held.instructions == "Be terse."
        assert (held.audio.output.speed, held.audio.input.turn_detection.threshold) == (1.1, 0.7)
