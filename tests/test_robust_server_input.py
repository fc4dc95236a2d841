"""Bad input from the server: ``decode``, ``decode_update`` and
``SessionState.on_server_event`` fuzzed with malformed JSON, missing fields,
wrong types, unknown event types and fields from newer API versions.

Malformed data is an InvalidOption (decode) or a logged, ignored event
(``on_server_event`` never raises); confirmed state is never corrupted; and
fields optstate does not know survive a decode/encode round trip in ``extra``."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.robust_data import DICT_FIELDS, check_error, garbage, keys, leaf_and_node_paths

import optstate
from optstate import InvalidOption, Patch, SessionState, Store
from optstate.openai import RealtimeOptions, decode, decode_update, encode_session
from optstate.strategies import realtime_options

FUZZ = settings(
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # caplog: cleared for every example
    ],
    deadline=None,
)
DIALECTS = ["ga", "beta"]
SERVER_ONLY = {"id", "object", "expires_at", "client_secret", "type", "temperature"}

# -- data ---------------------------------------------------------------------------

unknown_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).map(
    lambda s: "x_" + s
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
unknown_fields = st.dictionaries(unknown_names, json_values, min_size=1, max_size=3)


@st.composite
def mutated(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """``value`` (JSON) with a few random changes: keys dropped, values replaced
    by garbage, unknown keys added, here or anywhere below."""
    if isinstance(value, dict):
        out = dict(value)
        for key in list(out):
            roll = draw(st.integers(0, 9))
            if roll == 0:
                del out[key]
            elif roll == 1:
                out[key] = draw(garbage)
            elif roll < 4 and depth < 4:
                out[key] = draw(mutated(out[key], depth + 1))
        if draw(st.integers(0, 4)) == 0:
            out[draw(keys)] = draw(garbage)
        return out
    if isinstance(value, list) and value and draw(st.booleans()):
        i = draw(st.integers(0, len(value) - 1))
        return [*value[:i], draw(mutated(value[i], depth + 1)), *value[i + 1 :]]
    return draw(garbage) if draw(st.integers(0, 3)) == 0 else value


@st.composite
def server_sessions(draw: st.DrawFn, dialect: str = "ga") -> Any:
    """A session object as a server might send it: a valid one, mutated, or garbage."""
    state = draw(realtime_options(dialect=dialect))  # type: ignore[arg-type]
    valid = {"id": "sess_1", "object": "realtime.session", **encode_session(state, dialect)}  # type: ignore[arg-type]
    return draw(st.just(valid) | mutated(valid) | garbage)


def nest(path: str, value: Any) -> dict[str, Any]:
    """``{"a": {"b": value}}`` for ``"a.b"`` (GA wire names are the field names)."""
    for name in reversed(path.split(".")):
        value = {name: value}
    return value  # type: ignore[no-any-return]


# -- decode ---------------------------------------------------------------------------


class TestDecode:
    @FUZZ
    @given(data=st.data(), dialect=st.sampled_from(DIALECTS))
    def test_decode_gives_a_state_or_invalid_option(self, data: st.DataObject, dialect: str) -> None:
        """decode(malformed session): InvalidOption naming a wire path, never another error."""
        session = data.draw(server_sessions(dialect))
        try:
            state = decode(session, dialect)  # type: ignore[arg-type]
        except Exception as e:
            check_error(e)
        else:
            assert isinstance(state, RealtimeOptions)
            hash(state)

    @FUZZ
    @given(data=st.data(), dialect=st.sampled_from(DIALECTS))
    def test_decode_update_gives_a_patch_or_invalid_option(self, data: st.DataObject, dialect: str) -> None:
        """decode_update(malformed session.update): a valid Patch or InvalidOption."""
        session = data.draw(server_sessions(dialect))
        try:
            p = decode_update(session, dialect)  # type: ignore[arg-type]
        except Exception as e:
            check_error(e)
        else:
            assert isinstance(p, Patch)
            optstate.apply(RealtimeOptions(), p)  # validated: it applies

    @pytest.mark.parametrize(
        ("path", "field", "wrap"), DICT_FIELDS, ids=[f"{p}.{f}" for p, f, _ in DICT_FIELDS]
    )
    @settings(FUZZ, max_examples=20)
    @given(value=garbage)
    def test_every_wire_field_takes_garbage(self, path: str, field: str, wrap: Any, value: Any) -> None:
        """Each field of each JSON object in a server's session, garbage: InvalidOption naming it."""
        session = nest(path, wrap({field: value}))
        for decoder in (decode, decode_update):
            try:
                decoder(session)
            except Exception as e:
                check_error(e, roots=[path])

    @pytest.mark.parametrize("path", leaf_and_node_paths())
    @settings(FUZZ, max_examples=20)
    @given(value=garbage, dialect=st.sampled_from(DIALECTS))
    def test_every_session_field_takes_garbage(self, path: str, value: Any, dialect: str) -> None:
        """Each option in a server's session (its GA place), garbage: InvalidOption naming it."""
        session = nest(path, value)
        for decoder in (decode, decode_update):
            try:
                decoder(session, dialect)  # type: ignore[operator]
            except Exception as e:
                check_error(e)

    @pytest.mark.parametrize("depth", [100, 900])
    def test_deeply_nested_server_json(self, depth: int) -> None:
        """JSON nested deeper than optstate takes: InvalidOption, never RecursionError."""
        deep: Any = 1
        for _ in range(depth):
            deep = {"a": deep}
        session = {"tools": [{"type": "function", "name": "f", "parameters": deep}], "x_new": deep}
        for decoder in (decode, decode_update):
            with pytest.raises(InvalidOption) as info:
                decoder(session)
            check_error(info.value)


class TestUnknownFields:
    @FUZZ
    @given(
        state=realtime_options(),
        top=unknown_fields,
        nested=st.fixed_dictionaries(
            {},
            optional={"audio": unknown_fields, "audio.input": unknown_fields, "audio.output": unknown_fields},
        ),
    )
    def test_ga_round_trip_keeps_unknown_fields(
        self, state: RealtimeOptions, top: dict[str, Any], nested: dict[str, Any]
    ) -> None:
        """decode(session with fields of a newer API) then encode_session gives them back."""
        session = encode_session(state)
        session.update(top)
        for where, fields in nested.items():
            node = session
            for name in where.split("."):
                node = node[name]
            node.update(fields)
        original = copy.deepcopy(session)
        decoded = decode({"id": "sess_1", "object": "realtime.session", **session})
        assert decoded == state  # extra is not an option: equality ignores it
        assert encode_session(decoded) == original
        assert session == original  # decode did not touch its input
        assert optstate.diff(state, decoded) == Patch()

    @FUZZ
    @given(state=realtime_options(dialect="beta"), top=unknown_fields)
    def test_beta_round_trip_keeps_unknown_fields(self, state: RealtimeOptions, top: dict[str, Any]) -> None:
        """The same in the beta dialect (top-level fields)."""
        session = {**encode_session(state, "beta"), **top}
        decoded = decode(session, "beta")
        assert decoded == state
        assert encode_session(decoded, "beta") == session

    def test_extra_is_no_option(self) -> None:
        """extra cannot be patched, diffed or sent; it cannot shadow a known field."""
        with pytest.raises(InvalidOption, match="extra is not an option"):
            optstate.patch(RealtimeOptions, {"extra": {"x_new": 1}})
        with pytest.raises(InvalidOption, match=r"extra\.model is known to optstate"):
            RealtimeOptions(extra={"model": "x"})
        with pytest.raises(InvalidOption, match=r"extra\.audio\.output\.speed is known"):
            RealtimeOptions(extra={"audio": {"output": {"speed": 1.0}}})
        with pytest.raises(InvalidOption, match=r"extra\.x_new must be JSON"):
            RealtimeOptions(extra={"x_new": float("nan")})
        kept = RealtimeOptions(extra={"x_new": 1, "audio": {"input": {"x_knob": 2}}})
        assert optstate.full_patch(kept) == optstate.full_patch(RealtimeOptions())
        assert (
            optstate.apply(kept, optstate.patch(RealtimeOptions, {"instructions": "hi"})).extra == kept.extra
        )

    def test_unknown_fields_in_an_update_are_refused_by_name(self) -> None:
        """An incoming session.update is strict: an unknown field is an error naming it."""
        with pytest.raises(InvalidOption, match="x_new is not an option"):
            decode_update({"type": "realtime", "x_new": 1})

    def test_beta_server_sending_a_ga_field(self) -> None:
        """A beta session holding a field GA knows decodes it as that field."""
        decoded = decode({"voice": "marin", "truncation": "disabled", "x_new": [1]}, "beta")
        assert decoded.truncation == "disabled"
        assert decoded.audio.output.voice == "marin"
        assert decoded.extra == {"x_new": [1]}

    def test_session_keeps_what_the_server_reported_and_sends_nothing_for_it(self) -> None:
        """Unknown fields in session.created reach confirmed, and cause no update."""
        store = Store(RealtimeOptions())
        s = store.session()
        created = {**encode_session(RealtimeOptions()), "x_new": {"a": 1}}
        s.on_server_event({"type": "session.created", "session": created})
        assert s.confirmed is not None
        assert s.confirmed.extra == {"x_new": {"a": 1}}
        assert s.sync() is None
        store.write({"instructions": "hi"})
        event = s.sync()
        assert event is not None
        assert "x_new" not in event["session"]
        s.on_server_event({"type": "session.updated", "session": {**created, "instructions": "hi"}})
        assert s.confirmed.extra == {"x_new": {"a": 1}}
        assert s.sync() is None


# -- on_server_event ------------------------------------------------------------------

PHASES = ["fresh", "in_flight", "unconfirmed_in_flight", "settled"]


def session_in(phase: str) -> SessionState[RealtimeOptions]:
    """A session at some point of its life (see PHASES)."""
    store = Store(RealtimeOptions())
    s = store.session()
    store.write({"audio.output.speed": 1.25, "instructions": "hi"})
    if phase in ("in_flight", "settled"):
        s.on_server_event({"type": "session.created", "session": encode_session(RealtimeOptions())})
    if phase != "fresh":
        event = s.sync()
        assert event is not None
        s.write({"audio.output.voice": "marin"})
        assert s.sync() is not None
    if phase == "settled":
        for _ in range(2):
            s.on_server_event({"type": "session.updated", "session": encode_session(s.desired)})
        assert not s.in_flight
    return s


def view(s: SessionState[Any]) -> tuple[Any, ...]:
    return (s.confirmed, s.sent, s.in_flight, s.desired, s.audio_started, s.needs_reconnect)


def expected_effect(s: SessionState[Any], event: Any) -> bool:
    """Whether a well-behaved session may change on ``event``: only a
    session.created/updated that it can use, or an error naming an update in flight."""
    if not isinstance(event, Mapping):
        return False
    kind = event.get("type")
    if kind in ("session.created", "session.updated"):
        session = event.get("session")
        if not isinstance(session, Mapping):
            return False
        if kind == "session.updated" and s.in_flight and s.confirmed is not None:
            return True  # an answer: the session applies its own change
        try:
            decode(session)
        except InvalidOption:
            return False
        return True
    if kind == "error":
        error = event.get("error")
        return isinstance(error, Mapping) and any(error.get("event_id") == i for i in s.in_flight)
    return kind in ("response.output_audio.delta", "response.audio.delta")


@st.composite
def server_events(draw: st.DrawFn, in_flight: tuple[str, ...]) -> Any:
    """Server events as a broken or newer server might send them."""
    kind = draw(
        st.sampled_from(
            ["session.created", "session.updated", "error", "response.output_audio.delta", "x.future.event"]
        )
        | garbage
    )
    event: dict[Any, Any] = {"type": kind, "event_id": "event_1"}
    if kind in ("session.created", "session.updated"):
        if draw(st.integers(0, 5)):
            event["session"] = draw(server_sessions())
    elif kind == "error":
        error = {
            "type": "invalid_request_error",
            "code": draw(st.just("invalid_value") | garbage),
            "message": draw(st.just("no") | garbage),
            "param": draw(st.sampled_from([None, "session.audio.output.speed", "session.x_new"]) | garbage),
            "event_id": draw(st.sampled_from([*in_flight, "nope"]) | garbage),
        }
        event["error"] = draw(st.just(error) | mutated(error) | garbage)
    event.update(draw(st.dictionaries(keys, garbage, max_size=2)))
    return draw(st.just(event) | mutated(event) | garbage)


class TestOnServerEvent:
    @pytest.mark.parametrize("phase", PHASES)
    @settings(FUZZ, max_examples=60)
    @given(data=st.data())
    def test_never_raises_and_never_corrupts(
        self, phase: str, data: st.DataObject, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Any server event: no exception, no internal error logged, and an event
        the session cannot use leaves confirmed, sent and in-flight as they were."""
        s = session_in(phase)
        event = data.draw(server_events(s.in_flight))
        before = view(s)
        may_change = expected_effect(s, event)
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="optstate"):
            result = s.on_server_event(event)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
        if not may_change:
            assert view(s) == before
            assert result is None
        for state in (s.confirmed, s.sent, s.desired):
            assert state is None or isinstance(state, RealtimeOptions)
        s.sync()  # still usable

    @pytest.mark.parametrize(
        "event",
        [
            None,
            [],
            "session.updated",
            {"type": "session.updated"},
            {"type": "session.updated", "session": None},
            {"type": "session.updated", "session": [1]},
            {"type": "session.created", "session": {"audio": {"output": {"speed": "fast"}}}},
            {"type": "session.created", "session": {"tools": [{"type": ["mcp"]}]}},
            {"type": "error"},
            {"type": "error", "error": "boom"},
            {"type": "error", "error": {"event_id": ["unhashable"]}},
            {"type": ["unhashable"]},
            {"type": {"nested": "type"}},
            {"type": "x.future.event", "whatever": {"deep": [1, 2]}},
        ],
    )
    @pytest.mark.parametrize("phase", PHASES)
    def test_malformed_events_are_logged_and_ignored(
        self, phase: str, event: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Malformed events change nothing; the ones that claim to be session events are logged."""
        s = session_in(phase)
        before = view(s)
        with caplog.at_level(logging.DEBUG, logger="optstate"):
            assert s.on_server_event(event) is None
        assert view(s) == before
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        if isinstance(event, dict) and event.get("type") in ("session.created", "session.updated"):
            assert "ignored a malformed" in caplog.text

    @pytest.mark.parametrize("phase", ["in_flight", "unconfirmed_in_flight"])
    def test_invalid_session_updated_keeps_the_answer_order(self, phase: str) -> None:
        """A session.updated without a session is not an answer: the next real one is."""
        s = session_in(phase)
        first, second = s.in_flight
        s.on_server_event({"type": "session.updated"})
        assert s.in_flight == (first, second)
        s.on_server_event({"type": "session.updated", "session": encode_session(s.sent)})  # type: ignore[arg-type]
        assert s.in_flight == (second,)
