"""What the OpenAI Realtime server refuses to change mid-session.

* ``model`` never changes during a session (it is chosen when connecting);
* ``audio.output.voice`` cannot change once the model has produced audio;
* ``tracing`` cannot change once it is enabled.

optstate never sends such a change (the server would answer with an error)
and never drops it silently either: :func:`refusals` names each one, and the
store reports them as *needs reconnect* — the desired value is kept and goes
out with the next connection's first ``session.update``.
"""

from __future__ import annotations

from .._codec import Refusal
from .._patch import Patch
from ._schema import RealtimeOptions

__all__ = ["Refusal", "refusals"]


def refusals(held: RealtimeOptions, change: Patch, *, audio_started: bool = False) -> tuple[Refusal, ...]:
    """The leaves of ``change`` that a server holding ``held`` would refuse.

    ``audio_started`` says whether the model has produced audio output in this
    session (after which ``voice`` is locked).
    """
    if not change:
        return ()
    found: list[Refusal] = []
    if "model" in change and change["model"] != held.model:
        found.append(Refusal("model", change["model"], "cannot change during a session; reconnect"))
    if audio_started:
        output = change.get("audio", Patch()).get("output", Patch())
        if "voice" in output and output["voice"] != held.audio.output.voice:
            found.append(
                Refusal(
                    "audio.output.voice",
                    output["voice"],
                    "cannot change after the model has produced audio; reconnect",
                )
            )
    if "tracing" in change and held.tracing is not None and change["tracing"] != held.tracing:
        found.append(Refusal("tracing", change["tracing"], "cannot change once tracing is enabled"))
    return tuple(found)
