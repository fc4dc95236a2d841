"""Programs run from the repository root (``python -m tools.soak``); not installed."""
