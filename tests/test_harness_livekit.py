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


#: What the checker finds in the newest plugin (1.8.9) with seed 0 and 200 examples:
#: (property, option paths), most severe first. A change here is a change of the
#: harness (or of the plugin): look at the programs before updating it.
NEWEST_BUGS = [
    ("a write changes no field it did not name", ("audio.input.transcription",)),
    ("after a rejected update the server's view equals the expected state", ("audio.output.voice",)),
    ("a write that changes nothing puts nothing on the wire", ("audio.output.voice",)),
    ("a write that changes nothing puts nothing on the wire", ("truncation",)),
    ("a write that changes nothing puts nothing on the wire", ("audio.input.noise_reduction",)),
]


def test_stock_plugin_fails() -> None:
    """The stock plugin breaks a property; the report is a runnable minimal program."""
    result = check(stock, examples=200, seed_value=0)
    assert not result.ok
    program = program_of(result.bugs[0].report)
    assert program[0].startswith('model = RealtimeModel(api_key="sk-test")')
    assert program[1] == "s0 = model.session()"
    if PLUGIN.startswith("1.5."):
        # The original report (livekit/agents#5530): one model-level write of one option.
        assert "the server's view equals the expected state (session s0)" in result.report
        assert len(program) == 3, result.report
        assert program[2].startswith("model.update_options(")
        assert program[2].count("=") == 1
    else:
        # Newer plugins: the session setting a model-level write clobbers, and the
        # retry after a rejection that the plugin swallows, as separate bugs.
        found = [(b.property, b.paths) for b in result.bugs]
        assert NEWEST_BUGS[0] in found, result.report
        assert NEWEST_BUGS[1] in found, result.report
        if PLUGIN == "1.8.9":
            assert found == NEWEST_BUGS, result.report
        clobber = result.bugs[found.index(NEWEST_BUGS[0])]
        assert clobber.program[2:] == (
            "s0.update_options(input_audio_transcription=None)",
            "model.update_options(voice='alloy')",
        ), clobber.report
        retry = result.bugs[found.index(NEWEST_BUGS[1])]
        assert retry.program[2:] == (
            "# the server rejects s0's next session.update",
            "model.update_options(voice='alloy')",
            "model.update_options(voice='alloy')",
        ), retry.report


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
