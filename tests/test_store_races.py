"""Concurrency: writes from many threads and asyncio tasks while syncs and
server events interleave on the same sessions. No write is lost (the final
state is a serial replay of the store's linearization), no reader sees a torn
snapshot, nothing deadlocks (every wait has a timeout), and the server ends
holding each session's desired state."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import threading
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from tools.soak import Link, check_connections, check_links

import optstate
from optstate import Store
from optstate import _connection as connection_module
from optstate import _store as store_module
from optstate.openai import OpenAICodec, Prompt, RealtimeOptions, decode_update, encode_session
from optstate.server import RealtimeServer

N_WRITERS = 6
N_SESSIONS = 3


@pytest.fixture(autouse=True)
def _switch_often() -> Iterator[None]:
    """Make the interpreter switch threads often, so that races happen."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def pair(writer: int, k: int) -> dict[str, Any]:
    """Two fields always written together, both unique to this write."""
    return {"instructions": f"{writer}:{k}", "prompt": Prompt(id=f"p{writer}-{k}")}


def consistent(state: RealtimeOptions) -> bool:
    """Whether the pair in ``state`` comes from one write (or is the default)."""
    if state.prompt is None:
        return state.instructions == ""
    return state.prompt.id == "p" + state.instructions.replace(":", "-")


class Wire:
    """A simulated server for one session: a sender thread syncs and queues the
    updates (in order), a receiver thread applies each and answers it (or
    rejects it) — so sync races on_server_event, and both race the writers."""

    def __init__(self, session: optstate.SessionState[RealtimeOptions], rng: random.Random, reject: float):
        self.session = session
        self.rng = rng
        self.reject = reject
        self.server = RealtimeOptions()
        self.pending: list[dict[str, Any]] = []
        self.rejections = 0
        self.queue = threading.Lock()  # sync + enqueue is one step, as a plugin's send is
        session.on_server_event({"type": "session.created", "session": encode_session(self.server)})

    def send(self) -> bool:
        with self.queue:
            event = self.session.sync()
            if event is not None:
                self.pending.append(event)
        return event is not None

    def receive(self, *, may_reject: bool = True) -> None:
        with self.queue:
            if not self.pending:
                return
            sent = self.pending.pop(0)
        if may_reject and self.rng.random() < self.reject:
            error = {"type": "invalid_request_error", "message": "no", "event_id": sent["event_id"]}
            assert self.session.on_server_event({"type": "error", "error": error}) is not None
            self.rejections += 1
        else:
            self.server = optstate.apply(self.server, decode_update(sent["session"]))
            self.session.on_server_event({"type": "session.updated", "session": encode_session(self.server)})

    def drain(self) -> None:
        for _ in range(1000):
            sent = self.send()
            self.receive(may_reject=False)
            if not sent and not self.pending:
                return
        raise AssertionError("the session never went quiet")


def run_threads(targets: list[Any], timeout: float = 60.0) -> None:
    """Run, join with a timeout (a deadlock fails the test), re-raise any error."""
    errors: list[BaseException] = []

    def guard(fn: Any) -> Any:
        def run() -> None:
            try:
                fn()
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        return run

    threads = [threading.Thread(target=guard(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "deadlock: a thread did not finish"
    if errors:
        raise errors[0]


class TestThreads:
    @pytest.mark.timeout(120)
    @pytest.mark.parametrize("reject", [0.0, 0.2])
    def test_writers_syncs_and_server_events_race(self, reject: float) -> None:
        """Writers, per-session wire threads and readers at once: no torn snapshot,
        no deadlock, and each server ends with its session's desired state."""
        store = Store(RealtimeOptions())
        sessions = [store.session() for _ in range(N_SESSIONS)]
        wires = [Wire(s, random.Random(i), reject) for i, s in enumerate(sessions)]
        log: list[tuple[int, str, dict[str, Any]]] = []
        log_lock = threading.Lock()
        done = threading.Event()
        torn: list[RealtimeOptions] = []

        def writer(n: int) -> None:
            rng = random.Random(100 + n)
            for k in range(400):
                change = pair(n, k)
                target = rng.choice(["model", *map(str, range(N_SESSIONS))])
                s = None if target == "model" else sessions[int(target)]
                result = store.write(change) if s is None else s.write(change)
                if result.effective:
                    with log_lock:
                        log.append((result.version, target, change))

        def sender(i: int) -> None:
            while not done.is_set():
                wires[i].send()

        def receiver(i: int) -> None:
            while not done.is_set():
                wires[i].receive()

        def reader() -> None:
            while not done.is_set():
                for s in sessions:
                    state = s.desired
                    if not consistent(state):
                        torn.append(state)
                if not consistent(store.defaults):
                    torn.append(store.defaults)

        def writers_then_stop() -> None:
            run_threads([lambda n=n: writer(n) for n in range(N_WRITERS)])
            done.set()

        run_threads(
            [
                writers_then_stop,
                *(lambda i=i: sender(i) for i in range(N_SESSIONS)),
                *(lambda i=i: receiver(i) for i in range(N_SESSIONS)),
                reader,
                reader,
            ]
        )
        assert not torn, f"a reader saw a torn state: {torn[0]!r}"
        for w in wires:
            w.drain()
            assert w.server == w.session.desired
            assert consistent(w.server)
        if reject:
            assert sum(w.rejections for w in wires) > 0
        else:
            # No rollbacks: the final state is the serial replay of the linearization.
            versions = [v for v, _, _ in log]
            assert len(set(versions)) == len(versions) == store.version
            replay = Store(RealtimeOptions())
            again = [replay.session() for _ in range(N_SESSIONS)]
            for _v, target, change in sorted(log, key=lambda e: e[0]):
                (replay.write(change) if target == "model" else again[int(target)].write(change))
            assert [s.desired for s in sessions] == [s.desired for s in again]


class TestAsyncio:
    @pytest.mark.timeout(120)
    async def test_tasks_and_threads_write_while_links_talk_to_a_server(self) -> None:
        """asyncio tasks and threads write at once while real websocket links sync:
        every write lands once, the servers end holding the desired states."""
        server = RealtimeServer()
        async with server, aiohttp.ClientSession() as http:
            store: Store[RealtimeOptions] = Store(RealtimeOptions())
            links = [
                Link(http, server, store.session(), f"s{i}", eager=i == 1, answer_timeout=1.0)
                for i in range(N_SESSIONS)
            ]
            for link in links:
                await link.connect()
            server.delay(0.002)
            log: list[tuple[int, str, dict[str, Any]]] = []
            log_lock = threading.Lock()

            def write(n: int, k: int, target: str) -> None:
                change = pair(n, k)
                s = None if target == "model" else links[int(target)].state
                result = store.write(change) if s is None else s.write(change)
                if result.effective:
                    with log_lock:
                        log.append((result.version, target, change))

            async def task_writer(n: int) -> None:
                rng = random.Random(n)
                for k in range(60):
                    target = rng.choice(["model", *map(str, range(N_SESSIONS))])
                    write(n, k, target)
                    for link in links:
                        await link.pump()
                    await asyncio.sleep(0)

            def thread_writer(n: int) -> None:
                rng = random.Random(n)
                for k in range(300):
                    write(n, k, rng.choice(["model", *map(str, range(N_SESSIONS))]))

            threads = asyncio.gather(*(asyncio.to_thread(thread_writer, 50 + n) for n in range(3)))
            tasks = asyncio.gather(*(task_writer(n) for n in range(4)))
            await asyncio.wait_for(asyncio.gather(threads, tasks), 60)
            server.delay(0)
            await asyncio.wait_for(asyncio.gather(*(link.settle() for link in links)), 30)
            assert check_links(links) == []
            assert check_connections(server, links) == []
            replay = Store(RealtimeOptions())
            again = [replay.session() for _ in range(N_SESSIONS)]
            for _v, target, change in sorted(log, key=lambda e: e[0]):
                (replay.write(change) if target == "model" else again[int(target)].write(change))
            assert [link.state.desired for link in links] == [s.desired for s in again]
            for link in links:
                await link.close()


class TestRaces:
    """Races made to happen deterministically, at the worst moment."""

    def test_a_write_racing_a_rollback_is_not_undone(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A write landing between an error's rollback decision and its commit wins."""
        store = Store(RealtimeOptions())
        s = store.session()
        s.on_server_event({"type": "session.created", "session": encode_session(RealtimeOptions())})
        s.write({"audio.output.speed": 1.5})
        event = s.sync()
        assert event is not None
        real_patch = connection_module.patch
        raced: list[bool] = []

        def patch_after_a_user_write(*args: Any, **kwargs: Any) -> Any:
            if not raced:  # the rollback's patch is built: the user writes just then
                raced.append(True)
                s.write({"audio.output.speed": 1.25})
            return real_patch(*args, **kwargs)

        monkeypatch.setattr(connection_module, "patch", patch_after_a_user_write)
        error = {"type": "invalid_request_error", "message": "no", "event_id": event["event_id"]}
        rejection = s.on_server_event({"type": "error", "error": error})
        assert rejection is not None
        assert not rejection.rolled_back
        assert s.desired.audio.output.speed == 1.25

    def test_an_error_racing_sync_waits_for_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An error arriving on another thread in the middle of sync() is handled
        after it: the rollback sees the update sync put in flight, nothing is re-sent."""
        store = Store(RealtimeOptions())
        s = store.session()
        server = RealtimeOptions()
        s.on_server_event({"type": "session.created", "session": encode_session(server)})
        s.write({"audio.output.speed": 1.5})
        first = s.sync()
        assert first is not None
        s.write({"audio.output.voice": "marin"})
        error = {"type": "invalid_request_error", "message": "no", "event_id": first["event_id"]}
        reader = threading.Thread(target=s.on_server_event, args=({"type": "error", "error": error},))

        class RacingCodec(OpenAICodec):
            def refusals(self, *args: Any, **kwargs: Any) -> Any:
                if reader.ident is None:  # in the middle of sync: the error arrives now
                    reader.start()
                    reader.join(0.2)  # blocked by sync's lock, as it should be
                return super().refusals(*args, **kwargs)

        monkeypatch.setattr(s, "_codec", RacingCodec())
        second = s.sync()
        reader.join(5)
        assert second is not None
        assert not reader.is_alive()
        server = optstate.apply(server, decode_update(second["session"]))  # first was rejected
        assert s.sync() is None, "re-sent what the rollback already restored"
        assert server == s.desired

    def test_a_write_racing_close_leaves_nothing_behind(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A session closed while its write commits keeps no override in the store."""
        store = Store(RealtimeOptions())
        s = store.session()
        real_apply = store_module.apply_moved
        closed = []

        def apply_then_close(*args: Any) -> Any:
            if not closed:
                closed.append(True)
                s.close()  # another thread, just then
            return real_apply(*args)

        monkeypatch.setattr(store_module, "apply_moved", apply_then_close)
        s.write({"audio.output.voice": "marin"})
        assert s.closed
        assert not store._overrides()
        assert not store._holders

    @pytest.mark.timeout(60)
    def test_close_racing_writes_from_threads(self) -> None:
        """Many sessions written and closed from different threads: no leftover overrides."""
        store = Store(RealtimeOptions())
        sessions = [store.session() for _ in range(200)]

        def write_all() -> None:
            for i, s in enumerate(sessions):
                with contextlib.suppress(optstate.StaleSession):
                    s.write({"instructions": f"w{i}"})

        def close_all() -> None:
            for s in sessions:
                s.close()

        run_threads([write_all, write_all, close_all])
        assert not store._overrides()
        assert not store._holders
