"""The laws of diff/apply (DESIGN.md section 1), as Hypothesis properties.

Each law runs on the OpenAI schema and on a tiny unrelated schema
(``tests/tinyschema.py``), since the machinery is driven by field metadata only.
"""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyrsistent import pvector
from tests.tinyschema import Device, Knob, Panel, Tripwire, devices

import optstate
from optstate import Patch, apply, diff
from optstate._patch import apply_moved
from optstate.openai import AudioPCMU, FunctionTool, RealtimeOptions
from optstate.strategies import leaf_paths, patches, realtime_options

SCHEMAS = [
    pytest.param(realtime_options(), RealtimeOptions, id="openai"),
    pytest.param(devices(), Device, id="tiny"),
]


def leaves_of(state: Any, cls: type) -> dict[str, Any]:
    return {p: optstate.get(state, p) for p in leaf_paths(cls)}


@pytest.mark.parametrize(("states", "cls"), SCHEMAS)
class TestLaws:
    @given(data=st.data())
    def test_diff_of_a_state_with_itself_is_empty(self, states: Any, cls: type, data: Any) -> None:
        """Law 1: diff(s, s) is empty, for the same object and for an equal deep copy
        (equal values that share no object)."""
        s = data.draw(states)
        assert not diff(s, s)
        twin = copy.deepcopy(s)
        assert twin == s
        assert diff(s, twin) == Patch()
        rebuilt = apply(s, optstate.patch(cls, leaves_of(s, cls)))
        assert diff(s, rebuilt) == Patch()

    @given(data=st.data())
    def test_apply_of_diff_gives_the_new_state(self, states: Any, cls: type, data: Any) -> None:
        """Law 2: apply(old, diff(old, new)) == new: nothing lost."""
        old, new = data.draw(states), data.draw(states)
        assert apply(old, diff(old, new)) == new

    @given(data=st.data())
    def test_diff_names_exactly_the_leaves_that_differ(self, states: Any, cls: type, data: Any) -> None:
        """Law 3: every leaf of the diff differs; every differing leaf is in it.
        ``new`` is a deep copy so that equal leaves are compared by value."""
        old, new = data.draw(states), copy.deepcopy(data.draw(states))
        changed = diff(old, new).paths()
        before, after = leaves_of(old, cls), leaves_of(new, cls)
        differing = {p for p in before if before[p] != after[p]}
        assert set(changed) == differing
        assert all(changed[p] == after[p] for p in changed)

    @given(data=st.data())
    def test_patches_compose(self, states: Any, cls: type, data: Any) -> None:
        """Law 4: apply(apply(s, p), q) == apply(s, p | q)."""
        s = data.draw(states)
        p = data.draw(patches(states, cls=cls))
        q = data.draw(patches(states, cls=cls))
        assert apply(apply(s, p), q) == apply(s, p | q)

    @given(data=st.data())
    def test_apply_moved_is_apply_and_its_diff(self, states: Any, cls: type, data: Any) -> None:
        """The store's one-walk write: ``apply_moved(s, p)`` is ``(apply(s, p),
        diff(s, apply(s, p)))``, each moved leaf the very value the new state holds,
        and ``s`` itself when no leaf moved (a patch of the values ``s`` holds)."""
        s = data.draw(states)
        p = data.draw(patches(states, cls=cls))
        new, moved = apply_moved(s, p)
        assert new == apply(s, p)
        assert moved == diff(s, new)
        assert all(value is optstate.get(new, path) for path, value in moved.paths().items())
        same = optstate.patch(cls, {path: optstate.get(s, path) for path in p.paths()})
        assert apply_moved(s, same) == (s, Patch())
        assert apply_moved(s, same)[0] is s

    @given(data=st.data())
    def test_diff_skips_unchanged_subtrees_by_identity(self, states: Any, cls: type, data: Any) -> None:
        """Law 5: after apply, untouched subtrees are the same objects and diff never
        compares them (counted with a profiler: no __eq__ call on them)."""
        s = data.draw(states)
        p = data.draw(patches(states, cls=cls))
        new = apply(s, p)
        compared: list[str] = []

        def watch(frame: Any, event: str, arg: Any) -> None:
            if event == "call" and frame.f_code.co_name == "__eq__":
                compared.append(type(frame.f_locals.get("self")).__name__)

        sys.setprofile(watch)
        try:
            result = diff(s, new)
        finally:
            sys.setprofile(None)
        for path in leaf_paths(cls):
            if path not in p.paths():
                assert optstate.get(new, path) is optstate.get(s, path)
        # Only leaves the patch named may be compared by value.
        assert len(compared) <= len(p.paths()) * 8
        assert set(result.paths()) <= set(p.paths())


class TestIdentity:
    def test_a_tripwire_in_an_unchanged_subtree_is_never_compared(self) -> None:
        """Law 5 on the tiny schema: a value that fails on comparison survives a diff."""
        s = Device(front=Panel(payload=Tripwire()), back=Panel(payload=Tripwire()))
        new = optstate.set(s, "volume", 0.75)
        assert diff(s, new).paths() == {"volume": 0.75}
        new2 = optstate.set(s, "back.title", "x")
        assert diff(s, new2).paths() == {"back.title": "x"}

    def test_big_unchanged_tools_and_instructions_are_not_compared(self) -> None:
        """Law 5 on OpenAI options: 200 tools and 100 KB of instructions that did not
        change are skipped; no record __eq__ runs during the diff."""
        tools = pvector(
            FunctionTool(name=f"f{i}", description="d" * 50, parameters={"type": "object"})
            for i in range(200)
        )
        s = RealtimeOptions(instructions="x" * 100_000, tools=tools)
        new = optstate.set(s, "audio.output.speed", 1.25)
        calls: list[str] = []

        def watch(frame: Any, event: str, arg: Any) -> None:
            if event == "call" and frame.f_code.co_name == "__eq__":
                calls.append(frame.f_code.co_qualname)

        sys.setprofile(watch)
        try:
            p = diff(s, new)
        finally:
            sys.setprofile(None)
        assert p.paths() == {"audio.output.speed": 1.25}
        assert calls == []


class TestDiff:
    def test_records_with_no_or_one_field(self) -> None:
        """diff works on any record class, including ones with zero or one field."""
        assert diff(AudioPCMU(), AudioPCMU()) == Patch()
        assert diff(Knob(level=1), Knob(level=1)) == Patch()
        assert diff(Knob(level=1), Knob(level=2)) == Patch({"level": 2})

    def test_sub_patches_are_patches(self) -> None:
        """A merge node changed in a diff holds a Patch with only its changed children."""
        new = optstate.set(Device(), "back.title", "x")
        p = diff(Device(), new)
        assert type(p["back"]) is Patch
        assert p == Patch({"back": Patch({"title": "x"})})
        assert hash(p) == hash(Patch({"back": Patch({"title": "x"})}))

    @pytest.mark.parametrize(
        ("old", "new"), [(Device(), Panel()), (1, 2), ({"a": 1}, {"a": 2}), (Device(), None)]
    )
    def test_needs_two_records_of_one_class(self, old: Any, new: Any) -> None:
        """Anything but two records of the same class is a TypeError naming both types."""
        with pytest.raises(TypeError, match="diff needs two records of the same class"):
            diff(old, new)

    def test_a_failing_comparison_shows_the_generated_source(self) -> None:
        """diff is generated code; a traceback through it shows the line that compared."""
        s = Device(front=Panel(payload=Tripwire()))
        new = attrs.evolve(s, front=attrs.evolve(s.front, payload=Tripwire()))
        with pytest.raises(AssertionError) as info:
            diff(s, new)
        assert "old_1.payload == new_1.payload" in str(info.getrepr())


class TestPatch:
    @given(p=patches(), q=patches())
    def test_or_is_later_wins(self, p: Patch, q: Patch) -> None:
        """p | q holds every leaf of q, and the leaves of p that q does not name."""
        both = (p | q).paths()
        assert {k: v for k, v in both.items() if k in q.paths()} == q.paths()
        assert {k: v for k, v in both.items() if k not in q.paths()} == {
            k: v for k, v in p.paths().items() if k not in q.paths()
        }

    def test_empty_patch_is_falsy_and_nonempty_truthy(self) -> None:
        """The empty patch is falsy; a patch with a change is truthy and hashable."""
        assert not Patch()
        p = optstate.patch(RealtimeOptions, {"audio.output.speed": 1.5})
        assert p
        assert hash(p) == hash(optstate.patch(RealtimeOptions, {"audio.output.speed": 1.5}))
        assert repr(p) == "Patch({'audio.output.speed': 1.5})"

    def test_views_and_get_are_the_mappings(self) -> None:
        """keys/values/items/get behave as a read-only Mapping's, in order."""
        p = optstate.patch(RealtimeOptions, {"instructions": "x", "audio.output.speed": 1.5})
        assert list(p.keys()) == list(p) == ["instructions", "audio"]
        assert list(p.values()) == [p["instructions"], p["audio"]]
        assert list(p.items()) == [("instructions", "x"), ("audio", p["audio"])]
        assert p.items() == dict(p).items()
        assert ("instructions", "x") in p.items()
        assert p.get("instructions") == "x"
        assert p.get("model") is None
        assert p.get("model", 1) == 1
        with pytest.raises(TypeError):  # the views give no way to change the patch
            p.items().mapping["model"] = "m"  # type: ignore[index]

    def test_hash_is_computed_once_and_matches_equality(self) -> None:
        """Equal patches built differently (diff, patch, constructor) hash alike."""
        built = Patch({"audio": Patch({"output": Patch({"speed": 1.5})})})
        diffed = diff(RealtimeOptions(), optstate.set(RealtimeOptions(), "audio.output.speed", 1.5))
        assert diffed == built
        assert hash(diffed) == hash(built) == hash(built)
        assert len({diffed, built, Patch()}) == 2

    def test_pickle_leaves_the_cached_hash_behind(self) -> None:
        """A hashed patch pickled in one process is found in a set in another
        (str hashes differ between processes, so the cached hash must not travel)."""
        p = diff(RealtimeOptions(), optstate.set(RealtimeOptions(), "instructions", "x"))
        hash(p)
        assert pickle.loads(pickle.dumps(p)) == p
        script = (
            "import pickle, sys, optstate\n"
            "from optstate.openai import RealtimeOptions\n"
            "p = pickle.loads(sys.stdin.buffer.read())\n"
            "assert p in {optstate.patch(RealtimeOptions, instructions='x')}\n"
        )
        env = {**os.environ, "PYTHONHASHSEED": "12345"}
        subprocess.run([sys.executable, "-c", script], input=pickle.dumps(p), env=env, check=True)

    def test_without_removes_named_leaves(self) -> None:
        """Patch.without drops leaves and the merge nodes left empty."""
        p = optstate.patch(RealtimeOptions, {"audio.output.speed": 1.5, "instructions": "x"})
        assert p.without({"audio.output.speed"}).paths() == {"instructions": "x"}
        assert p.without({"audio.output.speed"}) == Patch({"instructions": "x"})
