"""A toy realtime plugin and its optstate driver (the README's example).

``ToyModel(broken=True)`` makes the mistake of livekit/agents#5530: the model
mutates its options, then asks each session to send what changed, and the
sessions compare against those already-mutated options, so nothing is sent.
"""

from __future__ import annotations

from typing import Any

from optstate.testing import default_render

AUDIO = {"voice": "output", "speed": "output", "turn_detection": "input"}


class ToySession:
    def __init__(self, model: ToyModel) -> None:
        self.model, self.opts, self.sent = model, dict(model.opts), []
        self.send(self.opts)

    def send(self, changed: dict[str, Any]) -> None:
        audio: dict[str, Any] = {}
        for k, v in changed.items():
            audio.setdefault(AUDIO[k], {})[k] = v
        self.sent.append({"type": "session.update", "session": {"type": "realtime", "audio": audio}})

    def update_options(self, **kw: Any) -> None:
        base = self.model.opts if self.model.broken else self.opts  # the bug: compare to mutated opts
        changed = {k: v for k, v in kw.items() if base[k] != v}
        self.opts.update(kw)
        if changed:
            self.send(changed)


class ToyModel:
    def __init__(self, *, broken: bool) -> None:
        self.broken, self.sessions = broken, []
        self.opts = {
            "voice": "alloy",
            "speed": 1.0,
            "turn_detection": {"type": "server_vad", "threshold": 0.5},
        }

    def session(self) -> ToySession:
        self.sessions.append(ToySession(self))
        return self.sessions[-1]

    def update_options(self, **kw: Any) -> None:
        self.opts.update(kw)  # mutate first...
        for s in self.sessions:
            s.update_options(**kw)  # ...then forward


def broken() -> ToyDriver:
    """The broken toy's driver factory (``optstate check --driver examples.toy_plugin:broken``)."""
    return ToyDriver(broken=True)


def fixed() -> ToyDriver:
    """The fixed toy's driver factory."""
    return ToyDriver(broken=False)


class ToyDriver:
    """The whole driver: 30 lines."""

    keywords = ("voice", "speed", "turn_detection")
    can_reply = can_reconnect = False

    def __init__(self, *, broken: bool) -> None:
        self.broken = broken

    def start(self) -> None:
        self.model = ToyModel(broken=self.broken)

    def new_session(self) -> int:
        self.model.session()
        return len(self.model.sessions) - 1

    def update_model(self, **kw: Any) -> None:
        self.model.update_options(**kw)

    def update_session(self, index: int, **kw: Any) -> None:
        self.model.sessions[index].update_options(**kw)

    def events(self, index: int) -> list[dict[str, Any]]:
        sent, self.model.sessions[index].sent = self.model.sessions[index].sent, []
        return sent

    def reply(self, index: int, event: dict[str, Any]) -> None: ...
    def reconnect(self, index: int) -> None: ...
    def close(self) -> None: ...

    render = staticmethod(default_render)
