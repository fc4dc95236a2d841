"""Hypothesis entry point: registers optstate's strategies for ``st.from_type``.

Kept apart from :mod:`optstate.strategies` so that importing either module
first works (Hypothesis calls this hook while it is being imported).
"""


def _hypothesis_setup_hook() -> None:
    """Import :mod:`optstate.strategies`, whose import registers the strategies."""
    import optstate.strategies  # noqa: F401
