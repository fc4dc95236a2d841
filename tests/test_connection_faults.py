"""Faults on real websockets (the loopback server on 127.0.0.1): connections
dropped with updates in flight or during the reconnect's own update, bursts of
rejections, late and silent servers. Once a session is connected again, the
server holds exactly its desired state; no write is lost, none applied twice.

The client loop is :class:`tools.soak.Link`: a SessionState driven the way
a plugin drives it (sync, then send; every event to on_server_event; on a
disconnect, reconnect and on_reconnect)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from tools.soak import Expected, Link, check_connections, check_links, soak

import optstate
from optstate import Store
from optstate.openai import RealtimeOptions
from optstate.server import RealtimeServer

pytestmark = pytest.mark.timeout(60)


class Rig:
    """A loopback server (it records what it did with each update), a store, and
    links made on demand; the expected values of every write, rollbacks included."""

    def __init__(self, server: RealtimeServer, http: aiohttp.ClientSession, eager: bool) -> None:
        self.eager = eager
        self.server = server
        self.http = http
        self.store: Store[RealtimeOptions] = Store(RealtimeOptions())
        self.links: list[Link] = []
        self.expected = Expected([])

    async def link(self, *, answer_timeout: float = 0.3) -> Link:
        index = len(self.links)
        link = Link(
            self.http,
            self.server,
            self.store.session(),
            f"s{index}",
            answer_timeout=answer_timeout,
            eager=self.eager,
        )
        self.expected.per_session.append({})
        link.on_rejection = lambda r: self.expected.session_write(index, r.rolled_back.paths())
        self.links.append(link)
        await link.connect()
        await link.settle()
        return link

    async def write(self, target: Link | None, **leaves: Any) -> None:
        """A model-level (target None) or session-level write, then send."""
        change = optstate.patch(RealtimeOptions, {k.replace("__", "."): v for k, v in leaves.items()})
        if target is None:
            self.store.write(change)
            self.expected.model_write(change.paths())
        else:
            target.state.write(change)
            self.expected.session_write(self.links.index(target), change.paths())
        for link in self.links:
            await link.pump()

    async def settle_and_check(self) -> None:
        await asyncio.wait_for(asyncio.gather(*(link.settle() for link in self.links)), 20)
        assert check_links(self.links, self.expected) == []
        assert check_connections(self.server, self.links) == []

    async def close(self) -> None:
        for link in self.links:
            await link.close()


@pytest.fixture(params=[False, True], ids=["after-created", "eager"])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    """Links that send their first update after session.created, or at once (as livekit does)."""
    server = RealtimeServer()
    async with server, aiohttp.ClientSession() as http:
        r = Rig(server, http, eager=request.param)
        yield r
        await r.close()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.002)


class TestDrops:
    async def test_drop_with_updates_in_flight(self, rig: Rig) -> None:
        """Connections dropped while their updates await answers: all is resent."""
        a, b = await rig.link(), await rig.link()
        rig.server.delay(0.2)
        await rig.write(None, audio__output__speed=1.25, instructions="one")
        await rig.write(a, audio__output__voice="marin")
        await rig.write(b, tool_choice="none", audio__input__turn_detection=None)
        await rig.write(None, instructions="two")
        assert a.state.in_flight
        assert b.state.in_flight
        for link in (a, b):
            await rig.server.drop(link.server_session().index)
        rig.server.delay(0)
        await rig.settle_and_check()
        assert a.connections >= 2
        assert b.connections >= 2
        assert a.state.desired.audio.output.voice == "marin"
        assert b.state.desired.instructions == "two"

    async def test_drop_right_after_the_reconnects_own_update(self, rig: Rig) -> None:
        """The server handles the reconnect's first update, then drops again."""
        a = await rig.link()
        await rig.write(a, audio__output__speed=0.75, truncation="disabled")
        await rig.settle_and_check()
        rig.server.drop_after(1)  # the next client message anywhere: the reconnect's update
        await rig.server.drop(a.server_session().index)
        await rig.write(a, instructions="while reconnecting")
        await rig.settle_and_check()
        assert a.connections >= 3
        second = rig.server.connections[1]
        assert second.closed
        assert [e["type"] for e in second.received] == ["session.update"]

    async def test_drop_while_the_reconnects_own_update_is_unanswered(self, rig: Rig) -> None:
        """The reconnect's update is in flight (late server) when that connection drops too."""
        a = await rig.link()
        await rig.write(a, audio__output__voice="cedar")
        await rig.settle_and_check()
        rig.server.delay(0.3)
        await rig.server.drop(a.server_session().index)
        await rig.server.wait_for_event("session.update", session=1)
        assert a.state.in_flight
        await rig.write(None, instructions="meanwhile")
        await rig.server.drop(1)
        rig.server.delay(0)
        await rig.settle_and_check()
        assert a.connections >= 3

    async def test_client_side_disconnects(self, rig: Rig) -> None:
        """The client's own connection loss, repeatedly, in the middle of writes."""
        links = [await rig.link() for _ in range(3)]
        for n in range(5):
            await rig.write(None, max_output_tokens=100 + n)
            await rig.write(links[n % 3], audio__output__speed=[0.5, 1.0, 1.5][n % 3])
            await links[(n + 1) % 3].reconnect()
        await rig.settle_and_check()


class TestRejectionsAndSilence:
    async def test_burst_of_rejections(self, rig: Rig) -> None:
        """Five rejected updates in a row: each rolled back and reported, the rest applied."""
        a, b = await rig.link(), await rig.link()
        index = a.server_session().index
        for param in [None, "session.instructions", None, "session.audio.output.speed", None]:
            rig.server.fail_next_update(session=index, param=param)
        # Each write names fields no later write names: a rejected one must be
        # rolled back (and reported), an accepted one must stay.
        writes: list[dict[str, Any]] = [
            {"audio__output__voice": "marin"},
            {"instructions": "x", "audio__output__speed": 0.5},
            {"truncation": "disabled"},
            {"tool_choice": "required", "max_output_tokens": 100},
            {"audio__input__noise_reduction": {"type": "far_field"}},
            {"audio__input__transcription": {"model": "whisper-1"}},
            {"audio__input__turn_detection": None},
            {"tracing": "auto"},
        ]
        for leaves in writes:
            await rig.write(a, **leaves)
            await rig.write(None, output_modalities=["text"] if len(leaves) > 1 else ["audio"])
        await rig.settle_and_check()
        errors = [e for e in rig.server.sent[index] if e["type"] == "error"]
        assert len(errors) == len(a.rejections) == 5
        assert not b.rejections
        assert any(r.rolled_back for r in a.rejections), "nothing was rolled back"
        for r in a.rejections:
            refused = r.change.paths()
            assert all(refused[p] != v for p, v in r.rolled_back.paths().items())

    async def test_late_answers(self, rig: Rig) -> None:
        """Every answer 50 ms late: updates pile up in flight and are confirmed in order."""
        links = [await rig.link() for _ in range(2)]
        rig.server.delay(0.05)
        for n in range(12):
            await rig.write(links[n % 2] if n % 3 else None, instructions=f"n{n}", audio__output__speed=1.5)
        assert any(len(link.state.in_flight) > 1 for link in links)
        await rig.settle_and_check()
        for link in links:
            assert link.state.confirmed == link.state.desired

    async def test_silent_server(self, rig: Rig) -> None:
        """A server that applies but never answers: the client gives up on it and reconnects."""
        a = await rig.link(answer_timeout=0.2)
        rig.server.mute(session=a.server_session().index)
        await rig.write(a, audio__output__voice="ash", instructions="unheard")
        await asyncio.sleep(0.05)
        assert a.state.in_flight
        assert a.state.confirmed != a.state.desired
        await rig.settle_and_check()
        assert a.connections >= 2

    async def test_refused_change_waits_for_the_next_connection(self, rig: Rig) -> None:
        """A voice change after the model spoke is held back, then sent on reconnect."""
        a = await rig.link()
        await rig.server.mark_audio_produced(a.server_session().index)
        await until(lambda: a.state.audio_started)
        await rig.write(a, audio__output__voice="marin", audio__output__speed=1.25)
        await until(lambda: bool(a.state.needs_reconnect) and not a.state.in_flight)
        assert a.server_session().state.audio.output.speed == 1.25
        assert a.server_session().state.audio.output.voice == "alloy"
        await rig.settle_and_check()
        assert a.connections >= 2


class TestSoak:
    @pytest.mark.timeout(60)
    async def test_ci_soak(self) -> None:
        """A few seconds of random writes, drops, rejections, delays and mutes: no mismatch."""
        counts = await soak(4.0, sessions=3, seed=20240501)
        assert counts.mismatches == 0, counts.problems
        assert counts.writes > 100
        assert counts.rejections
        assert counts.server_drops
        assert counts.reconnects
        assert counts.checks
