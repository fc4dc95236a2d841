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
