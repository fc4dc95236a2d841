"""Server rules: changes the live server refuses are named before anything is sent."""

from __future__ import annotations

from hypothesis import given

import optstate
from optstate.openai import RealtimeOptions, refusals
from optstate.strategies import patches, realtime_options


class TestRefusals:
    def test_model_change_is_refused(self) -> None:
        """A different model cannot go out mid-session."""
        held = RealtimeOptions()
        change = optstate.patch(RealtimeOptions, {"model": "gpt-realtime-1.5"})
        assert [r.path for r in refusals(held, change)] == ["model"]
        same = optstate.patch(RealtimeOptions, {"model": "gpt-realtime"})
        assert refusals(held, same) == ()

    def test_voice_locks_after_audio(self) -> None:
        """voice may change before the first audio output, not after."""
        held = RealtimeOptions()
        change = optstate.patch(RealtimeOptions, {"audio.output.voice": "marin"})
        assert refusals(held, change, audio_started=False) == ()
        found = refusals(held, change, audio_started=True)
        assert [r.path for r in found] == ["audio.output.voice"]
        assert "reconnect" in found[0].reason

    def test_tracing_locks_once_enabled(self) -> None:
        """tracing can be turned on, but not changed once on."""
        off = RealtimeOptions()
        on = optstate.set(off, "tracing", "auto")
        change = optstate.patch(RealtimeOptions, {"tracing": {"workflow_name": "w"}})
        assert refusals(off, change) == ()
        assert [r.path for r in refusals(on, change)] == ["tracing"]

    @given(held=realtime_options(), change=patches())
    def test_refusals_only_name_leaves_of_the_change(
        self, held: RealtimeOptions, change: optstate.Patch
    ) -> None:
        """Every refusal names a leaf the change sets, to a value the server does not hold."""
        for r in refusals(held, change, audio_started=True):
            assert change.paths()[r.path] == r.value
            assert optstate.get(held, r.path) != r.value
