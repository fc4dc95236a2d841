"""The openai-agents-stock driver: the Agents SDK's RealtimeSession, driven as the SDK documents.

Runs in its own pinned environment (``make test-agents``); skipped where the SDK is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("agents.realtime", reason="needs openai-agents (make test-agents)")

from tests.driver_checks import check_driver, program_of

from optstate.agents._driver import AgentsDriver, stock

pytestmark = pytest.mark.agents


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    """The harness provokes server errors on purpose; the SDK logs them."""
    caplog.set_level(logging.CRITICAL, logger="openai.agents")


def sessions(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``session`` objects of the ``session.update`` events."""
    return [e["session"] for e in events if e.get("type") == "session.update"]


@pytest.fixture(params=["inproc", "ws"])
def driver(request: pytest.FixtureRequest) -> Iterator[AgentsDriver]:
    d = stock(transport=request.param)
    d.start()
    yield d
    d.close()


class TestPlumbing:
    """What the driver's calls put on the wire, through the SDK's own code."""

    def test_declares_what_the_sdk_has(self) -> None:
        """A (run-config) model level and replies; no reconnect, tracing or truncation."""
        d = stock()
        assert (d.has_model_level, d.can_reply, d.can_reconnect, d.dialect) == (True, True, False, "ga")
        assert not {"tracing", "truncation"} & set(d.keywords)

    def test_each_update_sends_a_whole_session(self, driver: AgentsDriver) -> None:
        """Entering sends the full session (and tracing once created); each settings event
        sends a full session again, the unnamed fields from the SDK's defaults."""
        s0 = driver.new_session()
        first = sessions(driver.events(s0))
        assert first[0]["audio"]["output"]["voice"] == "ash"
        semantic = {"type": "semantic_vad", "interrupt_response": True}
        assert first[0]["audio"]["input"]["turn_detection"] == semantic
        assert first[1:] == [{"type": "realtime", "model": "gpt-realtime-2.1", "tracing": "auto"}]
        driver.update_session(s0, turn_detection={"type": "server_vad", "threshold": 0.8})
        driver.update_session(s0, voice="marin")
        sent = sessions(driver.events(s0))
        assert [(s["audio"]["input"]["turn_detection"], s["audio"]["output"]["voice"]) for s in sent] == [
            ({"type": "server_vad", "threshold": 0.8}, "ash"),
            ({"type": "semantic_vad", "interrupt_response": True}, "marin"),  # VAD clobbered
        ]

    def test_model_level_reaches_only_later_sessions(self, driver: AgentsDriver) -> None:
        """A run-config write sends nothing to a live session; a new one starts with it."""
        s0 = driver.new_session()
        driver.events(s0)
        driver.update_model(speed=0.8)
        assert driver.events(s0) == []
        s1 = driver.new_session()
        assert sessions(driver.events(s1))[0]["audio"]["output"]["speed"] == 0.8

    def test_render_is_sdk_source(self) -> None:
        """Steps print as the calls an application makes."""
        d = stock()
        assert d.render("model", None, {"max_response_output_tokens": 100}) == (
            "run_config[\"model_settings\"].update({'max_output_tokens': 100})"
        )
        assert d.render("update", 1, {"voice": "marin"}) == (
            "await s1.model.send_event(RealtimeModelSendSessionUpdate(session_settings={'voice': 'marin'}))"
        )


def test_stock_agents_fails_the_checker() -> None:
    """openai-agents 0.24: a run-config (model-level) voice never reaches the live session."""
    result = check_driver(stock, examples=100)
    assert not result.ok
    assert "property broken: the server's view equals the expected state (session s0)" in result.report
    assert "audio.output.voice: expected 'alloy', server has 'ash'" in result.report
    assert program_of(result.bugs[0].report) == [
        'run_config = {"model_settings": {}}',
        "s0 = await RealtimeRunner(agent, model=OpenAIRealtimeWebSocketModel(), config=run_config).run();"
        " await s0.enter()",
        "run_config[\"model_settings\"].update({'voice': 'alloy'})",
    ]
