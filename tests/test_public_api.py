"""The public surface: one curated namespace, nothing private leaking, a light core."""

from __future__ import annotations

import subprocess
import sys

import pytest

import optstate
import optstate.openai


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
