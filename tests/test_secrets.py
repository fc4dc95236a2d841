"""Secrets and resources: MCP ``authorization``/``headers`` never appear in a
repr, a log line, an error message or a harness report (but are sent on the
wire), and closing 10 000 sessions gives their memory back."""

from __future__ import annotations

import gc
import json
import logging
import sys
from typing import Any, ClassVar

import pytest
from examples.toy_plugin import ToyDriver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fuzz_data import SECRET, check_error, garbage

import optstate
from optstate import InvalidOption, Patch, Store
from optstate._errors import safe_repr, scrub, scrub_data, secret_strings
from optstate.openai import McpTool, RealtimeOptions, decode, decode_update, encode, encode_session
from optstate.testing import check

FUZZ = settings(
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
    deadline=None,
)

#: A secret where it belongs, or inside garbage where it does not validate.
secret_values = st.sampled_from([SECRET, [SECRET], {"k": SECRET}, (SECRET,), SECRET.encode()])
headers = st.one_of(
    st.just({"Authorization": f"Bearer {SECRET}"}),
    st.dictionaries(st.sampled_from(["Authorization", "X-Api-Key", "x"]), secret_values, min_size=1),
    secret_values,
)


@st.composite
def mcp_tools(draw: st.DrawFn) -> dict[str, Any]:
    """An MCP tool's JSON with secrets, and garbage in some other field."""
    tool: dict[str, Any] = {"type": "mcp", "server_label": "s", "server_url": "https://mcp.example/sse"}
    if draw(st.booleans()):
        tool["authorization"] = draw(secret_values)
    if draw(st.booleans()) or "authorization" not in tool:
        tool["headers"] = draw(headers)
    for name in draw(
        st.lists(
            st.sampled_from(
                ["server_label", "server_url", "allowed_tools", "require_approval", "connector_id", "x"]
            ),
            max_size=2,
        )
    ):
        tool[name] = draw(garbage)
    if draw(st.booleans()):
        del tool["server_label"]
    return tool


def shown(*things: Any) -> str:
    """Everything a user could see of ``things``: their str and repr."""
    return "\n".join(f"{t}\n{t!r}" for t in things)


class TestNeverShown:
    @FUZZ
    @given(tool=mcp_tools(), where=st.sampled_from(["constructor", "set", "store", "session", "decode"]))
    def test_secrets_in_bad_tools_never_reach_a_message(self, tool: dict[str, Any], where: str) -> None:
        """A tool holding secrets, valid or not, through every entry point: no
        message, error repr, state, patch or write result shows them."""
        store = Store(RealtimeOptions())
        s = store.session()
        calls = {
            "constructor": lambda: RealtimeOptions(tools=[tool]),
            "set": lambda: optstate.set(RealtimeOptions(), "tools", [tool]),
            "store": lambda: store.write({"tools": [tool]}),
            "session": lambda: s.write(Patch({"tools": [tool]})),
            "decode": lambda: (decode({"tools": [tool]}), decode_update({"tools": [tool]})),
        }
        try:
            result = calls[where]()
        except Exception as e:
            check_error(e)  # includes: SECRET is in neither str(e) nor repr(e)
            return
        assert SECRET not in shown(
            result, store.defaults, s.desired, optstate.diff(RealtimeOptions(), s.desired)
        )

    def test_secrets_are_still_sent(self) -> None:
        """The wire carries the secrets: redaction is for showing only."""
        tool = McpTool(server_label="s", authorization=SECRET, headers={"X-Key": SECRET})
        change = optstate.patch(RealtimeOptions, {"tools": [tool]})
        assert json.dumps(encode(change)).count(SECRET) == 2
        assert json.dumps(encode_session(optstate.apply(RealtimeOptions(), change))).count(SECRET) == 2
        assert SECRET not in shown(change, tool, RealtimeOptions(tools=[tool]))

    @pytest.mark.parametrize(
        "value",
        [
            {"type": "mcp", "authorization": SECRET},  # no server_label: the whole dict is shown
            {"type": "mcp", "server_label": "s", "headers": {"Authorization": SECRET, "n": 1}},
            {"type": "mcp", "server_label": "s", "authorization": [SECRET]},
            {"type": "mcp", "server_label": "s", "allowed_tools": {"API_KEY": SECRET, "bad": float("nan")}},
            {"type": "mcp", "server_label": "s", "require_approval": [{"Authorization": SECRET}, {1, 2}]},
            {"type": "nope", "client_secret": {"value": SECRET}},
        ],
    )
    def test_plain_dicts_with_secrets_are_redacted(self, value: dict[str, Any]) -> None:
        """Errors, Patch reprs and Rejection reprs redact secrets inside plain dicts too."""
        with pytest.raises(InvalidOption) as info:
            optstate.set(RealtimeOptions(), "tools", [value])
        assert SECRET not in shown(info.value)
        assert SECRET not in shown(Patch({"tools": [value]}), Patch({"audio": Patch({"x": value})}))
        rejection = optstate.Rejection("evt", Patch(), {"message": "no", "param": value}, Patch())
        assert SECRET not in shown(rejection)

    def test_store_logs_show_no_secret(self, caplog: pytest.LogCaptureFixture) -> None:
        """A whole session life with MCP secrets, rejections and malformed events: the log is clean."""
        tool = {"type": "mcp", "server_label": "s", "authorization": SECRET, "headers": {"X-Key": SECRET}}
        store = Store(RealtimeOptions())
        s = store.session()
        seen: list[Any] = []
        with caplog.at_level(logging.DEBUG, logger="optstate"):
            seen.append(store.write({"tools": [tool]}))
            s.on_server_event({"type": "session.created", "session": encode_session(RealtimeOptions())})
            event = s.sync()
            assert event is not None
            assert SECRET in json.dumps(event)
            error = {"event_id": event["event_id"], "message": "no", "param": "session.tools", "echo": tool}
            seen.append(s.on_server_event({"type": "error", "error": error}))
            for bad in (
                {"type": "session.created", "session": {"tools": [{**tool, "server_label": None}]}},
                {
                    "type": "session.created",
                    "session": {"tools": [{k: v for k, v in tool.items() if k != "type"}]},
                },
                {"type": "session.updated", "session": {"tools": [{"type": "mcp", "authorization": SECRET}]}},
                {"type": {"authorization": SECRET}},
                {"type": "error", "error": {"event_id": {"authorization": SECRET}}},
            ):
                s.on_server_event(bad)
            s.on_reconnect()
            s.on_server_event({"type": "session.created", "session": encode_session(RealtimeOptions())})
            seen.append(s.sync())
        assert caplog.records, "the malformed events were logged"
        assert SECRET not in caplog.text
        assert SECRET not in shown(*seen[:2], s.desired, s.sent, s.confirmed, store.defaults)

    def test_a_server_echoing_a_secret_is_scrubbed(self, caplog: pytest.LogCaptureFixture) -> None:
        """A server's error text that echoes secrets the session sent: neither the log
        nor the Rejection shows them (the livekit adapter logs that same message)."""
        tool = {
            "type": "mcp",
            "server_label": "s",
            "authorization": SECRET,
            "headers": {"X-Key": SECRET + "-h"},
        }
        store = Store(RealtimeOptions())
        s = store.session()
        store.write({"tools": [tool]})
        s.on_server_event({"type": "session.created", "session": encode_session(RealtimeOptions())})
        event = s.sync()
        assert event is not None
        error = {
            "type": "invalid_request_error",
            "message": f"bad authorization {SECRET} and header {SECRET}-h",
            "param": "session.tools",
            "event_id": event["event_id"],
        }
        with caplog.at_level(logging.DEBUG, logger="optstate"):
            rejection = s.on_server_event({"type": "error", "error": error})
        assert rejection is not None
        assert rejection.error["message"] == "bad authorization <redacted> and header <redacted>"
        assert "bad authorization <redacted>" in caplog.text
        assert SECRET not in caplog.text
        assert SECRET not in shown(rejection, rejection.error)
        assert list(s.desired.tools) == []  # rolled back all the same


class TestSecretShapes:
    """The shapes a secret takes on its way back: a token without its scheme,
    nested error fields, a misspelled key, a URL's query string."""

    def test_the_token_of_a_bearer_value_is_a_secret_of_its_own(self) -> None:
        """``Authorization: Bearer <token>``: a server that echoes only the token
        is scrubbed all the same."""
        found = secret_strings({"headers": {"Authorization": f"Bearer {SECRET}"}})
        assert SECRET in found
        assert scrub(f"token {SECRET} refused", found) == "token <redacted> refused"

    @given(
        shape=st.recursive(
            st.sampled_from(["x", SECRET, f"echo {SECRET}!"]),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abc"), inner),
            max_leaves=8,
        )
    )
    def test_nested_strings_are_scrubbed(self, shape: Any) -> None:
        """Every string of server data, at any depth, loses the secrets."""
        clean = scrub_data({"error": shape}, frozenset({SECRET}))
        assert SECRET not in json.dumps(clean)
        if SECRET not in json.dumps(shape):
            assert clean == {"error": shape}

    @pytest.mark.parametrize(
        "key", ["authorisation", "Authorizaton", "X-Api-Key", "apikey", "client-secrets"]
    )
    def test_a_misspelled_secret_key_is_hidden(self, key: str) -> None:
        """A key one typo away from a secret name is hidden in reprs and errors."""
        assert SECRET not in safe_repr({key: SECRET})
        with pytest.raises(InvalidOption) as info:
            RealtimeOptions(tools=[{"type": "mcp", "server_label": "s", key: SECRET}])
        assert SECRET not in shown(info.value)

    @pytest.mark.parametrize("key", ["voice", "max_output_tokens", "prompt", "model", "tool_choice"])
    def test_ordinary_keys_stay_visible(self, key: str) -> None:
        """The near-miss rule does not hide ordinary option names."""
        assert "visible" in safe_repr({key: "visible"})

    def test_a_rejection_echoing_the_token_in_a_nested_field_is_scrubbed(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A server error that echoes only the token of ``Bearer <token>``, inside a
        nested field: neither the Rejection nor the log shows it."""
        store = Store(RealtimeOptions())
        s = store.session()
        tool = {"type": "mcp", "server_label": "s", "headers": {"Authorization": f"Bearer {SECRET}"}}
        store.write({"tools": [tool]})
        s.on_server_event({"type": "session.created", "session": encode_session(RealtimeOptions())})
        event = s.sync()
        assert event is not None
        error = {
            "message": f"token {SECRET} refused",
            "event_id": event["event_id"],
            "details": [{"header": f"{SECRET}", "hint": {"echo": f"was {SECRET}"}}],
        }
        with caplog.at_level(logging.DEBUG, logger="optstate"):
            rejection = s.on_server_event({"type": "error", "error": error})
        assert rejection is not None
        assert SECRET not in json.dumps(rejection.error)
        assert SECRET not in caplog.text
        assert rejection.error["message"] == "token <redacted> refused"

    def test_a_url_query_is_not_shown(self) -> None:
        """A URL's query string (it may carry a key) is hidden in reprs."""
        url = f"wss://host.example/v1/realtime?model=m&api_key={SECRET}"
        assert SECRET not in safe_repr({"url": url})
        assert safe_repr(url) == repr("wss://host.example/v1/realtime?<redacted>")


class SecretSpammingDriver(ToyDriver):
    """A broken toy: every update it sends also restates an MCP tool with secrets,
    and a model write resends everything even when nothing changed."""

    TOOL: ClassVar[dict[str, Any]] = {
        "type": "mcp",
        "server_label": "m",
        "authorization": SECRET,
        "headers": {"X-Key": SECRET},
    }

    def update_model(self, **kw: Any) -> None:
        super().update_model(**kw)
        for session in self.model.sessions:
            session.send(dict(session.opts))  # spurious: resends what did not change

    def events(self, index: int) -> list[dict[str, Any]]:
        events = super().events(index)
        for e in events:
            e["session"]["tools"] = [self.TOOL]
        return events


def test_harness_reports_show_no_secret() -> None:
    """A failing harness report quotes what the plugin sent, secrets hidden."""
    result = check(lambda: SecretSpammingDriver(broken=False), examples=50, seed_value=0)
    assert not result.ok
    assert "sent:" in result.report
    assert SECRET not in result.report


def allocated() -> int:
    """Memory blocks the interpreter holds, after a full collection (cheap, unlike
    tracemalloc: a leak of N sessions shows as N times their blocks)."""
    gc.collect()
    return sys.getallocatedblocks()


class TestMemory:
    @pytest.mark.timeout(120)
    @pytest.mark.parametrize("how", ["close", "drop"])
    def test_ten_thousand_closed_sessions_give_their_memory_back(self, how: str) -> None:
        """10 000 sessions with session-level writes (some synced), closed (or just
        dropped): the store forgets them, and a second round of 10 000 ends where
        the first one did (what stays is bounded: caches and table sizes)."""
        store = Store(RealtimeOptions())
        created = {"type": "session.created", "session": encode_session(RealtimeOptions())}

        def round_of_sessions() -> int:
            sessions = [store.session() for _ in range(10_000)]
            for i, s in enumerate(sessions):
                s.write({"instructions": f"session {i}", "audio.output.speed": 0.5 + (i % 5) / 5})
                if i % 10 == 0:  # some talk to a server too
                    s.on_server_event(created)
                    s.sync()
            assert len(store._overrides()) == 10_000
            peak = allocated()
            if how == "close":
                for s in sessions:
                    s.close()
                assert not store._overrides()
                assert not store._holders
                assert not store.sessions
            del sessions, s
            assert not store._overrides()
            assert not store._holders
            return peak

        baseline = allocated()
        round_of_sessions()
        after_first = allocated()
        peak = round_of_sessions()
        after_second = allocated()
        grown = peak - after_first
        assert grown > 100_000, f"the sessions should have cost memory ({grown} blocks)"
        assert after_first - baseline < 20_000, "the first round kept memory per session"
        assert after_second - after_first < grown * 0.01, (
            f"{after_second - after_first} of {grown} blocks kept by the second round ({how})"
        )
