"""The harness on the installed livekit-plugins-openai: stock and with optstate attached.

The checker is the same for every plugin version; only what these tests expect
of the stock plugin differs, because the versions' bugs differ.
"""

from __future__ import annotations

import logging
from importlib.metadata import version

import pytest

pytest.importorskip("livekit.plugins.openai", reason="needs livekit-plugins-openai")

from optstate.livekit._driver import attached, stock
from optstate.testing import check

pytestmark = pytest.mark.livekit
PLUGIN = version("livekit-plugins-openai")


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    """The harness provokes rejections on purpose; the adapter's warnings are expected."""
    caplog.set_level(logging.ERROR, logger="optstate")
    caplog.set_level(logging.CRITICAL, logger="livekit")


def program_of(report: str) -> list[str]:
    return [line.strip() for line in report.split("minimal program:")[1].strip().splitlines()]


def test_stock_plugin_fails() -> None:
    """The stock plugin breaks a property; the report is a runnable minimal program."""
    result = check(stock, examples=200, seed_value=0)
    assert not result.ok
    program = program_of(result.report)
    assert program[0].startswith('model = RealtimeModel(api_key="sk-test")')
    assert program[1] == "s0 = model.session()"
    if PLUGIN.startswith("1.5."):
        # The original report (livekit/agents#5530): one model-level write of one option.
        assert "the server's view equals the expected state (session s0)" in result.report
        assert len(program) == 3, result.report
        assert program[2].startswith("model.update_options(")
        assert program[2].count("=") == 1


def test_attached_plugin_passes() -> None:
    """With optstate attached, the same plugin passes 500 examples."""
    result = check(attached, examples=500, seed_value=0)
    assert result.ok, result.report
    assert result.examples >= 500


def test_attached_plugin_passes_over_websockets() -> None:
    """The same programs through the loopback server (real websockets, server-side
    rejections, dropped connections): optstate attached still passes."""
    result = check(lambda: attached(transport="ws"), examples=12, seed_value=0)
    assert result.ok, result.report
