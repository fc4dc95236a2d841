"""Random programs against the store, checked after every step against a reference
model made of plain dicts (one {leaf path: value} per session and one for the
defaults, with the set of paths somebody wrote), with a simulated server per
session that starts from its own defaults (not optstate's) and applies what was
sent. A field nobody set must never reach the server, and reads as the server
reported it."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import optstate
from optstate import Patch, Store
from optstate.openai import RealtimeOptions, decode_update, encode_session, refusals
from optstate.openai.official import validate_event
from optstate.strategies import leaf_paths, patches

PATHS = leaf_paths(RealtimeOptions)

#: What the simulated server holds on a new connection: unlike optstate's record
#: defaults, so a client that sends fields nobody set is caught.
SERVER = optstate.apply(
    RealtimeOptions(),
    optstate.patch(
        RealtimeOptions,
        {"instructions": "The server's own instructions.", "audio.output.speed": 1.1, "tool_choice": "none"},
    ),
)


def leaves(state: RealtimeOptions) -> dict[str, Any]:
    return {p: optstate.get(state, p) for p in PATHS}


class Slot:
    """One live session and everything the test knows about it."""

    def __init__(self, session: optstate.SessionState[Any], ref: dict[str, Any]) -> None:
        self.session = session
        self.ref = ref  # the reference model of this session's set fields
        self.written: set[str] = set()  # the paths this session wrote
        self.known: RealtimeOptions | None = None  # the server's last report
        self.server = SERVER  # the simulated server
        # sent, not yet delivered; with whether audio had started when it was sent
        self.pending: list[tuple[dict[str, Any], bool]] = []
        self.created_pending = True  # session.created not yet delivered
        self.audio = False
        self.settled = False  # nothing to send, nothing pending


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = Store(RealtimeOptions())
        self.ref_defaults = leaves(RealtimeOptions())
        self.model_written: set[str] = set()
        self.slots: list[Slot] = []
        self.snapshots: list[tuple[RealtimeOptions, RealtimeOptions]] = []

    # -- helpers -----------------------------------------------------------------

    def _report(self, slot: Slot, kind: str) -> None:
        slot.known = slot.server
        slot.session.on_server_event({"type": kind, "session": encode_session(slot.server)})

    def _deliver_created(self, slot: Slot) -> None:
        if slot.created_pending:
            slot.created_pending = False
            self._report(slot, "session.created")

    def _set(self, slot: Slot) -> set[str]:
        return slot.written | self.model_written

    def _expected(self, slot: Slot) -> dict[str, Any]:
        """A session's desired state: its set fields as written, the others as the
        server last reported them (optstate's record defaults until it has)."""
        theirs = leaves(slot.known if slot.known is not None else RealtimeOptions())
        written = self._set(slot)
        return {p: slot.ref[p] if p in written else theirs[p] for p in PATHS}

    def _sent(self, slot: Slot, event: dict[str, Any]) -> None:
        validate_event(event, "ga")
        sent = decode_update(event["session"]).paths()
        assert sent.keys() <= self._set(slot), f"sent what nobody set: {sent.keys() - self._set(slot)}"
        slot.pending.append((event, slot.audio))

    def _reject(self, slot: Slot, event: dict[str, Any], change: Patch) -> None:
        """The server answers ``event`` with an error; mirror the rollback in the reference."""
        # The server holds what it has plus the updates still to come.
        held = slot.server
        for later, _ in slot.pending:
            held = optstate.apply(held, decode_update(later["session"]))
        for path, value in change.paths().items():
            if slot.ref[path] == value and optstate.get(held, path) != value:
                slot.ref[path] = optstate.get(held, path)  # rolled back
        rejection = slot.session.on_server_event(
            {"type": "error", "error": {"event_id": event["event_id"], "message": "no"}}
        )
        assert rejection is not None
        assert rejection.change == change
        slot.settled = False

    def _keep_snapshot(self, state: RealtimeOptions) -> None:
        if len(self.snapshots) < 20:
            self.snapshots.append((state, copy.deepcopy(state)))

    # -- rules ---------------------------------------------------------------------

    @precondition(lambda self: len(self.slots) < 4)
    @rule(created_now=st.booleans())
    def open_session(self, created_now: bool) -> None:
        slot = Slot(self.store.session(), dict(self.ref_defaults))
        self.slots.append(slot)
        if created_now:
            self._deliver_created(slot)

    @rule(p=patches())
    def model_write(self, p: Patch) -> None:
        before = [leaves(s.session.desired) for s in self.slots]
        self._keep_snapshot(self.store.defaults)
        result = self.store.write(p)
        named = p.paths()
        self.ref_defaults.update(named)
        for slot, old in zip(self.slots, before, strict=True):
            slot.ref.update(named)
            new = leaves(slot.session.desired)
            assert {k for k in new if new[k] != old[k]} <= set(named), "changed an unnamed field"
            if new != old or named.keys() - self._set(slot):
                slot.settled = False
        self.model_written |= named.keys()
        assert result.changed.paths().keys() <= named.keys()

    @precondition(lambda self: self.slots)
    @rule(data=st.data(), p=patches())
    def session_write(self, data: st.DataObject, p: Patch) -> None:
        slot = data.draw(st.sampled_from(self.slots))
        others = [(s, leaves(s.session.desired)) for s in self.slots if s is not slot]
        old = leaves(slot.session.desired)
        self._keep_snapshot(slot.session.desired)
        result = slot.session.write(p)
        slot.ref.update(p.paths())
        new = leaves(slot.session.desired)
        assert {k for k in new if new[k] != old[k]} <= set(p.paths()), "changed an unnamed field"
        newly = p.paths().keys() - self._set(slot)  # set for the first time: effective at any value
        assert result.effective == (new != old or bool(newly))
        slot.written |= p.paths().keys()
        for other, before in others:
            assert leaves(other.session.desired) == before, "a session write leaked"
        if new != old or newly:
            slot.settled = False

    @precondition(lambda self: self.slots)
    @rule(data=st.data())
    def sync(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(self.slots))
        event = slot.session.sync()
        if slot.settled:
            assert event is None, f"no-op produced an event: {event}"
        if event is not None:
            self._sent(slot, event)

    @precondition(lambda self: self.slots)
    @rule()
    def sync_all(self) -> None:
        """Every session at once, as an integration's model-level fan-out does
        (the work shared between sessions in the same state): each gets the event
        its own sync() would give, checked the same way."""
        events = optstate.SessionState.sync_all([slot.session for slot in self.slots])
        assert len(events) == len(self.slots)
        for slot, event in zip(self.slots, events, strict=True):
            if slot.settled:
                assert event is None, f"no-op produced an event: {event}"
            if event is not None:
                self._sent(slot, event)

    @precondition(lambda self: any(s.pending for s in self.slots))
    @rule(data=st.data(), reject=st.booleans())
    def deliver(self, data: st.DataObject, reject: bool) -> None:
        slot = data.draw(st.sampled_from([s for s in self.slots if s.pending]))
        self._deliver_created(slot)
        event, audio_when_sent = slot.pending.pop(0)
        change = decode_update(event["session"])
        refused = refusals(slot.server, change, audio_started=slot.audio)
        assert not (refused and audio_when_sent), "sent a change it knew the server refuses"
        if reject or refused:  # audio came after the update left: the server refuses it
            self._reject(slot, event, change)
        else:
            slot.server = optstate.apply(slot.server, change)
            self._report(slot, "session.updated")

    @precondition(lambda self: self.slots)
    @rule(data=st.data())
    def audio_output(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(self.slots))
        slot.audio = True
        slot.session.on_server_event({"type": "response.output_audio.delta", "delta": "AAAA"})

    @precondition(lambda self: self.slots)
    @rule(data=st.data(), created_now=st.booleans())
    def reconnect(self, data: st.DataObject, created_now: bool) -> None:
        slot = data.draw(st.sampled_from(self.slots))
        slot.session.on_reconnect()
        slot.server = SERVER
        slot.known = None
        slot.pending.clear()
        slot.audio = False
        slot.created_pending = True
        slot.settled = False
        if created_now:
            self._deliver_created(slot)

    @precondition(lambda self: self.slots)
    @rule(data=st.data())
    def settle(self, data: st.DataObject) -> None:
        """Sync and deliver until quiet; then the server holds what is desired."""
        slot = data.draw(st.sampled_from(self.slots))
        self._deliver_created(slot)  # a live connection hears from its server
        for _ in range(4):
            event = slot.session.sync()
            if event is not None:
                self._sent(slot, event)
            while slot.pending:
                self._deliver_created(slot)
                sent, _ = slot.pending.pop(0)
                change = decode_update(sent["session"])
                if refusals(slot.server, change, audio_started=slot.audio):
                    self._reject(slot, sent, change)
                    continue
                slot.server = optstate.apply(slot.server, change)
                self._report(slot, "session.updated")
            if event is None:
                break
        assert slot.session.sync() is None
        refused = {r.path for r in slot.session.needs_reconnect}
        server, desired = leaves(slot.server), leaves(slot.session.desired)
        assert {p for p in PATHS if server[p] != desired[p]} <= refused | {"model"}
        if server["model"] != desired["model"]:
            assert "model" in refused
        slot.settled = True

    @precondition(lambda self: self.slots)
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(self.slots))
        slot.session.close()
        self.slots.remove(slot)
        assert slot.session not in self.store.sessions

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def desired_matches_reference(self) -> None:
        assert leaves(self.store.defaults) == self.ref_defaults
        for slot in self.slots:
            assert leaves(slot.session.desired) == self._expected(slot)

    @invariant()
    def nobody_set_stays_the_servers(self) -> None:
        """The server still holds its own value of every field nobody set."""
        for slot in self.slots:
            server, own = leaves(slot.server), leaves(SERVER)
            changed = {p for p in PATHS if server[p] != own[p]}
            assert changed <= self._set(slot), f"the client changed {changed - self._set(slot)}"

    @invariant()
    def old_snapshots_untouched(self) -> None:
        for state, frozen in self.snapshots:
            assert state == frozen

    @invariant()
    def overrides_only_for_live_sessions(self) -> None:
        live = {s.session.id for s in self.slots}
        self.store._overrides()  # forgets collected sessions
        assert set().union(*self.store._holders.values()) <= live


StoreMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
TestStoreMachine = StoreMachine.TestCase
