"""Soak: thousands of random writes over several sessions on real websockets,
with random drops, rejections, late and silent answers, checked throughout.

::

    python -m tools.soak [--seconds 60] [--sessions 4] [--seed N]    # from the repository root

(``make soak`` runs it.) A test program, not part of the installed package: it
uses only optstate's public API, and tests import its :class:`Link` and checks.

Each session is a :class:`Link`: a :class:`~optstate.SessionState` driving a
websocket to the loopback :class:`~optstate.server.RealtimeServer` the way a
plugin does (``sync()`` then send; every server event to ``on_server_event``;
on a disconnect, reconnect and ``on_reconnect``). Between bursts of random
operations every link is *settled* (connected, nothing in flight, nothing to
send), and then, for every session:

* **nothing lost**: the server's state on the session's current connection
  equals the session's desired state, and the desired state holds every value
  the test wrote (last writer wins per field, minus the rollbacks the store
  reported for updates the server rejected);
* **nothing applied twice**: on every connection, no update carried a field
  that already held that value (until a rejection made the client's view of
  the server stale), and no update was applied twice.

It prints the counts and exits 1 on any mismatch. Needs aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

try:
    import aiohttp
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("tools.soak needs aiohttp: pip install 'optstate[server]'") from e

from optstate import Rejection, SessionState, Store, apply, diff, get, patch
from optstate.openai import (
    FunctionTool,
    McpTool,
    NoiseReduction,
    RealtimeOptions,
    SemanticVad,
    ServerVad,
    Transcription,
    decode_update,
)
from optstate.server import RealtimeServer, ServerSession

__all__ = [
    "VALUES",
    "Counts",
    "Expected",
    "Link",
    "check_connections",
    "check_links",
    "main",
    "soak",
]

#: Values the soak writes, per option path (all valid; MCP carries a secret).
VALUES: dict[str, Sequence[Any]] = {
    "audio.output.speed": [0.5, 0.75, 1.0, 1.25, 1.5],
    "audio.output.voice": ["alloy", "marin", "cedar", "ash"],
    "instructions": ["", "Be brief.", "Speak French.", "x" * 2000],
    "max_output_tokens": ["inf", 100, 4096],
    "tool_choice": ["auto", "none", "required"],
    "truncation": ["auto", "disabled"],
    "audio.input.turn_detection": [
        ServerVad(),
        None,
        SemanticVad(eagerness="high"),
        ServerVad(threshold=0.7),
    ],
    "audio.input.transcription": [None, Transcription(model="whisper-1")],
    "audio.input.noise_reduction": [None, NoiseReduction(type="far_field")],
    "tracing": [None, "auto"],
    "tools": [
        (),
        (FunctionTool(name="lookup"),),
        (McpTool(server_label="m", server_url="https://mcp.example/sse", authorization="sk-soak-secret"),),
    ],
    "model": ["gpt-realtime", "gpt-realtime-mini"],
}


class Link:
    """One :class:`~optstate.SessionState` on a websocket to ``server``, the way a
    plugin drives it: ``sync()`` then send; every server event to
    ``on_server_event``; on a disconnect, reconnect and ``on_reconnect``. The
    first update of a connection waits for its ``session.created``, unless
    ``eager``: then it goes out at once, the whole desired state (as livekit's
    plugin does), and ``session.created`` arrives with it in flight.

    ``answer_timeout``: a connection that answers nothing for that long while
    something is in flight (or never sends ``session.created``) is closed and
    replaced, as a plugin's keep-alive would.
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        server: RealtimeServer,
        state: SessionState[RealtimeOptions],
        name: str,
        *,
        answer_timeout: float = 0.5,
        eager: bool = False,
    ) -> None:
        self.http = http
        self.server = server
        self.state = state
        self.name = name
        self.answer_timeout = answer_timeout
        self.eager = eager
        #: Event ids of whole-state updates sent before the server's state was known.
        self.full_updates: set[str] = set()
        self.connections = 0
        self.disconnects = 0
        self.rejections: list[Rejection] = []
        self.tag = ""
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._created = asyncio.Event()
        self._send = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self._heard = time.monotonic()
        self.on_rejection: Callable[[Rejection], None] | None = None

    # -- the connection --------------------------------------------------------

    async def connect(self) -> None:
        """Open a new connection (retrying briefly) and start reading it."""
        self._created.clear()
        ws = None
        for _attempt in range(50):
            self.connections += 1
            self.tag = f"{self.name}.{self.connections}"
            model = quote(self.state.desired.model)
            url = f"{self.server.base_url}/realtime?model={model}&client={self.tag}"
            try:
                ws = await self.http.ws_connect(url)
                break
            except (aiohttp.ClientError, OSError):
                await asyncio.sleep(0.01)
        if ws is None:
            raise ConnectionError(f"{self.name}: cannot connect to {self.server.base_url}")
        # No await from here on: the old connection's events are all handled, and
        # nothing is synced for this one before its session.created.
        self.state.on_reconnect()
        self._created = asyncio.Event()
        self._ws = ws
        self._heard = time.monotonic()
        self._reader = asyncio.create_task(self._read(ws))
        if self.eager:
            self._created.set()  # let the first update go before session.created
            await self.pump()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            self._heard = time.monotonic()
            event = json.loads(msg.data)
            rejection = self.state.on_server_event(event)
            if rejection is not None:
                self.rejections.append(rejection)
                if self.on_rejection is not None:
                    self.on_rejection(rejection)
            if isinstance(event, dict) and event.get("type") == "session.created":
                self._created.set()
            await self.pump()
        if not self._closing:
            self.disconnects += 1
            await self.connect()

    async def pump(self) -> bool:
        """Send the session's next update, if it has one and may send; True if sent."""
        async with self._send:
            ws = self._ws
            if ws is None or ws.closed or not self._created.is_set() or self.state.closed:
                return False
            unknown = self.state.confirmed is None
            event = self.state.sync()
            if event is None:
                return False
            if unknown:
                self.full_updates.add(event["event_id"])
            with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                # A connection going away: its replacement is sent everything.
                await ws.send_str(json.dumps(event))
            return True

    async def reconnect(self) -> None:
        """Close the connection from the client side; the reader reconnects."""
        if self._ws is not None:
            await self._ws.close()

    async def close(self) -> None:
        """Close for good (no reconnect)."""
        self._closing = True
        while self._reader is not None and not self._reader.done():
            reader = self._reader
            if self._ws is not None:
                await self._ws.close()
            with contextlib.suppress(Exception):
                await reader  # it may have been reconnecting: then close the new one too
        if self._ws is not None:
            await self._ws.close()

    # -- quiet -------------------------------------------------------------------

    @property
    def settled(self) -> bool:
        """Connected, answered, and nothing left to send (as of the last pump)."""
        ws = self._ws
        return (
            ws is not None
            and not ws.closed
            and self._created.is_set()
            and self.state.confirmed is not None
            and not self.state.in_flight
            and not self.state.needs_reconnect
        )

    async def settle(self, timeout: float = 10.0) -> None:
        """Pump until settled; replace a connection that went silent or must be
        replaced for a refused change. TimeoutError if it never settles."""
        deadline = time.monotonic() + timeout
        while True:
            sent = await self.pump()
            if not sent and self.settled:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not settle within {timeout} s")
            waiting = self.state.confirmed is None or self.state.in_flight
            silent = time.monotonic() - self._heard > self.answer_timeout
            ws = self._ws
            if ws is not None and not ws.closed:
                refused = self.state.needs_reconnect and not self.state.in_flight
                if refused or (waiting and silent):
                    await self.reconnect()
            await asyncio.sleep(0.002)

    def server_session(self) -> ServerSession:
        """The server side of the current connection."""
        for conn in reversed(self.server.connections):
            if conn.query.get("client") == self.tag:
                return conn
        raise LookupError(f"no server connection for {self.tag}")


# -- checking ------------------------------------------------------------------------


@dataclass
class Expected:
    """What the test wrote, per session: {path: value} (last writer wins)."""

    per_session: list[dict[str, Any]]

    def model_write(self, leaves: dict[str, Any]) -> None:
        for values in self.per_session:
            values.update(leaves)

    def session_write(self, index: int, leaves: dict[str, Any]) -> None:
        self.per_session[index].update(leaves)


def check_links(links: Sequence[Link], expected: Expected | None = None) -> list[str]:
    """The invariants of settled links: one line per mismatch (empty: all good)."""
    problems: list[str] = []
    for i, link in enumerate(links):
        desired = link.state.desired
        conn = link.server_session()
        if conn.closed:
            problems.append(f"{link.name}: settled on a closed connection {conn.index}")
        if conn.state != desired:
            moved = sorted(_diff_paths(conn.state, desired))
            problems.append(f"{link.name}: server {conn.index} differs from desired at {moved}")
        if expected is not None:
            for path, value in expected.per_session[i].items():
                if get(desired, path) != value:
                    problems.append(f"{link.name}: write lost at {path}: desired has {get(desired, path)!r}")
    return problems


def check_connections(server: RealtimeServer, links: Sequence[Link] = ()) -> list[str]:
    """Replay every connection's updates: none applied twice, none spurious
    (except the whole-state updates ``links`` sent before knowing the server's state)."""
    full = set().union(*(link.full_updates for link in links))
    problems: list[str] = []
    for conn in server.connections:
        state = conn.initial
        stale = False  # after a rejection the client's view of this server may lag
        seen: set[Any] = set()
        for outcome in conn.updates:
            event = outcome.event
            event_id = event.get("event_id")
            if event_id in seen:
                problems.append(f"connection {conn.index}: update {event_id} received twice")
            seen.add(event_id)
            if not outcome.applied:
                stale = True
                continue
            change = decode_update(event["session"], conn.dialect)
            if not stale and event_id not in full:
                same = [p for p, v in change.paths().items() if get(state, p) == v]
                if same:
                    problems.append(f"connection {conn.index}: update {event_id} re-sent unchanged {same}")
            state = apply(state, change)
        if state != conn.state:
            problems.append(f"connection {conn.index}: replay differs from the server's state")
    return problems


def _diff_paths(a: RealtimeOptions, b: RealtimeOptions) -> list[str]:
    return list(diff(a, b).paths())


# -- the soak ----------------------------------------------------------------------------


@dataclass
class Counts:
    """What a soak did."""

    writes: int = 0
    model_writes: int = 0
    session_writes: int = 0
    rejections: int = 0
    server_drops: int = 0
    drop_after: int = 0
    client_drops: int = 0
    reconnects: int = 0
    delays: int = 0
    mutes: int = 0
    audio: int = 0
    settles: int = 0
    checks: int = 0
    mismatches: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        names = [
            "writes",
            "model_writes",
            "session_writes",
            "rejections",
            "server_drops",
            "drop_after",
            "client_drops",
            "reconnects",
            "delays",
            "mutes",
            "audio",
            "settles",
            "checks",
            "mismatches",
        ]
        return "  ".join(f"{n}={getattr(self, n)}" for n in names)


def _random_leaves(rng: random.Random) -> dict[str, Any]:
    paths = rng.sample(sorted(VALUES), rng.choice([1, 1, 1, 2, 3]))
    if "model" in paths and rng.random() < 0.8:
        paths.remove("model")  # a model change costs a reconnect: keep it rare
    return {p: rng.choice(VALUES[p]) for p in paths} or {"instructions": f"w{rng.randrange(10**6)}"}


async def soak(
    seconds: float = 60.0,
    *,
    sessions: int = 4,
    seed: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Counts:
    """Run the soak for about ``seconds``; return the counts (``mismatches`` 0 is a pass)."""
    rng = random.Random(seed)
    counts = Counts()
    server = RealtimeServer()
    async with server, aiohttp.ClientSession() as http:
        store: Store[RealtimeOptions] = Store(RealtimeOptions())
        links = [
            Link(http, server, store.session(), f"s{i}", answer_timeout=0.2, eager=i % 2 == 1)
            for i in range(sessions)
        ]
        expected = Expected([{} for _ in links])

        def rolled_back(index: int) -> Callable[[Rejection], None]:
            def record(r: Rejection) -> None:
                counts.rejections += 1
                expected.session_write(index, r.rolled_back.paths())

            return record

        for i, link in enumerate(links):
            link.on_rejection = rolled_back(i)
            await link.connect()
        deadline = time.monotonic() + seconds
        next_report = time.monotonic() + 10
        while time.monotonic() < deadline:
            for _ in range(rng.randrange(5, 40)):
                await _random_op(rng, server, store, links, expected, counts)
                if rng.random() < 0.3:
                    await asyncio.sleep(0)
            await _settle_and_check(server, links, expected, counts)
            if progress is not None and time.monotonic() > next_report:
                next_report = time.monotonic() + 10
                progress(counts.line())
        replay = check_connections(server, links)
        counts.problems += replay
        counts.mismatches += len(replay)
        counts.reconnects = sum(link.connections - 1 for link in links)
        for link in links:
            await link.close()
    return counts


async def _random_op(
    rng: random.Random,
    server: RealtimeServer,
    store: Store[RealtimeOptions],
    links: list[Link],
    expected: Expected,
    counts: Counts,
) -> None:
    roll = rng.random()
    i = rng.randrange(len(links))
    link = links[i]
    try:
        conn = link.server_session()
    except LookupError:  # reconnecting: the server has not seen the new connection yet
        roll = 0.0
    if roll < 0.75:
        leaves = _random_leaves(rng)
        counts.writes += 1
        if rng.random() < 0.4:
            counts.model_writes += 1
            store.write(patch(RealtimeOptions, leaves))
            expected.model_write(patch(RealtimeOptions, leaves).paths())
            for other in links:
                await other.pump()
        else:
            counts.session_writes += 1
            link.state.write(patch(RealtimeOptions, leaves))
            expected.session_write(i, patch(RealtimeOptions, leaves).paths())
            await link.pump()
    elif roll < 0.80:
        for _ in range(rng.randrange(1, 4)):
            param = rng.choice([None, "session.audio.output.speed", "session.instructions"])
            server.fail_next_update(session=conn.index, param=param)
    elif roll < 0.84:
        counts.server_drops += 1
        await server.drop(conn.index)
    elif roll < 0.87:
        counts.drop_after += 1
        server.drop_after(rng.randrange(1, 3), session=conn.index)
    elif roll < 0.89:
        counts.client_drops += 1
        await link.reconnect()
    elif roll < 0.94:
        counts.delays += 1
        server.delay(rng.choice([0.0, 0.0, 0.005, 0.02, 0.05]), session=conn.index)
    elif roll < 0.96:
        counts.mutes += 1
        server.mute(session=conn.index)
    else:
        counts.audio += 1
        if not conn.closed:
            await server.mark_audio_produced(conn.index)


async def _settle_and_check(
    server: RealtimeServer, links: list[Link], expected: Expected, counts: Counts
) -> None:
    counts.settles += 1
    counts.reconnects = sum(link.connections - 1 for link in links)
    try:
        await asyncio.gather(*(link.settle() for link in links))
    except TimeoutError as e:
        counts.mismatches += 1
        counts.problems.append(str(e))
        return
    # Settled means quiet: nothing may have moved since, but check in one go.
    if all(link.settled for link in links):
        counts.checks += 1
        problems = check_links(links, expected)
        counts.mismatches += len(problems)
        counts.problems += problems


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.soak``: run, print the counts, exit 1 on a mismatch."""
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to run (default 60)")
    parser.add_argument("--sessions", type=int, default=4, help="sessions at once (default 4)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a new one)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.sessions < 1:
        parser.error("--seconds must be > 0 and --sessions >= 1")
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"soak: {args.seconds:g} s, {args.sessions} sessions, seed {seed}", flush=True)
    started = time.monotonic()
    counts = asyncio.run(soak(args.seconds, sessions=args.sessions, seed=seed, progress=print))
    for problem in counts.problems[:20]:
        print("  MISMATCH " + problem)
    print(f"soak done in {time.monotonic() - started:.1f} s: {counts.line()}")
    if counts.mismatches:
        print(f"FAILED: reproduce with python -m tools.soak --seconds {args.seconds:g} --seed {seed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
