"""The README's Python examples run as written (docs cannot drift from the code)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def block_under(heading: str) -> str:
    """The first ```python block after a ## heading."""
    section = README.split(f"## {heading}\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python block under {heading!r}"
    return match.group(1)


@pytest.mark.parametrize("heading", ["A 60-second tour for plugin authors", "Models and sessions"])
def test_readme_example_runs(heading: str) -> None:
    """Each example executes without error (its asserts included)."""
    exec(compile(block_under(heading), f"README:{heading}", "exec"), {})
