"""Bad input from the server: ``decode``, ``decode_update`` and
``SessionState.on_server_event`` fuzzed with malformed JSON, missing fields,
wrong types, unknown event types and fields from newer API versions.

Malformed data is an InvalidOption (decode) or a logged, ignored event
(``on_server_event`` never raises); confirmed state is never corrupted; and
fields optstate does not know survive a decode/encode round trip in ``extra``."""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyrsistent import pvector
from tests.fuzz_data import (
    DICT_FIELDS,
    KNOWN_NAMES,
    RECORDS,
    SECRET,
    check_error,
    garbage,
    keys,
    leaf_and_node_paths,
)

import optstate
from optstate import InvalidOption, Patch, SessionState, Store
from optstate._record import specs
from optstate._unknown import reading
from optstate.openai import (
    Audio,
    AudioInput,
    AudioOutput,
    AudioPCM,
    AudioPCMA,
    AudioPCMU,
    FunctionTool,
    McpTool,
    NoiseReduction,
    Prompt,
    RealtimeOptions,
    Reasoning,
    RetentionRatio,
    SemanticVad,
    ServerVad,
    TokenLimits,
    ToolChoiceFunction,
    ToolChoiceMcp,
    TracingConfig,
    Transcription,
    Unknown,
    VoiceId,
    decode,
    decode_update,
    encode,
    encode_session,
)
from optstate.strategies import patches, realtime_options

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


def server_session_with(path: str, value: Any) -> dict[str, Any]:
    """The GA session a server shows for the default options, with ``value`` at
    the dotted ``path`` (GA wire names are the field names)."""
    session = encode_session(RealtimeOptions())
    *parents, last = path.split(".")
    node = session
    for name in parents:
        node = node[name]
    node[last] = value
    return session


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
            with reading():  # as a server model applies it: Unknown values are admitted
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


#: Each JSON object in a GA session that is a record, by wire path (``tools[]``
#: for every tool), and the records it can be: written out here rather than
#: taken from optstate, so that a record-valued option decode overlooked would
#: fail the tests rather than go untested.
RECORD_AT: dict[str, tuple[type, ...]] = {
    "": (RealtimeOptions,),
    "audio": (Audio,),
    "audio.input": (AudioInput,),
    "audio.output": (AudioOutput,),
    "audio.input.format": (AudioPCM, AudioPCMU, AudioPCMA),
    "audio.input.noise_reduction": (NoiseReduction,),
    "audio.input.transcription": (Transcription,),
    "audio.input.turn_detection": (ServerVad, SemanticVad),
    "audio.output.format": (AudioPCM, AudioPCMU, AudioPCMA),
    "audio.output.voice": (VoiceId,),
    "tools[]": (FunctionTool, McpTool),
    "tool_choice": (ToolChoiceFunction, ToolChoiceMcp),
    "tracing": (TracingConfig,),
    "truncation": (RetentionRatio,),
    "truncation.token_limits": (TokenLimits,),
    "reasoning": (Reasoning,),
    "prompt": (Prompt,),
}

#: The same for the objects of a beta session (the others are GA only, or strings).
BETA_RECORD_AT: dict[str, tuple[type, ...]] = {
    "turn_detection": (ServerVad, SemanticVad),
    "input_audio_transcription": (Transcription,),
    "input_audio_noise_reduction": (NoiseReduction,),
    "tools[]": (FunctionTool,),
    "tracing": (TracingConfig,),
}


def known_keys(cls: type) -> set[str]:
    """The keys a record's JSON object may hold: wire names, its ``type`` tag."""
    out = {s.wire for s in specs(cls)} | ({"type"} if hasattr(cls, "TYPE") else set())
    return out | (SERVER_ONLY if cls is RealtimeOptions else set())


def record_objects(
    session: dict[str, Any], table: dict[str, tuple[type, ...]]
) -> list[tuple[dict[str, Any], type, tuple[type, ...]]]:
    """Every JSON object of ``session`` that is a record: the object, its record
    class, and every class that could be there (the members of its union)."""
    found: list[tuple[dict[str, Any], type, tuple[type, ...]]] = []

    def walk(obj: Any, path: str) -> None:
        if not isinstance(obj, dict):
            return
        classes = table.get(path)
        if classes is not None:
            tag = obj.get("type")
            found.append((obj, next(c for c in classes if getattr(c, "TYPE", tag) == tag), classes))
        for key, value in obj.items():
            if path == "" and key == "tools":
                for tool in value:
                    walk(tool, "tools[]")
            else:
                walk(value, f"{path}.{key}" if path else key)

    walk(session, "")
    return found


@st.composite
def with_unknown_keys(
    draw: st.DrawFn, session: dict[str, Any], table: dict[str, tuple[type, ...]] = RECORD_AT
) -> dict[str, Any]:
    """``session`` (a copy) with fields no record there knows added to some of
    its records: new names, and names other records know, most often the other
    members of its union (``idle_timeout_ms`` in a ``semantic_vad``,
    ``server_url`` in a function tool): the ones that must not come back over
    a field when the option changes to that member."""
    session = copy.deepcopy(session)
    places = record_objects(session, table)
    chosen = draw(st.lists(st.sampled_from(range(len(places))), unique=True, min_size=1, max_size=4))
    for i in chosen:
        obj, cls, classes = places[i]
        taken = known_keys(cls) | set(obj)
        siblings = sorted(set().union(*(known_keys(c) for c in classes)) - taken)
        names = (unknown_names | st.sampled_from(KNOWN_NAMES)).filter(lambda n, t=taken: n not in t)  # type: ignore[misc]
        if siblings:
            names = st.sampled_from(siblings) | names
        obj.update(draw(st.dictionaries(names, json_values, min_size=1, max_size=2)))
    return session


#: A value of each record a record-valued option can hold, its optional fields
#: unset (``None``, left out of its JSON): what a kept key must never fill in.
OTHER_MEMBERS: list[tuple[str, Any]] = [
    ("audio.input.turn_detection", ServerVad()),
    ("audio.input.turn_detection", SemanticVad()),
    ("audio.input.noise_reduction", NoiseReduction()),
    ("audio.input.transcription", Transcription()),
    *(
        (f"audio.{side}.format", f())
        for side in ("input", "output")
        for f in (AudioPCM, AudioPCMU, AudioPCMA)
    ),
    ("audio.output.voice", VoiceId(id="v")),
    ("tools", [FunctionTool(name="f")] * 3),
    ("tools", [McpTool(server_label="m")] * 3),
    ("tool_choice", ToolChoiceFunction(name="f")),
    ("tool_choice", ToolChoiceMcp(server_label="m")),
    ("tracing", TracingConfig()),
    ("truncation", RetentionRatio(retention_ratio=0.5)),
    ("truncation", RetentionRatio(retention_ratio=0.5, token_limits=TokenLimits())),
    ("reasoning", Reasoning()),
    ("prompt", Prompt(id="p")),
]


class TestUnknownFieldsInRecords:
    """Unknown keys inside record-valued options (``turn_detection``, ``tools``, …)."""

    def test_the_table_names_every_record(self) -> None:
        """RECORD_AT covers every record class (else the property tests miss some)."""
        assert {c for classes in RECORD_AT.values() for c in classes} == set(RECORDS)

    @FUZZ
    @given(data=st.data(), state=realtime_options())
    def test_ga_round_trip_keeps_them_in_place(self, data: st.DataObject, state: RealtimeOptions) -> None:
        """Unknown keys at random records of a session: decode gives the state and
        keeps them; encode_session gives the session back, each key in its place."""
        session = data.draw(with_unknown_keys(encode_session(state)))
        original = copy.deepcopy(session)
        decoded = decode({"id": "sess_1", "object": "realtime.session", **session})
        assert decoded == state
        assert session == original  # decode did not touch its input
        assert encode_session(decoded) == original
        assert decoded.extra  # every draw added something
        assert optstate.diff(state, decoded) == Patch()

    @FUZZ
    @given(data=st.data(), state=realtime_options(dialect="beta"))
    def test_beta_round_trip_keeps_them_in_place(self, data: st.DataObject, state: RealtimeOptions) -> None:
        """The same for a beta session's objects (turn_detection, transcription, …)."""
        session = encode_session(state, "beta")
        if not record_objects(session, BETA_RECORD_AT):
            return
        session = data.draw(with_unknown_keys(session, BETA_RECORD_AT))
        decoded = decode(session, "beta")
        assert decoded == state
        assert encode_session(decoded, "beta") == session

    @FUZZ
    @given(
        data=st.data(),
        state=realtime_options(),
        change=patches() | realtime_options().map(optstate.full_patch),
    )
    def test_kept_keys_never_shadow_an_option(
        self, data: st.DataObject, state: RealtimeOptions, change: Patch
    ) -> None:
        """After writes, what encode_session shows still decodes to the state (a
        kept key never overwrites or stands for an option, whatever record the
        option now holds), and extra is never sent: the update for a change is
        the same with or without it."""
        decoded = decode(data.draw(with_unknown_keys(encode_session(state))))
        for path, value in [*OTHER_MEMBERS, *((p, v) for p, v in change.paths().items())]:
            changed = optstate.set(decoded, path, value)
            assert changed.extra == decoded.extra
            assert decode(encode_session(changed)) == changed, path
        changed = optstate.apply(decoded, change)
        assert decode(encode_session(changed)) == changed
        assert encode(optstate.diff(decoded, changed)) == encode(optstate.diff(state, changed))
        assert optstate.full_patch(changed) == optstate.full_patch(optstate.apply(state, change))

    @pytest.mark.parametrize(
        ("path", "value"),
        [
            ("audio.input.turn_detection", {"type": "server_vad", "threshold": 0.7}),
            ("audio.input.turn_detection", {"type": "semantic_vad", "eagerness": "high"}),
            ("audio.input.noise_reduction", {"type": "far_field"}),
            ("audio.input.transcription", {"model": "whisper-1", "language": "en"}),
            ("audio.input.format", {"type": "audio/pcm", "rate": 24000}),
            ("audio.output.format", {"type": "audio/pcmu"}),
            ("audio.output.voice", {"id": "v1"}),
            ("tool_choice", {"type": "function", "name": "f"}),
            ("tool_choice", {"type": "mcp", "server_label": "s"}),
            ("tracing", {"workflow_name": "w"}),
            ("truncation", {"type": "retention_ratio", "retention_ratio": 0.5}),
            ("reasoning", {"effort": "low"}),
            ("prompt", {"id": "p", "version": "2"}),
        ],
    )
    def test_each_record_valued_option(self, path: str, value: dict[str, Any]) -> None:
        """An unknown key in each record-valued option: the option decodes, the key
        is kept at its wire path and encode_session puts it back in place."""
        expected = optstate.set(RealtimeOptions(), path, value)
        session = encode_session(expected)
        node = session
        for name in path.split("."):
            node = node[name]
        node["x_new"] = {"a": [1]}
        decoded = decode(session)
        assert decoded == expected
        assert decoded.extra == nest(path, {"x_new": {"a": [1]}})
        assert encode_session(decoded) == session

    def test_nested_record_and_tools(self) -> None:
        """Inside a record inside an option (truncation.token_limits), and per tool."""
        session = {
            "truncation": {
                "type": "retention_ratio",
                "retention_ratio": 0.5,
                "token_limits": {"post_instructions": 10, "x_new": 1},
            },
            "tools": [
                {"type": "function", "name": "f"},
                {"type": "mcp", "server_label": "m", "x_new": 2},
                {"type": "function", "name": "g"},
            ],
        }
        decoded = decode(session)
        assert decoded.truncation == RetentionRatio(
            retention_ratio=0.5, token_limits={"post_instructions": 10}
        )
        assert decoded.tools == [FunctionTool(name="f"), McpTool(server_label="m"), FunctionTool(name="g")]
        assert decoded.extra == {"truncation": {"token_limits": {"x_new": 1}}, "tools": [{}, {"x_new": 2}]}
        shown = encode_session(decoded)
        assert shown["truncation"]["token_limits"] == {"post_instructions": 10, "x_new": 1}
        assert shown["tools"] == [
            {"type": "function", "name": "f"},
            {"type": "mcp", "server_label": "m", "x_new": 2},
            {"type": "function", "name": "g"},
        ]
        fewer = optstate.set(decoded, "tools", [FunctionTool(name="f")])
        assert encode_session(fewer)["tools"] == [{"type": "function", "name": "f"}]  # index 1 is gone

    @pytest.mark.parametrize(
        ("path", "value", "shown"),
        [
            ("audio.input.turn_detection", None, None),
            ("audio.input.noise_reduction", None, None),
            ("tracing", "auto", "auto"),
            ("truncation", "disabled", "disabled"),
        ],
    )
    def test_nothing_to_put_them_in(self, path: str, value: Any, shown: Any) -> None:
        """The option was changed to null or a string mode: the kept keys are left out."""
        start = {
            "audio.input.turn_detection": {"type": "server_vad"},
            "audio.input.noise_reduction": {"type": "near_field"},
            "tracing": {"workflow_name": "w"},
            "truncation": {"type": "retention_ratio", "retention_ratio": 0.5},
        }
        state = optstate.apply(RealtimeOptions(), optstate.patch(RealtimeOptions, start))
        session = encode_session(state)
        node = session
        for name in path.split("."):
            node = node[name]
        node["x_new"] = 1
        decoded = decode(session)
        changed = optstate.set(decoded, path, value)
        assert changed.extra == decoded.extra  # kept, in case the option comes back
        node = encode_session(changed)
        for name in path.split("."):
            node = node[name]
        assert node == shown
        assert encode_session(optstate.set(changed, path, start[path])) == session

    def test_another_member_of_the_union(self) -> None:
        """A key kept from one member goes back under another only if that one does
        not know it: never over, or in place of, one of its own fields."""
        session = encode_session(RealtimeOptions())
        session["audio"]["input"]["turn_detection"].update({"eagerness": "high", "x_new": 1})
        decoded = decode(session)
        assert decoded.audio.input.turn_detection == ServerVad()
        assert decoded.extra == {"audio": {"input": {"turn_detection": {"eagerness": "high", "x_new": 1}}}}
        semantic = optstate.set(decoded, "audio.input.turn_detection", SemanticVad(eagerness="low"))
        shown = encode_session(semantic)["audio"]["input"]["turn_detection"]
        assert shown == {**optstate.openai.to_json(SemanticVad(eagerness="low")), "x_new": 1}
        session = encode_session(optstate.set(RealtimeOptions(), "audio.input.turn_detection", SemanticVad()))
        session["audio"]["input"]["turn_detection"]["idle_timeout_ms"] = 100
        decoded = decode(session)
        assert decoded.extra == {"audio": {"input": {"turn_detection": {"idle_timeout_ms": 100}}}}
        server = optstate.set(decoded, "audio.input.turn_detection", ServerVad())  # idle_timeout_ms None
        assert "idle_timeout_ms" not in encode_session(server)["audio"]["input"]["turn_detection"]
        assert decode(encode_session(server)) == server

    @pytest.mark.parametrize(
        ("session", "path"),
        [
            (
                {"audio": {"input": {"noise_reduction": {"x_new": float("nan")}}}},
                "audio.input.noise_reduction.x_new",
            ),
            ({"audio": {"input": {"transcription": {1: "a"}}}}, "audio.input.transcription.1"),
            ({"tools": [{"type": "function", "name": "f", "x_new": math.inf}]}, "tools[0].x_new"),
            ({"tracing": {"metadata": float("nan"), "x_new": 1}}, "tracing.metadata"),
            ({"tools": [{"type": "web_search", "x": [math.inf]}]}, "tools[0].x[0]"),
            ({"audio": {"input": 3}}, "audio.input"),
        ],
    )
    def test_malformed_values_still_raise(self, session: dict[Any, Any], path: str) -> None:
        """Data that is not JSON (a non-finite number, a key that is no string), or
        a group of options that is no object: InvalidOption naming the wire path."""
        with pytest.raises(InvalidOption) as info:
            decode(session)
        check_error(info.value)
        assert info.value.path == path

    @pytest.mark.parametrize(
        ("path", "value"),
        [
            ("audio.input.turn_detection", {"type": "new_vad", "x_new": 1}),
            ("audio.input.turn_detection", {"threshold": 0.5}),
            ("audio.input.turn_detection", {"type": "server_vad", "threshold": "x", "x_new": 1}),
            ("tool_choice", {"type": "function", "name": 3, "x_new": 1}),
            ("tools", [{"type": "mcp", "x_new": 1}]),  # no server_label
        ],
    )
    def test_values_it_cannot_model_are_kept_whole(self, path: str, value: Any) -> None:
        """An unknown type tag, a missing tag, a known field of a wrong type: the
        whole option (or the one tool) is kept as an Unknown, unknown keys and all."""
        session = server_session_with(path, value)
        state = decode(session)
        kept = optstate.get(state, path)
        assert kept == (pvector([Unknown(value[0])]) if path == "tools" else Unknown(value))
        assert state.extra == {}
        assert encode_session(state) == session

    def test_updates_stay_strict(self) -> None:
        """decode_update (a client's session.update) refuses unknown keys inside options."""
        td = {"type": "server_vad", "x_new": 1}
        with pytest.raises(
            InvalidOption, match=r"audio\.input\.turn_detection\.x_new is not a field of ServerVad"
        ):
            decode_update({"type": "realtime", "audio": {"input": {"turn_detection": td}}})
        with pytest.raises(InvalidOption, match=r"tools\[0\]\.x_new is not a field of FunctionTool"):
            decode_update({"type": "realtime", "tools": [{"type": "function", "name": "f", "x_new": 1}]})
        with pytest.raises(InvalidOption, match=r"turn_detection\.x_new is not a field of ServerVad"):
            decode_update({"turn_detection": td}, "beta")

    def test_extra_takes_the_nested_shape_and_refuses_known_fields(self) -> None:
        """extra holds unknown keys below record-valued options, never a known one."""
        kept = {
            "audio": {"input": {"turn_detection": {"x_new": 1}, "format": {"x_new": 2}}},
            "tools": [{}, {"x_new": 3}],
            "truncation": {"token_limits": {"x_new": 4}},
        }
        assert RealtimeOptions(extra=kept).extra == kept
        # Known to one member of a union only: a server may send it for another.
        RealtimeOptions(extra={"audio": {"input": {"turn_detection": {"eagerness": "high"}}}})
        for extra, where in [
            (
                {"audio": {"input": {"turn_detection": {"type": "x"}}}},
                r"extra\.audio\.input\.turn_detection\.type",
            ),
            (
                {"audio": {"input": {"turn_detection": {"create_response": True}}}},
                r"turn_detection\.create_response",
            ),
            ({"audio": {"input": {"noise_reduction": {"strength": 1}}}}, r"noise_reduction\.strength"),
            ({"tracing": {"group_id": "g"}}, r"extra\.tracing\.group_id"),
            ({"tools": [{"type": "function"}]}, r"extra\.tools\[0\]\.type"),
            ({"truncation": {"token_limits": {"post_instructions": 1}}}, r"token_limits\.post_instructions"),
            ({"tools": {"x_new": 1}}, r"extra\.tools"),
            ({"audio": {"input": {"turn_detection": 1}}}, r"extra\.audio\.input\.turn_detection"),
        ]:
            with pytest.raises(InvalidOption, match=where + " is known to optstate"):
                RealtimeOptions(extra=extra)
        with pytest.raises(InvalidOption, match=r"extra\.tools\[0\] must be an object"):
            RealtimeOptions(extra={"tools": [1]})
        with pytest.raises(InvalidOption, match=r"extra\.tracing\.x_new must be JSON"):
            RealtimeOptions(extra={"tracing": {"x_new": float("nan")}})

    def test_through_the_store(self) -> None:
        """session.created and an unsolicited session.updated with unknown keys inside
        options: confirmed advances and keeps them; nothing is sent for them."""
        store = Store(RealtimeOptions())
        s = store.session()
        created = encode_session(RealtimeOptions())
        created["audio"]["input"]["turn_detection"]["x_new"] = 1
        s.on_server_event({"type": "session.created", "session": created})
        assert s.confirmed == RealtimeOptions()
        assert s.confirmed.extra == {"audio": {"input": {"turn_detection": {"x_new": 1}}}}
        assert s.sync() is None
        # Someone else changed the server: believe it, keep what it shows.
        updated = encode_session(optstate.set(RealtimeOptions(), "instructions", "hi"))
        updated["audio"]["input"]["turn_detection"]["x_new"] = 2
        updated["tools"] = [{"type": "function", "name": "f", "x_new": 3}]
        s.on_server_event({"type": "session.updated", "session": updated})
        assert s.confirmed.instructions == "hi"
        assert s.confirmed.tools == [FunctionTool(name="f")]
        assert s.confirmed.extra == {
            "audio": {"input": {"turn_detection": {"x_new": 2}}},
            "tools": [{"x_new": 3}],
        }
        assert encode_session(s.confirmed) == updated
        store.write({"audio.input.turn_detection": {"type": "server_vad", "threshold": 0.7}})
        event = s.sync()
        assert event is not None
        assert "x_new" not in event["session"]["audio"]["input"]["turn_detection"]
        # The server's answer to that update shows a key of its own: confirmed keeps it.
        answer = encode_session(s.desired)
        answer["audio"]["input"]["turn_detection"]["x_newer"] = 4
        s.on_server_event({"type": "session.updated", "session": answer})
        assert s.in_flight == ()
        assert s.confirmed == s.desired
        assert s.confirmed.extra["audio"] == {"input": {"turn_detection": {"x_newer": 4}}}
        assert encode_session(s.confirmed) == answer


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
            {"type": "session.created", "session": {"audio": {"output": "fast"}}},
            {"type": "session.created", "session": {"tools": [{"type": "mcp", "x": math.nan}]}},
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


# -- values of a newer server ------------------------------------------------------------

new_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=6).map(lambda s: "x_" + s)
_formats = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("audio/pcm"), "rate": st.sampled_from([8000, 16000, 44100, 48000])}
    ),
    new_names.map(lambda n: {"type": "audio/" + n}),
)
_tagged = new_names.flatmap(
    lambda n: st.fixed_dictionaries({"type": st.just(n)}, optional={"knob": json_values})
)
#: Where a newer server may hold a value optstate does not model, and such values.
NEWER_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "audio.input.format": _formats,
    "audio.output.format": _formats,
    "audio.input.turn_detection": _tagged | st.just({"type": "semantic_vad_v2", "eagerness": "auto"}),
    "audio.input.noise_reduction": new_names.map(lambda n: {"type": n}),
    "audio.input.transcription": new_names.map(lambda n: {"model": "whisper-1", "delay": n}),
    "output_modalities": new_names.map(lambda n: [n]) | st.just(["audio", "text"]),
    "tool_choice": new_names | _tagged,
    "truncation": new_names | _tagged,
    "tracing": new_names,
    "reasoning": new_names.map(lambda n: {"effort": n}),
    "include": new_names.map(lambda n: [n]),
    "max_output_tokens": st.integers(4097, 10**6),
    "audio.output.speed": st.floats(1.51, 4.0),
}


@st.composite
def newer_sessions(draw: st.DrawFn) -> tuple[RealtimeOptions, dict[str, Any], dict[str, Any]]:
    """A known state, its session as a newer server shows it (unknown values
    injected at random leaves, unknown tools at random places in ``tools``), and
    what was injected: ``{path: raw}`` (``tools[i]`` for a tool)."""
    state = draw(realtime_options())
    session = encode_session(state)
    paths = draw(st.lists(st.sampled_from(sorted(NEWER_VALUES)), unique=True, max_size=4))
    injected: dict[str, Any] = {}
    for path in paths:
        raw = draw(NEWER_VALUES[path])
        *parents, last = path.split(".")
        node = session
        for name in parents:
            node = node[name]
        node[last] = raw
        injected[path] = raw
    tools = list(session.get("tools", []))
    for _ in range(draw(st.integers(0, 2))):
        tool = draw(_tagged)
        tools.insert(draw(st.integers(0, len(tools))), tool)
    for i, tool in enumerate(tools):
        if not any(tool is t for t in session.get("tools", [])):
            injected[f"tools[{i}]"] = tool
    session["tools"] = tools
    return state, session, injected


class TestNewerServer:
    @settings(FUZZ, max_examples=100)
    @given(newer=newer_sessions())
    def test_decode_keeps_what_it_cannot_model(
        self, newer: tuple[RealtimeOptions, dict[str, Any], dict[str, Any]]
    ) -> None:
        """A newer server's session: decode never raises, every injected value is an
        Unknown at its leaf (a tool at its index), every other leaf is exactly as
        it was, and encode_session gives the session back as the server sent it."""
        state, session, injected = newer
        decoded = decode(session)
        for path, raw in injected.items():
            if path.startswith("tools["):
                assert decoded.tools[int(path[6:-1])] == Unknown(raw)
            else:
                assert optstate.get(decoded, path) == Unknown(raw)
        known = [t for t in decoded.tools if type(t) is not Unknown]
        assert known == list(state.tools)
        for path, value in optstate.full_patch(state).paths().items():
            if path not in injected and path != "tools":
                assert optstate.get(decoded, path) == value, path
        assert decoded.extra == {}
        assert encode_session(decoded) == session
        update = decode_update(session)  # the same values in a session.update
        for path, raw in injected.items():
            if not path.startswith("tools["):
                assert update.paths()[path] == Unknown(raw)
        assert not optstate.diff(decoded, decode(session))  # equal by content, not identity
        with reading():
            assert optstate.apply(state, optstate.diff(state, decoded)) == decoded
        # The application writes other fields of a state that holds Unknowns:
        # they are carried along untouched (validated when the server reported them).
        voice = "cedar" if decoded.audio.output.voice == "marin" else "marin"
        written = optstate.set(decoded, "audio.output.voice", voice)
        assert optstate.diff(decoded, written).paths() == {"audio.output.voice": voice}

    @pytest.mark.parametrize(
        ("path", "raw"),
        [
            ("audio.input.format", {"type": "audio/pcm", "rate": 16000}),
            ("audio.output.format", {"type": "audio/opus"}),
            ("audio.input.turn_detection", {"type": "semantic_vad_v2", "eagerness": "high"}),
            ("audio.input.noise_reduction", {"type": "far_field_v2"}),
            ("tool_choice", "any"),
            ("tool_choice", {"type": "web_search"}),
            ("output_modalities", ["video"]),
            ("include", ["item.output_audio.logprobs"]),
        ],
    )
    def test_each_kind_of_new_value(self, path: str, raw: Any) -> None:
        """A new rate, format, turn detection or noise reduction type, tool_choice
        mode, modality or include value: kept as an Unknown at its leaf, nothing
        else changes, and it goes back as it came."""
        session = server_session_with(path, raw)
        decoded = decode(session)
        assert optstate.get(decoded, path) == Unknown(raw)
        assert optstate.diff(RealtimeOptions(), decoded).paths() == {path: Unknown(raw)}
        assert encode_session(decoded) == session
        hash(decoded)

    def test_a_new_tool_type_is_one_element(self) -> None:
        """A web_search tool among function tools: that one element is an Unknown,
        the others stay records, and its keys stay with it (not in extra)."""
        web = {"type": "web_search", "search_context_size": "low"}
        session = server_session_with(
            "tools",
            [{"type": "function", "name": "f", "x_new": 1}, web, {"type": "mcp", "server_label": "s"}],
        )
        decoded = decode(session)
        assert list(decoded.tools) == [FunctionTool(name="f"), Unknown(web), McpTool(server_label="s")]
        assert decoded.extra == {"tools": [{"x_new": 1}]}
        assert encode_session(decoded) == session

    def test_the_beta_dialect(self) -> None:
        """In the flat dialect too: a new format or tool is kept in the flat shape."""
        session = encode_session(RealtimeOptions(), "beta")
        session["input_audio_format"] = "opus"
        session["tools"] = [{"type": "web_search"}]
        session["turn_detection"] = {"type": "semantic_vad_v2"}
        decoded = decode(session, "beta")
        assert decoded.audio.input.format == Unknown("opus")
        assert list(decoded.tools) == [Unknown({"type": "web_search"})]
        assert decoded.audio.input.turn_detection == Unknown({"type": "semantic_vad_v2"})
        assert encode_session(decoded, "beta") == session
        with pytest.raises(InvalidOption, match=r"audio\.input\.format is a value the server reported"):
            encode(optstate.full_patch(decoded), "beta")

    def test_application_writes_stay_strict(self) -> None:
        """What the application writes is validated as before, and an Unknown it
        passes (even one the server reported) is refused, naming the path."""
        rate = {"type": "audio/pcm", "rate": 16000}
        with pytest.raises(InvalidOption, match="rate must be one of 24000"):
            RealtimeOptions(audio=Audio(input=AudioInput(format=rate)))  # type: ignore[arg-type]
        with pytest.raises(InvalidOption, match=r"audio\.input\.format\.rate must be one of 24000"):
            optstate.patch(RealtimeOptions, {"audio.input.format": rate})
        with pytest.raises(InvalidOption, match=r"tools\[0\]\.type must be one of"):
            optstate.patch(RealtimeOptions, {"tools": [{"type": "web_search"}]})
        with pytest.raises(InvalidOption, match="tool_choice must be 'auto'"):
            optstate.set(RealtimeOptions(), "tool_choice", "any")
        decoded = decode(server_session_with("audio.input.format", rate))
        unknown = decoded.audio.input.format
        writes = [
            lambda: AudioInput(format=unknown),  # type: ignore[arg-type]
            lambda: optstate.patch(RealtimeOptions, {"audio.input.format": unknown}),
            lambda: optstate.set(RealtimeOptions(), "audio.input.format", unknown),
            lambda: optstate.set(RealtimeOptions(), "tools", [Unknown({"type": "web_search"})]),
            lambda: Store(RealtimeOptions()).write(
                Patch({"audio": Patch({"input": Patch({"format": unknown})})})
            ),
            lambda: Store(RealtimeOptions()).update(lambda _: decoded),
            lambda: optstate.apply(RealtimeOptions(), optstate.diff(RealtimeOptions(), decoded)),
        ]
        for write in writes:
            with pytest.raises(
                InvalidOption, match="is a value the server reported that optstate does not model"
            ) as info:
                write()
            check_error(info.value)
            assert info.value.path.startswith(("audio.input.format", "format", "tools[0]")), info.value.path

    def test_never_sent_unless_written(self) -> None:
        """encode refuses an Unknown; a session holding one sends nothing for it,
        and an application write of that field replaces it with a modelled value."""
        session = server_session_with("audio.input.format", {"type": "audio/opus"})
        session["tools"] = [{"type": "web_search"}]
        decoded = decode(session)
        with pytest.raises(InvalidOption, match=r"^audio\.input\.format is a value the server reported"):
            encode(optstate.diff(RealtimeOptions(), decoded))
        with pytest.raises(InvalidOption, match=r"^tools\[0\] is a value the server reported"):
            encode(Patch({"tools": decoded.tools}))
        store = Store(RealtimeOptions())
        s = store.session()
        s.on_server_event({"type": "session.created", "session": session})
        assert s.confirmed == decoded
        # Not written: the server's, Unknown and all, and nothing is sent for it.
        store.write({"instructions": "be brief"})
        assert s.desired.audio.input.format == Unknown({"type": "audio/opus"})
        assert list(s.desired.tools) == [Unknown({"type": "web_search"})]
        event = s.sync()
        assert event is not None
        assert event["session"] == {"type": "realtime", "instructions": "be brief"}
        store.write({"audio.input.format": AudioPCMU()})
        event = s.sync()
        assert event is not None
        assert event["session"]["audio"]["input"]["format"] == {"type": "audio/pcmu"}
        assert "opus" not in json.dumps(event)
        assert "web_search" not in json.dumps(event)

    def test_repr_hides_secrets_and_values_compare_by_content(self) -> None:
        """Unknown: equal and hashed by its JSON (1 is not True), frozen, secrets hidden."""
        tool = {"type": "x_tool", "headers": {"Authorization": SECRET}, "api_key": SECRET, "n": 1}
        u = Unknown(tool)
        assert SECRET not in repr(u)
        assert u == Unknown(dict(reversed(list(tool.items()))))
        assert hash(u) == hash(Unknown(dict(tool)))
        assert Unknown(1) != Unknown(True)
        assert Unknown(1) != Unknown(1.0)
        assert u.to_json() == tool
        with pytest.raises(AttributeError):
            u.json = 1  # type: ignore[misc]
        with pytest.raises(InvalidOption):
            Unknown(float("nan"))
        import pickle

        assert pickle.loads(pickle.dumps(u)) == u
