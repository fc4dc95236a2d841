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


def _cross_imports() -> list[tuple[str, str, str]]:
    """``(importing module, imported module, name)`` for every ``from X import name``
    in src/optstate where X is an optstate module in another package folder."""
    import ast
    from pathlib import Path

    root = Path(optstate.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        package = parts if path.name == "__init__.py" else parts[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or node.level == 0:
                continue
            base = package[: len(package) - (node.level - 1)]
            target = [*base, *(node.module or "").split(".")] if node.module else base
            target_package = target[:-1]
            if target_package == package or target == package:
                continue  # same package folder
            for alias in node.names:
                found.append((".".join(parts), ".".join(target), alias.name))
    return found


def test_no_private_name_crosses_a_package_folder() -> None:
    """A module imports from another package folder only names that folder's module
    lists in ``__all__`` (public, or explicitly internal), never a ``_private`` name."""
    import importlib
    import importlib.util

    bad = []
    for importer, source, name in _cross_imports():
        module = importlib.import_module(source)
        if hasattr(module, "__path__") and importlib.util.find_spec(f"{source}.{name}") is not None:
            continue  # a submodule
        if name.startswith("_") or name not in getattr(module, "__all__", ()):
            bad.append(f"{importer} imports {name} from {source}")
    assert not bad, "\n".join(bad)


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
