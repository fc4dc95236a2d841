"""examples/realtime_client.py works against the loopback server, and the harness passes it.

After every step the server's state for a session equals what the client's store says
that session wants (``state.desired``). Waits poll (at most ~5 s); nothing sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

pytest.importorskip("aiohttp")

from examples.realtime_client import ClientSession, RealtimeClient
from examples.realtime_client_driver import RealtimeClientDriver, until

from optstate.openai import ServerVad
from optstate.server import RealtimeServer
from optstate.testing import Driver, check


@pytest.fixture
async def client(realtime_server: RealtimeServer) -> AsyncIterator[RealtimeClient]:
    """A client of the loopback server, closed before the server."""
    made = RealtimeClient(realtime_server.base_url, "sk-example", instructions="Be brief.")
    yield made
    await made.aclose()


async def settled(server: RealtimeServer, session: ClientSession, conn: int) -> None:
    """Wait until the session has nothing left to send and the server holds what it wants."""

    def agreed() -> bool:
        states = server.states
        return session.idle and len(states) > conn and states[conn] == session.state.desired

    await until(agreed, f"connection {conn} holding what the store says")


class TestAgainstTheServer:
    async def test_writes_clear_reject_retry_and_reconnect(
        self, realtime_server: RealtimeServer, client: RealtimeClient
    ) -> None:
        """Every step ends with the server holding the store's desired state."""
        server = realtime_server
        a = client.session()
        await settled(server, a, 0)
        b = client.session()  # after a's connection: b's is connection 1
        await settled(server, b, 1)
        assert server.states[0].instructions == "Be brief."

        client.update_options(speed=1.25, voice="marin")  # model level: both sessions
        a.update_options(turn_detection={"type": "semantic_vad"})  # session level: a only
        await settled(server, a, 0)
        await settled(server, b, 1)
        assert server.states[1].audio.output.speed == 1.25
        assert isinstance(server.states[1].audio.input.turn_detection, ServerVad)

        a.update_options(turn_detection=None)  # a null clear
        await settled(server, a, 0)
        assert server.states[0].audio.input.turn_detection is None

        server.fail_next_update(session=0)
        a.update_options(speed=0.75)
        await until(lambda: bool(a.rejections), "the rejection")
        await settled(server, a, 0)
        assert a.state.desired.audio.output.speed == 1.25  # rolled back to what the server holds
        a.update_options(speed=0.75)  # asked again: sent again
        await settled(server, a, 0)
        assert server.states[0].audio.output.speed == 0.75

        await server.drop(0)
        await server.wait_for_connections(3)
        await until(lambda: a.connections == 2, "the reconnect")
        await settled(server, a, 2)
        client.update_options(instructions="Be chatty.")  # after the reconnect
        await settled(server, a, 2)
        await settled(server, b, 1)
        assert server.states[2].audio.output.speed == 0.75
        assert server.states[2].instructions == server.states[1].instructions == "Be chatty."

    async def test_a_write_that_changes_nothing_sends_nothing(
        self, realtime_server: RealtimeServer, client: RealtimeClient
    ) -> None:
        """Writing the value a session already has puts nothing on the wire."""
        a = client.session()
        a.update_options(speed=1.5)
        await settled(realtime_server, a, 0)
        count = len(realtime_server.received[0])
        a.update_options(speed=1.5)
        client.update_options(instructions="Be brief.")
        await settled(realtime_server, a, 0)
        assert len(realtime_server.received[0]) == count


class TestHarness:
    def test_driver_satisfies_the_protocol(self) -> None:
        """The example's driver is a Driver."""
        assert isinstance(RealtimeClientDriver(), Driver)

    def test_the_harness_passes_the_example(self) -> None:
        """Random writes, clears, rejections and reconnects: every property holds."""
        result = check(RealtimeClientDriver, examples=25, seed_value=0, steps=12)
        assert result.ok, result.report
