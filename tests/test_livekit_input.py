"""Bad input through the livekit adapter: ``attach(model)``, then
``model.update_options(**garbage)`` either works or raises InvalidOption, and a
failed call leaves the plugin's ``_opts`` and the store exactly as they were."""

from __future__ import annotations

import copy
import inspect
from typing import Any

import pytest

pytest.importorskip("livekit.plugins.openai")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livekit.plugins.openai.realtime import RealtimeModel
from tests.fuzz_data import check_error, garbage

import optstate.livekit as lk

pytestmark = pytest.mark.livekit

MODEL_KEYWORDS = sorted(frozenset(inspect.signature(RealtimeModel.update_options).parameters) - {"self"})


@pytest.fixture(scope="module")
def model() -> Any:
    """One attached model (no session: nothing connects), shared by the examples."""
    return lk.attach(RealtimeModel(api_key="x", base_url="ws://127.0.0.1:9/v1"))


@settings(suppress_health_check=list(HealthCheck), deadline=None, max_examples=150)
@given(kwargs=st.dictionaries(st.sampled_from(MODEL_KEYWORDS), garbage, min_size=1, max_size=3))
def test_update_options_with_garbage(model: Any, kwargs: dict[str, Any]) -> None:
    """model.update_options(**garbage): InvalidOption naming the keyword, _opts untouched."""
    opts = copy.deepcopy(model._opts)
    store = lk.store_of(model)
    snap = store._model
    try:
        model.update_options(**kwargs)
    except Exception as e:
        check_error(e, roots=kwargs)
        assert store._model is snap, "a failed update_options changed the store"
        assert model._opts == opts, "a failed update_options changed the plugin's _opts"
