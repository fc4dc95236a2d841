"""The public surface: one curated namespace, nothing private leaking, a light core."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

import optstate
import optstate.openai
from optstate.openai import RealtimeOptions


@pytest.mark.parametrize("module", [optstate, optstate.openai])
def test_all_is_sorted_complete_and_public(module: object) -> None:
    """__all__ is sorted, names only public objects, and every one exists."""
    names = module.__all__  # type: ignore[attr-defined]
    assert list(names) == sorted(names, key=lambda n: (not n.isupper(), n))  # ruff RUF022 order
    assert all(not n.startswith("_") for n in names)
    assert all(hasattr(module, n) for n in names)
    public = {n for n in vars(module) if n.isidentifier() and not n.startswith("_")}
    submodules = {"openai", "strategies", "official", "server", "livekit", "testing"}
    assert public - set(names) <= submodules


def test_stable_names_exist() -> None:
    """The names other repositories' tests rely on are present."""
    for name in ["diff", "apply", "Patch", "OptStateError", "InvalidOption", "set", "patch"]:
        assert name in optstate.__all__
    for name in ["RealtimeOptions", "encode", "decode"]:
        assert name in optstate.openai.__all__


def test_core_imports_no_edge_dependency() -> None:
    """`import optstate` (and optstate.openai) imports neither livekit, hypothesis nor openai."""
    code = (
        "import sys, optstate, optstate.openai;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'livekit', 'hypothesis', 'openai', 'pydantic', 'aiohttp'});"
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"core imported: {done.stdout}{done.stderr}"


def test_invalid_option_is_a_value_error() -> None:
    """InvalidOption is both an OptStateError and a ValueError."""
    assert issubclass(optstate.InvalidOption, optstate.OptStateError)
    assert issubclass(optstate.InvalidOption, ValueError)
    assert issubclass(optstate.UnsupportedInDialect, optstate.InvalidOption)


def test_public_classes_report_the_public_module() -> None:
    """Every public class says it is ``optstate.X`` (reprs, pickles, docs), and is found there."""
    classes = [getattr(optstate, n) for n in optstate.__all__ if isinstance(getattr(optstate, n), type)]
    assert classes
    for cls in classes:
        assert cls.__module__ == "optstate", cls
        assert getattr(optstate, cls.__qualname__) is cls
    assert repr(optstate.Patch) == "<class 'optstate.Patch'>"


def test_public_values_pickle_round_trip() -> None:
    """A Patch, a WriteResult, a Refusal and an InvalidOption survive pickling, by the public name."""
    p = optstate.patch(RealtimeOptions, {"audio.output.speed": 1.2, "instructions": "hi"})
    values: list[object] = [
        p,
        optstate.WriteResult(p, 3, True),
        optstate.Refusal("audio.output.voice", "marin", "voice is locked"),
    ]
    for value in values:
        data = pickle.dumps(value)
        assert b"optstate._" not in data
        assert pickle.loads(data) == value
    error = optstate.InvalidOption("audio.output.speed", 9.0, "must be <= 1.5")
    data = pickle.dumps(error)
    assert b"optstate._" not in data
    back = pickle.loads(data)
    assert type(back) is optstate.InvalidOption
    assert (back.path, back.value, back.rule, str(back)) == (error.path, error.value, error.rule, str(error))
