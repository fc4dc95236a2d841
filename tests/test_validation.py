"""Bad input from users: every public entry point, fuzzed with garbage, either
works or raises InvalidOption naming the path and the value, and leaves the
store and every session exactly as they were (the same snapshot object)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fuzz_data import (
    DICT_FIELDS,
    HUGE,
    RECORD_FIELDS,
    RECORDS,
    check_error,
    garbage,
    garbage_patches,
    leaf_and_node_paths,
    paths,
    write_maps,
)

import optstate
from optstate import InvalidOption, Patch, Store
from optstate.openai import FunctionTool, RealtimeOptions, decode, encode_session, to_json
from optstate.openai.official import validate_event
from optstate.strategies import realtime_options

FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)


def assert_valid_state(state: Any) -> None:
    """A record that was accepted is a real value: hashable, rebuildable through
    its constructor, and (for whole options) encodable to strict JSON and back."""
    hash(state)
    repr(state)
    assert attrs.evolve(state) == state
    if isinstance(state, RealtimeOptions):
        session = encode_session(state)
        json.dumps(session, allow_nan=False)
        assert decode(session) == state
    else:
        json.dumps(to_json(state), allow_nan=False)


#: A valid value for each required field.
_SIMPLE = {"name": "f", "server_label": "s", "id": "v1", "retention_ratio": 0.5}


class TestConstructors:
    @FUZZ
    @given(cls=st.sampled_from(RECORDS), data=st.data())
    def test_garbage_keywords_give_a_valid_record_or_invalid_option(
        self, cls: type, data: st.DataObject
    ) -> None:
        """Any field may get any value: the record is valid, or InvalidOption names the field."""
        fields = attrs.fields(cls)
        names = [a.name for a in fields] or ["type"]  # AudioPCMU: no fields; "type" is no keyword
        kw = data.draw(st.dictionaries(st.sampled_from(names), garbage, max_size=4))
        missing = {a.name for a in fields if a.default is attrs.NOTHING} - set(kw)
        unknown = set(kw) - {a.name for a in fields}
        try:
            record = cls(**kw)
        except TypeError as e:
            # Only a call of the wrong shape: a keyword left out or not a field, named.
            assert missing or unknown, f"TypeError escaped: {e!r}"
            assert any(name in str(e) for name in missing | unknown)
            return
        except Exception as e:
            check_error(e, roots=kw)
            return
        assert_valid_state(record)

    @pytest.mark.parametrize(
        ("cls", "name"), RECORD_FIELDS, ids=[f"{c.__name__}.{n}" for c, n in RECORD_FIELDS]
    )
    @settings(FUZZ, max_examples=25)
    @given(value=garbage)
    def test_every_field_takes_garbage(self, cls: type, name: str, value: Any) -> None:
        """Each field of each record, alone, given garbage: valid or InvalidOption naming it."""
        required = {a.name: _SIMPLE[a.name] for a in attrs.fields(cls) if a.default is attrs.NOTHING}
        try:
            record = cls(**{**required, name: value})
        except Exception as e:
            check_error(e, roots=[name])
            return
        assert_valid_state(record)

    @given(cls=st.sampled_from(RECORDS), name=st.text(min_size=1).filter(str.isidentifier))
    def test_unknown_keyword_is_a_type_error_naming_it(self, cls: type, name: str) -> None:
        """A keyword that is no field is a wrong call: TypeError naming the keyword."""
        if name in {a.name for a in attrs.fields(cls)}:
            return
        with pytest.raises(TypeError, match=name):
            cls(**{name: 1})

    def test_huge_values_are_cut_in_messages(self) -> None:
        """A 1 MB bad value gives a short message; a 1 MB good string is accepted."""
        with pytest.raises(InvalidOption) as info:
            RealtimeOptions(max_output_tokens=HUGE)
        check_error(info.value, roots=["max_output_tokens"])
        assert RealtimeOptions(instructions=HUGE).instructions is HUGE

    @pytest.mark.parametrize("depth", [70, 900, 5000])
    def test_deep_json_is_invalid_option_not_recursion_error(self, depth: int) -> None:
        """JSON nested deeper than optstate takes is an InvalidOption, never a RecursionError."""
        deep: Any = 1
        for _ in range(depth):
            deep = [deep]
        with pytest.raises(InvalidOption) as info:
            FunctionTool(name="f", parameters={"a": deep})
        check_error(info.value, roots=["parameters"])
        with pytest.raises(InvalidOption) as info:
            RealtimeOptions(tools=[{"type": "function", "name": "f", "parameters": {"a": deep}}])
        check_error(info.value, roots=["tools"])


class TestPatchSetApply:
    @FUZZ
    @given(changes=write_maps)
    def test_patch_validates_or_names_the_path(self, changes: dict[Any, Any]) -> None:
        """optstate.patch accepts a write only if applying it cannot fail."""
        try:
            p = optstate.patch(RealtimeOptions, changes)
        except Exception as e:
            check_error(e, roots=changes)
            return
        assert_valid_state(optstate.apply(RealtimeOptions(), p))

    @pytest.mark.parametrize("path", leaf_and_node_paths())
    @settings(FUZZ, max_examples=25)
    @given(value=garbage)
    def test_every_path_takes_garbage(self, path: str, value: Any) -> None:
        """set() on each path of the options with garbage: valid, or InvalidOption naming it."""
        state = RealtimeOptions()
        try:
            new = optstate.set(state, path, value)
        except Exception as e:
            check_error(e, roots=[path])
        else:
            assert_valid_state(new)
        assert state == RealtimeOptions()

    @pytest.mark.parametrize(
        ("path", "field", "wrap"), DICT_FIELDS, ids=[f"{p}.{f}" for p, f, _ in DICT_FIELDS]
    )
    @settings(FUZZ, max_examples=25)
    @given(value=garbage)
    def test_every_field_of_a_json_value_takes_garbage(
        self, path: str, field: str, wrap: Any, value: Any
    ) -> None:
        """A record given in its JSON form with one field garbage: valid, or InvalidOption naming the path."""
        try:
            new = optstate.set(RealtimeOptions(), path, wrap({field: value}))
        except Exception as e:
            check_error(e, roots=[path])
        else:
            assert_valid_state(new)

    @FUZZ
    @given(state=realtime_options(), path=st.sampled_from(leaf_and_node_paths()) | paths, value=garbage)
    def test_set_leaves_the_state_as_it_was(self, state: RealtimeOptions, path: Any, value: Any) -> None:
        """set(state, path, garbage) returns a valid state or raises; state is untouched."""
        frozen = copy.deepcopy(state)
        try:
            new = optstate.set(state, path, value)
        except Exception as e:
            check_error(e, roots=[path])
        else:
            assert_valid_state(new)
        assert state == frozen
        assert hash(state) == hash(frozen)

    @FUZZ
    @given(state=realtime_options(), p=garbage_patches())
    def test_apply_of_an_unchecked_patch(self, state: RealtimeOptions, p: Patch) -> None:
        """apply validates a hand-built Patch as the constructors would."""
        frozen = copy.deepcopy(state)
        try:
            new = optstate.apply(state, p)
        except Exception as e:
            check_error(e, roots=list(p))
        else:
            assert_valid_state(new)
        assert state == frozen

    @pytest.mark.parametrize(
        ("call", "error"),
        [
            (lambda: optstate.diff(1, 2), TypeError),
            (lambda: optstate.diff(RealtimeOptions(), 1), TypeError),
            (lambda: optstate.apply(RealtimeOptions(), {"instructions": "x"}), TypeError),
            (lambda: optstate.apply(1, Patch({"instructions": "x"})), TypeError),
            (lambda: optstate.patch(1, {}), TypeError),
            (lambda: optstate.patch(RealtimeOptions, 1), InvalidOption),
            (lambda: optstate.patch(RealtimeOptions, ["instructions"]), InvalidOption),
            (lambda: optstate.get(RealtimeOptions(), 1), InvalidOption),
            (lambda: optstate.get(RealtimeOptions(), "audio.output.speed.x"), InvalidOption),
            (lambda: optstate.set(RealtimeOptions(), None, 1), InvalidOption),
        ],
    )
    def test_wrong_calls_raise_a_documented_error(self, call: Any, error: type[Exception]) -> None:
        """A wrong-typed call is a TypeError or an InvalidOption, never an internal crash."""
        with pytest.raises(error) as info:
            call()
        assert type(info.value) in (TypeError, InvalidOption), repr(info.value)


def populated_store() -> tuple[Store[RealtimeOptions], list[optstate.SessionState[RealtimeOptions]]]:
    """A store with defaults, two sessions with overrides, one synced and in flight."""
    store = Store(RealtimeOptions())
    store.write({"instructions": "be brief", "audio.output.speed": 1.25})
    a, b = store.session(), store.session()
    a.write({"audio.output.voice": "marin"})
    b.write({"tools": [{"type": "function", "name": "f"}]})
    a.on_server_event({"type": "session.created", "session": encode_session(RealtimeOptions())})
    a.sync()
    return store, [a, b]


def snapshot(store: Store[Any], sessions: list[Any]) -> tuple[Any, ...]:
    return (
        store._model,
        [s._own for s in sessions],
        store.version,
        [(s.desired, s.sent, s.confirmed, s.in_flight, s.needs_reconnect) for s in sessions],
    )


def assert_unchanged(before: tuple[Any, ...], store: Store[Any], sessions: list[Any]) -> None:
    now = snapshot(store, sessions)
    assert now[0] is before[0], "the store's snapshot was replaced by a failed write"
    assert now[1:] == before[1:]


def assert_store_works(store: Store[Any], sessions: list[Any]) -> None:
    """After an accepted write, every session syncs a schema-valid event."""
    for s in sessions:
        assert_valid_state(s.desired)
        event = s.sync()
        if event is not None:
            validate_event(json.loads(json.dumps(event, allow_nan=False)), "ga")


class TestStoreWrites:
    @FUZZ
    @given(change=write_maps | garbage_patches() | garbage)
    def test_model_write(self, change: Any) -> None:
        """Store.write(garbage): InvalidOption and nothing changed, or a valid write."""
        store, sessions = populated_store()
        before = snapshot(store, sessions)
        try:
            store.write(change)
        except Exception as e:
            check_error(e, roots=list(change) if isinstance(change, dict | Patch) else None)
            assert_unchanged(before, store, sessions)
            return
        assert_store_works(store, sessions)

    @FUZZ
    @given(change=write_maps | garbage_patches() | garbage, which=st.integers(0, 1))
    def test_session_write(self, change: Any, which: int) -> None:
        """SessionState.write(garbage): InvalidOption and nothing changed, or a valid write."""
        store, sessions = populated_store()
        before = snapshot(store, sessions)
        try:
            sessions[which].write(change)
        except Exception as e:
            check_error(e, roots=list(change) if isinstance(change, dict | Patch) else None)
            assert_unchanged(before, store, sessions)
            return
        assert_store_works(store, sessions)

    @FUZZ
    @given(path=st.sampled_from(leaf_and_node_paths()), value=garbage, wrong=garbage)
    def test_update_function(self, path: str, value: Any, wrong: Any) -> None:
        """Store.update(fn): what fn raises or returns wrongly changes nothing."""
        store, sessions = populated_store()
        before = snapshot(store, sessions)
        for fn in (lambda d: optstate.set(d, path, value), lambda d: wrong):
            try:
                store.update(fn)
            except Exception as e:
                check_error(e, roots=[path])
                assert_unchanged(before, store, sessions)
            else:
                assert_store_works(store, sessions)
                before = snapshot(store, sessions)

    def test_update_function_exception_propagates_unchanged(self) -> None:
        """An exception of the caller's own function reaches the caller; nothing changed."""
        store, sessions = populated_store()
        before = snapshot(store, sessions)
        with pytest.raises(ZeroDivisionError):
            store.update(lambda d: 1 / 0)  # type: ignore[arg-type,return-value]
        assert_unchanged(before, store, sessions)

    def test_caller_objects_never_enter_the_store(self) -> None:
        """Mutating the list or dict a write was given changes no session later."""
        store = Store(RealtimeOptions())
        s = store.session()
        params: dict[str, Any] = {"type": "object"}
        tools: list[Any] = [{"type": "function", "name": "f", "parameters": params}]
        s.write(Patch({"tools": tools}))  # a hand-built Patch: the raw list reaches the store
        want = s.desired.tools
        params["type"] = "string"
        tools.append({"type": "function", "name": "g"})
        store.write({"instructions": "recompute every desired state"})
        assert s.desired.tools == want
        for overrides in store._overrides().values():
            for value in overrides.values():
                hash(value)  # immutable: a caller's list or dict would not hash


class TestCommandLine:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["check", "--examples", "0"], "--examples must be at least 1"),
            (["check", "--examples", "abc"], "invalid int value"),
            (["check", "--driver", "nonsense", "--examples", "1"], "--driver must be one of"),
            (["check", "--driver", "nosuchmodule:x", "--examples", "1"], "cannot load driver"),
            (["check", "--driver", "optstate:nosuchfactory", "--examples", "1"], "cannot load driver"),
            (["frobnicate"], "invalid choice"),
        ],
    )
    def test_bad_arguments_give_a_clear_error(self, args: list[str], message: str) -> None:
        """Bad command lines exit non-zero with one clear line, never a traceback."""
        done = subprocess.run(
            [sys.executable, "-m", "optstate", *args], capture_output=True, text=True, timeout=120
        )
        assert done.returncode != 0
        output = done.stdout + done.stderr
        assert message in output
        assert "Traceback" not in output
