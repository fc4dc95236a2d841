"""The livekit-azure-stock driver: livekit-plugins-openai's legacy Azure path (flat dialect).

Runs wherever livekit-plugins-openai is (the ``livekit`` stages: 1.8 in .venv, 1.5.6 in .venv-lk15).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import pytest

pytest.importorskip("livekit.plugins.openai", reason="needs livekit-plugins-openai")

from tests.driver_checks import check_driver, program_of

from optstate.livekit._driver import AzureDriver, azure_attached, azure_stock
from optstate.livekit._plugin import dialect_of

pytestmark = pytest.mark.livekit
PLUGIN = version("livekit-plugins-openai")
MADE = (
    'model = RealtimeModel.with_azure(azure_deployment="gpt-realtime", azure_endpoint="https://x.openai.azure.com",'
    ' api_key="k", api_version="2024-10-01-preview")  # inside a running asyncio loop'
)


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    """The api_version deprecation and the harness' dropped connections are logged."""
    caplog.set_level(logging.CRITICAL, logger="livekit")
    caplog.set_level(logging.CRITICAL, logger="livekit.plugins.openai")


def sessions(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``session`` objects of the ``session.update`` events."""
    return [e["session"] for e in events if e.get("type") == "session.update"]


@pytest.fixture(params=["inproc", "ws"])
def driver(request: pytest.FixtureRequest) -> Iterator[AzureDriver]:
    d = azure_stock(transport=request.param)
    d.start()
    yield d
    d.close()


class TestPlumbing:
    """What the driver's calls put on the wire, through the plugin's Azure conversion."""

    def test_declares_the_flat_dialect(self) -> None:
        """A model level, replies, the beta dialect; reconnects over ws only."""
        assert (azure_stock().dialect, azure_stock().has_model_level) == ("beta", True)
        assert (azure_stock().can_reconnect, azure_stock(transport="ws").can_reconnect) == (False, True)

    def test_writes_go_out_flat(self, driver: AzureDriver) -> None:
        """The first update is flat (modalities, pcm16, whisper-1); a turn-detection
        clear goes out as an empty session object."""
        s0 = driver.new_session()
        first = sessions(driver.events(s0))[0]
        assert (first["modalities"], first["input_audio_format"]) == (["audio", "text"], "pcm16")
        assert first["input_audio_transcription"] == {"model": "whisper-1"}
        assert first["turn_detection"]["type"] == "server_vad"
        driver.update_session(s0, turn_detection=None)
        driver.update_session(s0, speed=1.25)
        assert sessions(driver.events(s0)) == [{}, {"speed": 1.25}]

    def test_render_is_livekit_source(self) -> None:
        """The model prints as with_azure with its api_version."""
        assert azure_stock().render("start", None, {}) == MADE


def test_stock_azure_fails_the_checker() -> None:
    """1.8: a turn-detection clear never reaches the wire; 1.5.6: a model-level voice
    never reaches the live session."""
    result = check_driver(azure_stock, examples=100)
    assert not result.ok
    assert "property broken: the server's view equals the expected state (session s0)" in result.report
    program = program_of(result.bugs[0].report)
    assert program[:2] == [MADE, "s0 = model.session()"]
    if PLUGIN.startswith("1.5."):
        assert program[2:] == ["model.update_options(voice='alloy')"]
    else:
        assert program[2:] == ["model.update_options(turn_detection=None)"]


@pytest.mark.parametrize(("transport", "examples"), [("inproc", 100), ("ws", 15)])
def test_attached_azure_passes_the_checker(transport: str, examples: int) -> None:
    """The legacy Azure path with optstate.livekit.attach passes (flat dialect)."""
    result = check_driver(functools.partial(azure_attached, transport=transport), examples=examples)
    assert result.ok, result.report


class TestAttached:
    """attach() on the legacy Azure model: the flat dialect, found by what the plugin sends."""

    def test_flat_dialect_with_reasoning(self) -> None:
        """The dialect is the flat one, and ``reasoning`` goes out flat, as livekit's own
        Azure conversion carries it; a null clear reaches the wire."""
        d = azure_attached()
        d.start()
        try:
            assert dialect_of(d.model) == "beta"
            s0 = d.new_session()
            sessions(d.events(s0))
            d.update_session(s0, turn_detection=None)
            wanted = [{"turn_detection": None}]
            if "reasoning" in d.keywords:
                d.update_session(s0, reasoning={"effort": "low"})
                wanted.append({"reasoning": {"effort": "low"}})
            assert sessions(d.events(s0)) == wanted
        finally:
            d.close()
