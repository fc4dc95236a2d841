"""Sphinx configuration: `make docs` builds the site offline, warnings as errors."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # document this checkout, not an installed copy
sys.path.insert(0, str(ROOT))  # examples/ for the tutorial's includes

project = "optstate"
author = "the optstate authors"
copyright = "2026, the optstate authors"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

# Markdown pages (MyST); the API reference comes from reST docstrings via autodoc.
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
root_doc = "index"
exclude_patterns = ["_build"]

# Autodoc: public modules only, members in source order, signatures with types.
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

# No intersphinx: the build needs no network.
html_theme = "furo"
html_title = "optstate"
html_show_sourcelink = False

# Docstring markup that docutils cannot parse, fixed here until it is fixed at the
# source (then delete the entry; `make docs` fails if an entry no longer matches).
DOCSTRING_FIXES = {
    # src/optstate/strategies.py:100: ``VoiceId``s is an unterminated inline literal.
    "optstate.strategies.voices": ("``VoiceId``s", "``VoiceId`` values"),
}


def _fix_docstring(app: object, what: str, name: str, obj: object, options: object, lines: list[str]) -> None:
    fix = DOCSTRING_FIXES.get(name)
    if fix is None:
        return
    old, new = fix
    text = "\n".join(lines)
    if old not in text:
        raise RuntimeError(f"docs/conf.py: the docstring fix for {name} is stale; remove it")
    lines[:] = text.replace(old, new).split("\n")


def setup(app: object) -> None:
    app.connect("autodoc-process-docstring", _fix_docstring)  # type: ignore[attr-defined]
