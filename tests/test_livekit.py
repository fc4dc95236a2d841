"""optstate.livekit in process: the stock plugin with the adapter attached.

Sessions connect to the loopback server (they need somewhere to connect), but
these tests look at what the adapter hands the plugin: they capture each
session's ``send_event`` and read the store, the session states and the
plugin's own mirrors. The end-to-end checks are in ``test_livekit_e2e.py``.

Plugin differences are detected on the plugin's objects (a session with its
own ``_opts``, the keywords ``update_options`` takes), never from a version.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

pytest.importorskip("livekit.plugins.openai")

from livekit.agents import llm
from livekit.plugins.openai.realtime import RealtimeModel, RealtimeSession
from openai.types.beta.realtime.session import (
    InputAudioNoiseReduction,
    InputAudioTranscription,
    TurnDetection,
)
from openai.types.realtime import AudioTranscription, RealtimeTruncationRetentionRatio
from openai.types.realtime.realtime_audio_config_input import NoiseReduction as LkNoiseReduction
from openai.types.realtime.realtime_audio_input_turn_detection import SemanticVad as LkSemanticVad
from openai.types.realtime.realtime_audio_input_turn_detection import ServerVad as LkServerVad
from openai.types.realtime.realtime_tracing_config import TracingConfiguration

import optstate
import optstate.livekit as lk
import optstate.livekit._adapter
import optstate.livekit._convert
from optstate.openai import (
    NoiseReduction,
    RealtimeOptions,
    RetentionRatio,
    SemanticVad,
    ServerVad,
    ToolChoiceFunction,
    TracingConfig,
    Transcription,
    decode_update,
)
from optstate.server import RealtimeServer

pytestmark = pytest.mark.livekit

MODEL_KEYWORDS = frozenset(inspect.signature(RealtimeModel.update_options).parameters) - {"self"}
HAS_REASONING = "reasoning" in MODEL_KEYWORDS
SESSION_TAKES_TD_DISABLED = "turn_detection_disabled" in inspect.signature(RealtimeModel.session).parameters


# -- harness -------------------------------------------------------------------------


def make_tools(n: int, tag: str = "") -> list[Any]:
    """``n`` raw function tools named ``tool_<i><tag>``."""

    async def call(raw_arguments: dict[str, Any]) -> str:
        return ""

    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    return [
        llm.function_tool(
            call, raw_schema={"name": f"tool_{i}{tag}", "description": "d", "parameters": schema}
        )
        for i in range(n)
    ]


class Harness:
    """Makes stock models (attached or not) and sessions against one loopback
    server, and closes them all afterwards."""

    def __init__(self, server: RealtimeServer) -> None:
        self.server = server
        self.models: list[Any] = []
        self.sessions: list[Any] = []

    def model(self, *, attach: bool = True, **kwargs: Any) -> Any:
        """A stock ``RealtimeModel`` talking to the server (attached by default)."""
        kwargs.setdefault("base_url", self.server.base_url)
        model = RealtimeModel(api_key="x", **kwargs)
        self.models.append(model)
        return lk.attach(model) if attach else model

    def session(self, model: Any, **kwargs: Any) -> Any:
        """``model.session()``, closed at the end of the test."""
        session = model.session(**kwargs)
        self.sessions.append(session)
        return session

    async def connected(self, model: Any, **kwargs: Any) -> Any:
        """A new session, once the server has its connection and its first update."""
        count = len(self.server.connections) + 1
        session = self.session(model, **kwargs)
        conn = await self.server.wait_for_connections(count)
        await self.server.wait_for_event("session.update", session=conn.index)
        return session

    async def aclose(self) -> None:
        for session in self.sessions:
            await session.aclose()
        for model in self.models:
            await model.aclose()


@pytest.fixture
async def harness(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    """A loopback server and a harness on it; everything closed after the test."""
    for name in ("OPENAI_API_VERSION", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    async with RealtimeServer() as server:
        h = Harness(server)
        try:
            yield h
        finally:
            await h.aclose()


async def until(predicate: Callable[[], bool], what: str = "condition", timeout: float = 2.0) -> None:
    """Poll ``predicate`` until it holds (fail after ``timeout`` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.005)


def capture(session: Any) -> list[Any]:
    """From now on, record what is handed to the session's ``send_event`` instead of sending it."""
    sent: list[Any] = []
    session.send_event = sent.append
    return sent


def update(session: dict[str, Any]) -> dict[str, Any]:
    """The GA session.update carrying ``session`` (event id left out)."""
    return {"type": "session.update", "session": {"type": "realtime", **session}}


def without_ids(events: list[Any]) -> list[Any]:
    return [{k: v for k, v in e.items() if k != "event_id"} for e in events]


def plugin_view(session: Any) -> dict[str, Any]:
    """What the plugin itself would send as the full session.update, from its own
    mirrors (the stock method, bypassing the adapter), as ``{path: value}``."""
    event = getattr(type(session), "_optstate_stock", type(session))._create_session_update_event(session)
    if not isinstance(event, dict):
        event = event.model_dump(by_alias=True, exclude_unset=True, exclude_defaults=False)
    return decode_update(event["session"]).paths()


# -- the translation of livekit's values -----------------------------------------------

FORMS: list[tuple[str, Any, str, Any]] = [
    ("voice", "alloy", "audio.output.voice", "alloy"),
    ("speed", 1.25, "audio.output.speed", 1.25),
    ("turn_detection", None, "audio.input.turn_detection", None),
    (
        "turn_detection",
        LkServerVad(type="server_vad", threshold=0.7),
        "audio.input.turn_detection",
        ServerVad(threshold=0.7),
    ),
    (
        "turn_detection",
        LkSemanticVad(type="semantic_vad", eagerness="high"),
        "audio.input.turn_detection",
        SemanticVad(eagerness="high"),
    ),
    (
        "turn_detection",
        TurnDetection(type="server_vad", threshold=0.6, silence_duration_ms=300, interrupt_response=False),
        "audio.input.turn_detection",
        ServerVad(threshold=0.6, silence_duration_ms=300, interrupt_response=False),
    ),
    (
        "turn_detection",
        TurnDetection(type="semantic_vad", eagerness="low", threshold=0.9),
        "audio.input.turn_detection",
        SemanticVad(eagerness="low"),
    ),
    (
        "turn_detection",
        {"type": "server_vad", "idle_timeout_ms": 5000},
        "audio.input.turn_detection",
        ServerVad(idle_timeout_ms=5000),
    ),
    ("input_audio_transcription", None, "audio.input.transcription", None),
    (
        "input_audio_transcription",
        AudioTranscription(model="gpt-4o-transcribe", language="fr"),
        "audio.input.transcription",
        Transcription(model="gpt-4o-transcribe", language="fr"),
    ),
    (
        "input_audio_transcription",
        InputAudioTranscription(model="whisper-1"),
        "audio.input.transcription",
        Transcription(model="whisper-1"),
    ),
    ("input_audio_noise_reduction", None, "audio.input.noise_reduction", None),
    (
        "input_audio_noise_reduction",
        "far_field",
        "audio.input.noise_reduction",
        NoiseReduction(type="far_field"),
    ),
    (
        "input_audio_noise_reduction",
        LkNoiseReduction(type="near_field"),
        "audio.input.noise_reduction",
        NoiseReduction(type="near_field"),
    ),
    (
        "input_audio_noise_reduction",
        InputAudioNoiseReduction(type="far_field"),
        "audio.input.noise_reduction",
        NoiseReduction(type="far_field"),
    ),
    ("tool_choice", "required", "tool_choice", "required"),
    ("tool_choice", None, "tool_choice", "auto"),
    (
        "tool_choice",
        {"type": "function", "function": {"name": "get_weather"}},
        "tool_choice",
        ToolChoiceFunction(name="get_weather"),
    ),
    ("max_response_output_tokens", 512, "max_output_tokens", 512),
    ("max_response_output_tokens", None, "max_output_tokens", "inf"),
    ("tracing", "auto", "tracing", "auto"),
    (
        "tracing",
        TracingConfiguration(workflow_name="support"),
        "tracing",
        TracingConfig(workflow_name="support"),
    ),
    ("truncation", "disabled", "truncation", "disabled"),
    ("truncation", None, "truncation", "auto"),
    (
        "truncation",
        RealtimeTruncationRetentionRatio(type="retention_ratio", retention_ratio=0.5),
        "truncation",
        RetentionRatio(retention_ratio=0.5),
    ),
]
if HAS_REASONING:
    from openai.types.realtime import RealtimeReasoning

    from optstate.openai import Reasoning

    FORMS += [
        ("reasoning", RealtimeReasoning(effort="low"), "reasoning", Reasoning(effort="low")),
        ("reasoning", None, "reasoning", None),
    ]


def _form_id(form: tuple[str, Any, str, Any]) -> str:
    return f"{form[0]}={type(form[1]).__name__}"


class TestTranslation:
    @pytest.mark.parametrize("form", FORMS, ids=[_form_id(f) for f in FORMS])
    async def test_each_livekit_form_sets_its_option(
        self, harness: Harness, form: tuple[str, Any, str, Any]
    ) -> None:
        """Every form the plugin takes for a keyword sets the matching optstate option,
        and the plugin's mirrors then say the same."""
        keyword, value, path, expected = form
        model = harness.model()
        session = await harness.connected(model)
        model.update_options(**{keyword: value})
        assert optstate.get(lk.store_of(model).defaults, path) == expected
        assert optstate.get(lk.state_of(session).desired, path) == expected
        assert plugin_view(session).get(path, expected) == expected

    def test_not_given_and_temperature_change_nothing(self) -> None:
        """NOT_GIVEN is "leave it", and temperature (unused by the API) is accepted and ignored."""
        from livekit.agents.types import NOT_GIVEN

        model = lk.attach(RealtimeModel(api_key="x"))
        before = lk.store_of(model).defaults
        model.update_options(speed=NOT_GIVEN, voice=NOT_GIVEN, temperature=0.5)
        assert lk.store_of(model).defaults is before

    def test_defaults_come_from_the_constructor(self) -> None:
        """The store starts from what the model was built with, not optstate's defaults."""
        model = lk.attach(
            RealtimeModel(
                api_key="x",
                voice="ash",
                speed=1.1,
                modalities=["text"],
                input_audio_noise_reduction="near_field",
                turn_detection=None,
            )
        )
        d = lk.store_of(model).defaults
        assert (d.audio.output.voice, d.audio.output.speed) == ("ash", 1.1)
        assert list(d.output_modalities) == ["text"]
        assert d.audio.input.noise_reduction == NoiseReduction(type="near_field")
        assert d.audio.input.turn_detection is None
        assert d.audio.input.transcription == Transcription(model="gpt-4o-mini-transcribe")


BAD: list[tuple[dict[str, Any], str, Any]] = [
    ({"speed": 2.0}, "speed", 2.0),
    ({"voice": ""}, "voice", ""),
    ({"turn_detection": LkServerVad(type="server_vad", threshold=1.5)}, "turn_detection.threshold", 1.5),
    ({"turn_detection": {"type": "push_to_talk"}}, "turn_detection.type", "push_to_talk"),
    ({"input_audio_noise_reduction": "loud_room"}, "input_audio_noise_reduction.type", "loud_room"),
    ({"tool_choice": "sometimes"}, "tool_choice", "sometimes"),
    ({"tool_choice": {"type": "function", "function": {}}}, "tool_choice.name", None),
    ({"max_response_output_tokens": 0}, "max_response_output_tokens", 0),
    ({"truncation": "sometimes"}, "truncation", "sometimes"),
    # the first keyword is fine, the second is not: nothing is written
    ({"voice": "alloy", "speed": 0.1}, "speed", 0.1),
]


class TestBadValues:
    @pytest.mark.parametrize(("values", "where", "bad"), BAD, ids=[b[1] for b in BAD])
    @pytest.mark.parametrize("level", ["model", "session"])
    async def test_bad_value_names_the_keyword_and_changes_nothing(
        self, harness: Harness, level: str, values: dict[str, Any], where: str, bad: Any
    ) -> None:
        """A bad value raises InvalidOption naming the livekit keyword (and field)
        and the value; the store, the session states, the plugin's mirrors and
        the wire are all untouched."""
        model = harness.model()
        session = await harness.connected(model)
        sent = capture(session)
        store, state = lk.store_of(model), lk.state_of(session)
        before = (store.defaults, store.version, state.desired, plugin_view(session), repr(model._opts))
        target = model if level == "model" else session
        with pytest.raises(optstate.InvalidOption) as info:
            target.update_options(**values)
        assert (info.value.path, info.value.value) == (where, bad)
        assert str(info.value).startswith(where)
        after = (store.defaults, store.version, state.desired, plugin_view(session), repr(model._opts))
        assert after == before
        assert sent == []

    async def test_unknown_keyword_is_a_type_error(self, harness: Harness) -> None:
        """A keyword the plugin does not take is a TypeError, as with the stock method."""
        model = harness.model()
        session = harness.session(model)
        with pytest.raises(TypeError, match="colour"):
            model.update_options(colour="red")
        with pytest.raises(TypeError, match="temperature"):
            session.update_options(temperature=0.5)  # model-level only, in every version

    @pytest.mark.skipif(HAS_REASONING, reason="this plugin takes reasoning")
    def test_reasoning_is_refused_where_the_plugin_lacks_it(self) -> None:
        """reasoning is only accepted by plugins whose update_options takes it."""
        model = lk.attach(RealtimeModel(api_key="x"))
        with pytest.raises(TypeError, match="reasoning"):
            model.update_options(reasoning=None)


class TestAttach:
    async def test_attach_is_idempotent(self, harness: Harness) -> None:
        """Attaching twice keeps the same store and hooks and sends nothing."""
        model = harness.model()
        session = await harness.connected(model)
        store, state, method = lk.store_of(model), lk.state_of(session), session.update_options
        sent = capture(session)
        assert lk.attach(model) is model
        assert lk.store_of(model) is store
        assert lk.state_of(session) is state
        assert session.update_options == method
        model.update_options(speed=1.5)
        assert without_ids(sent) == [update({"audio": {"output": {"speed": 1.5}}})]

    async def test_first_update_is_the_stores(self, harness: Harness) -> None:
        """A new session's first session.update is the store's (the plugin's own is
        taken out of the queue): exactly one full update reaches the server."""
        model = harness.model()
        await harness.connected(model)
        model.update_options(speed=1.2)
        await until(lambda: harness.server.states[0].audio.output.speed == 1.2)
        updates = [e for e in harness.server.received[0] if e.get("type") == "session.update"]
        assert [str(e["event_id"]).startswith("optstate_") for e in updates] == [True, True]

    async def test_first_update_carries_what_stock_carries_and_nothing_more(self, harness: Harness) -> None:
        """Attached, a connection's first session.update carries the options the
        stock plugin's own first update carries (what its constructor set), with
        the same values, and nothing the plugin leaves to the server (instructions,
        include, prompt, ...); the model is the URL's."""
        model = harness.model()
        await harness.connected(model)
        first = next(e for e in harness.server.received[0] if e.get("type") == "session.update")
        (session,) = model._sessions
        # The plugin's own full update, as its send task serialises it.
        own = RealtimeSession._create_session_update_event(session)
        own = (
            own.model_dump(mode="json", by_alias=True, exclude_unset=True)
            if hasattr(own, "model_dump")
            else own
        )
        theirs = decode_update(own["session"]).paths()
        ours = decode_update(first["session"]).paths()
        assert ours.keys() == theirs.keys() - {"model"}
        assert {p: ours[p] for p in ours} == {p: theirs[p] for p in ours}
        assert "instructions" not in first["session"]
        assert harness.server.states[0].instructions == harness.server.connections[0].initial.instructions

    async def test_sessions_from_before_attach_are_linked(self, harness: Harness) -> None:
        """Sessions made before attach() are linked by it, keep the options they
        already had, and are sent the store's full state once."""
        model = harness.model(attach=False)
        session = await harness.connected(model)
        session.update_options(input_audio_noise_reduction="near_field")
        await session.update_instructions("be brief")
        lk.attach(model)
        state = lk.state_of(session)
        assert state.desired.instructions == "be brief"
        if "_opts" in vars(session):  # only 1.8 keeps a session's own options apart from the model's
            assert state.desired.audio.input.noise_reduction == NoiseReduction(type="near_field")
        assert state.in_flight  # the full state is on its way
        sent = capture(session)
        model.update_options(speed=1.3)
        assert without_ids(sent) == [update({"audio": {"output": {"speed": 1.3}}})]

    def test_methods_keep_the_stock_signatures(self) -> None:
        """The installed methods show the plugin's own signatures to introspection."""
        model = lk.attach(RealtimeModel(api_key="x"))
        stock = inspect.signature(RealtimeModel.update_options)
        assert list(inspect.signature(model.update_options).parameters) == list(stock.parameters)[1:]

    def test_attach_needs_a_realtime_model(self) -> None:
        """attach() refuses what is not a livekit-plugins-openai RealtimeModel."""
        with pytest.raises(TypeError, match="RealtimeModel"):
            lk.attach(object())  # type: ignore[type-var]

    def test_store_of_an_unattached_model_says_so(self) -> None:
        """store_of() on a model that was never attached names the fix."""
        with pytest.raises(optstate.OptStateError, match="attach"):
            lk.store_of(RealtimeModel(api_key="x"))


class TestWrites:
    async def test_model_write_sends_each_session_exactly_its_change(self, harness: Harness) -> None:
        """A model-level write puts exactly the changed option on every session's
        wire; writing the same value again puts nothing."""
        model = harness.model()
        sessions = [await harness.connected(model) for _ in range(3)]
        sent = [capture(s) for s in sessions]
        model.update_options(speed=1.5, voice="alloy")
        model.update_options(speed=1.5)
        for events in sent:
            assert without_ids(events) == [update({"audio": {"output": {"voice": "alloy", "speed": 1.5}}})]

    async def test_model_write_keeps_session_level_settings(self, harness: Harness) -> None:
        """An unrelated model-level write never undoes a session-level setting
        (1.8's stock plugin sends noise_reduction: null here)."""
        model = harness.model()
        session = await harness.connected(model)
        other = await harness.connected(model)
        sent = capture(session)
        session.update_options(input_audio_noise_reduction="near_field", input_audio_transcription=None)
        model.update_options(voice="alloy")
        assert without_ids(sent) == [
            update({"audio": {"input": {"noise_reduction": {"type": "near_field"}, "transcription": None}}}),
            update({"audio": {"output": {"voice": "alloy"}}}),
        ]
        desired = lk.state_of(session).desired.audio.input
        assert desired.noise_reduction == NoiseReduction(type="near_field")
        assert desired.transcription is None
        assert lk.state_of(other).desired.audio.input.noise_reduction is None
        assert lk.store_of(model).defaults.audio.input.noise_reduction is None

    async def test_session_write_does_not_leak_into_the_model(self, harness: Harness) -> None:
        """A session-level write changes neither the model's defaults and mirror
        (1.5's stock plugin writes it into the model's shared _opts) nor other sessions."""
        model = harness.model()
        session = await harness.connected(model)
        session.update_options(tool_choice="required", speed=0.8)
        assert lk.store_of(model).defaults.tool_choice == "auto"
        assert model._opts.speed == 1.0
        later = harness.session(model)
        assert lk.state_of(later).desired.tool_choice == "auto"
        assert lk.state_of(later).desired.audio.output.speed == 1.0

    async def test_plugin_mirrors_say_what_the_store_says(self, harness: Harness) -> None:
        """After writes at both levels, the full update the plugin would build from
        its own mirrors carries the session's desired options (1.5 sessions read the
        model's mirror, so only model-level writes show there)."""
        model = harness.model()
        session = await harness.connected(model)
        model.update_options(
            voice="ash",
            turn_detection=TurnDetection(type="server_vad", threshold=0.4),
            input_audio_transcription=None,
            tool_choice={"type": "function", "function": {"name": "f"}},
            max_response_output_tokens=300,
            tracing="auto",
        )
        if "_opts" in vars(session):
            session.update_options(input_audio_noise_reduction="far_field", speed=1.4, truncation="disabled")
        desired = lk.state_of(session).desired
        view = plugin_view(session)
        assert view["audio.input.turn_detection"] == ServerVad(threshold=0.4)
        assert {p: optstate.get(desired, p) for p in view} == view

    async def test_capabilities_follow_where_the_plugin_derives_them(self, harness: Harness) -> None:
        """Where the plugin derives capabilities from the options (1.8), the
        adapter keeps them derived; where it fixes them at construction (1.5), so does the adapter."""
        model = harness.model()
        session = await harness.connected(model)
        before = (model.capabilities.turn_detection, model.capabilities.user_transcription)
        session.update_options(turn_detection=None)
        model.update_options(input_audio_transcription=None)
        if "_capabilities" in vars(session):
            assert session.capabilities.turn_detection is False
            assert model.capabilities.turn_detection is True
            assert model.capabilities.user_transcription is False
            assert session.capabilities.user_transcription is False
        else:
            assert (model.capabilities.turn_detection, model.capabilities.user_transcription) == before

    @pytest.mark.skipif(not SESSION_TAKES_TD_DISABLED, reason="session() has no turn_detection_disabled")
    async def test_turn_detection_disabled_session(self, harness: Harness) -> None:
        """A session opened with turn detection disabled holds that as its own
        setting, which a model-level write of another option keeps."""
        model = harness.model()
        session = await harness.connected(model, turn_detection_disabled=True)
        model.update_options(speed=1.2)
        desired = lk.state_of(session).desired
        assert desired.audio.input.turn_detection is None
        assert desired.audio.output.speed == 1.2
        await until(lambda: harness.server.states[0] == desired)

    async def test_instructions_and_tools_are_store_writes(self, harness: Harness) -> None:
        """update_instructions and update_tools are session-level writes: an equal
        value sends nothing, and the session keeps the tools it could convert."""

        @llm.function_tool
        async def get_weather(city: str) -> str:
            """Get the weather for a city."""
            return "sunny"

        model = harness.model()
        session = await harness.connected(model)
        sent = capture(session)
        await session.update_instructions("be brief")
        await session.update_instructions("be brief")
        await session.update_tools([get_weather])
        await session.update_tools([get_weather])
        assert [list(e["session"]) for e in sent] == [["type", "instructions"], ["type", "tools"]]
        desired = lk.state_of(session).desired
        assert desired.instructions == "be brief"
        assert [t.name for t in desired.tools] == ["get_weather"]
        assert [t.info.name for t in session.tools.flatten()] == ["get_weather"]
        assert lk.store_of(model).defaults.instructions == ""

    async def test_unchanged_tools_are_not_converted_again(
        self, harness: Harness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """update_tools with the same tool objects converts and validates none of
        them again (the held vector is written back as it is); with one tool
        replaced, only that one; only the current tools are remembered."""
        tools = make_tools(200)
        model = harness.model()
        session = await harness.connected(model)
        sent = capture(session)
        converted: list[Any] = []
        stock = session._convert_tools_to_oai

        def counting(given: list[Any]) -> Any:
            converted.extend(given)
            return stock(given)

        monkeypatch.setattr(session, "_convert_tools_to_oai", counting)
        validated: list[Any] = []
        leaf = lk._convert.to_leaf

        def counting_leaf(keyword: str, value: Any) -> Any:
            if keyword == "tools":
                validated.extend(value)
            return leaf(keyword, value)

        monkeypatch.setattr(lk._convert, "to_leaf", counting_leaf)
        await session.update_tools(tools)
        assert len(converted) == 200
        held = lk.state_of(session).desired.tools
        assert [t.name for t in held] == [f"tool_{i}" for i in range(200)]
        converted.clear()
        validated.clear()
        await session.update_tools(list(tools))
        assert converted == []
        assert lk.state_of(session).desired.tools is held
        assert len(sent) == 1
        changed = list(tools)
        changed[7] = make_tools(1, "_new")[0]
        await session.update_tools(changed)
        assert converted == [changed[7]]
        assert len([v for v in validated if isinstance(v, dict)]) == 1
        after = lk.state_of(session).desired.tools
        assert after[7].name == "tool_0_new"
        assert all(after[i] is held[i] for i in range(200) if i != 7)
        assert [len(e["session"]["tools"]) for e in sent] == [200, 200]
        await session.update_tools(tools[:3])
        assert len(lk._adapter.link_of(session).tool_memo) == 3

    async def test_voice_after_audio_is_logged_and_kept(
        self, harness: Harness, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A voice change after the model has spoken is not sent: a warning names
        it, and it stays desired for the next connection."""
        model = harness.model()
        session = await harness.connected(model)
        lk.state_of(session).mark_audio_started()
        sent = capture(session)
        with caplog.at_level(logging.WARNING, logger="optstate.livekit"):
            model.update_options(voice="alloy", speed=1.3)
            model.update_options(voice="alloy")
        assert without_ids(sent) == [update({"audio": {"output": {"speed": 1.3}}})]
        warnings = [r.getMessage() for r in caplog.records if r.name == "optstate.livekit"]
        assert len(warnings) == 1
        assert "voice='alloy'" in warnings[0]
        assert not warnings[0].startswith("optstate")  # the log line names its logger once
        assert [r.path for r in lk.state_of(session).needs_reconnect] == ["audio.output.voice"]
        assert lk.state_of(session).desired.audio.output.voice == "alloy"

    async def test_tracing_once_enabled_is_logged_and_kept(
        self, harness: Harness, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Tracing cannot change once enabled: the change is not sent, a warning
        names it, and it stays desired for the next connection."""
        model = harness.model()
        session = await harness.connected(model)
        sent = capture(session)
        with caplog.at_level(logging.WARNING, logger="optstate.livekit"):
            model.update_options(tracing="auto")
            model.update_options(tracing=TracingConfiguration(workflow_name="w"))
        assert without_ids(sent) == [update({"tracing": "auto"})]
        assert any("tracing=" in r.getMessage() for r in caplog.records if r.name == "optstate.livekit")
        assert lk.state_of(session).desired.tracing == TracingConfig(workflow_name="w")

    async def test_closed_session_drops_writes(self, harness: Harness) -> None:
        """After aclose() a session leaves the store: its writes are dropped, as the
        plugin drops events sent after close, and model writes skip it."""
        model = harness.model()
        session = await harness.connected(model)
        await session.aclose()
        assert lk.state_of(session).closed
        session.update_options(speed=1.2)
        model.update_options(speed=1.3)
        assert lk.store_of(model).sessions == ()


class TestAzure:
    def test_legacy_azure_uses_the_beta_dialect(self) -> None:
        """A model with an api_version speaks the beta dialect; what beta cannot say
        is refused up front, naming the livekit keyword, and changes nothing."""
        model = lk.attach(
            RealtimeModel(
                azure_deployment="dep",
                api_version="2024-10-01-preview",
                base_url="http://127.0.0.1:9/openai",
                api_key="x",
            )
        )
        store = lk.store_of(model)
        assert store.codec == optstate.openai.OpenAICodec("beta")
        assert store.defaults.model == "dep"
        before = store.defaults
        with pytest.raises(optstate.UnsupportedInDialect) as info:
            model.update_options(tool_choice={"type": "function", "function": {"name": "f"}})
        assert info.value.path == "tool_choice"
        assert lk.store_of(model).defaults is before

    def test_default_is_the_ga_dialect(self) -> None:
        """A model without an api_version speaks GA, with the model its URL names."""
        store = lk.store_of(lk.attach(RealtimeModel(api_key="x", model="gpt-realtime-mini")))
        assert store.codec == optstate.openai.OpenAICodec("ga")
        assert store.defaults == _livekit_defaults(model="gpt-realtime-mini")


def _livekit_defaults(**overrides: Any) -> RealtimeOptions:
    """The options a stock RealtimeModel() holds."""
    options: dict[str, Any] = {
        "model": "gpt-realtime",
        "audio.input.transcription": {"model": "gpt-4o-mini-transcribe"},
        "audio.input.turn_detection": {"type": "semantic_vad", "eagerness": "medium"},
        "audio.output.voice": "marin",
        **overrides,
    }
    return optstate.apply(RealtimeOptions(), optstate.patch(RealtimeOptions, options))
