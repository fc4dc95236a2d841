"""Concurrent writers lose nothing: the final state is a serial replay of the
linearization the store recorded (its versions), from threads and asyncio tasks."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any

import pytest

import optstate
import optstate._lock
from optstate import Store, WriteResult
from optstate.openai import RealtimeOptions

SPEEDS = [0.5, 0.75, 1.0, 1.25, 1.5]
VOICES = ["alloy", "ash", "coral", "marin"]
N_THREADS = 8
WRITES = 1500


def random_write(rng: random.Random, worker: int) -> dict[str, Any]:
    """A write to a field of the worker's own (distinct) or a shared (same) field."""
    kind = rng.randrange(4)
    if kind == 0:
        return {"audio.output.speed": rng.choice(SPEEDS)}  # shared by everyone
    if kind == 1:
        return {"audio.output.voice": rng.choice(VOICES)}  # shared
    if kind == 2:
        return {"instructions": f"worker {worker} wrote {rng.randrange(1000)}"}  # contended
    return {"max_output_tokens": 1 + worker * 100 + rng.randrange(100)}  # distinct values


def write_to(store: Store[Any], sessions: list[Any], target: str, change: dict[str, Any]) -> WriteResult:
    """A model-level write (target "model") or a write to session ``int(target)``."""
    return store.write(change) if target == "model" else sessions[int(target)].write(change)


def replay(log: list[tuple[int, str, dict[str, Any]]], sessions: int) -> tuple[Any, list[Any]]:
    """Serial replay, in version order, on a fresh store with the same sessions."""
    store = Store(RealtimeOptions())
    ss = [store.session() for _ in range(sessions)]
    for _version, target, change in sorted(log, key=lambda e: e[0]):
        write_to(store, ss, target, change)
    return store.defaults, [s.desired for s in ss]


def check(store: Store[Any], sessions: list[Any], log: list[tuple[int, str, dict[str, Any]]]) -> None:
    versions = [v for v, _, _ in log]
    assert len(set(versions)) == len(versions), "two effective writes got the same version"
    assert store.version == len(log), "version count != number of effective writes"
    defaults, desired = replay(log, len(sessions))
    assert store.defaults == defaults
    assert [s.desired for s in sessions] == desired


class TestThreads:
    @pytest.mark.timeout(120)
    def test_threads_lose_no_write(self) -> None:
        """8 threads x 1500 model and session writes: final == serial replay."""
        store = Store(RealtimeOptions())
        sessions = [store.session() for _ in range(3)]
        log: list[tuple[int, str, dict[str, Any]]] = []
        log_lock = threading.Lock()
        barrier = threading.Barrier(N_THREADS)

        def worker(n: int) -> None:
            rng = random.Random(n)
            barrier.wait()
            for _ in range(WRITES):
                change = random_write(rng, n)
                target = "model" if rng.random() < 0.5 else str(rng.randrange(len(sessions)))
                result = write_to(store, sessions, target, change)
                if result.effective:
                    with log_lock:
                        log.append((result.version, target, change))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(N_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=100)
            assert not t.is_alive(), "deadlock"
        check(store, sessions, log)

    def test_update_retries_a_lost_race(self) -> None:
        """store.update(fn) re-runs fn on the winner's snapshot: increments add up."""
        store = Store(RealtimeOptions(max_output_tokens=1))

        def bump(s: RealtimeOptions) -> RealtimeOptions:
            return optstate.set(s, "max_output_tokens", int(s.max_output_tokens) + 1)

        def worker() -> None:
            for _ in range(200):
                store.update(bump)

        threads = [threading.Thread(target=worker) for _ in range(N_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert store.defaults.max_output_tokens == 1 + 200 * N_THREADS
        assert store.version == 200 * N_THREADS

    def test_readers_see_whole_snapshots(self) -> None:
        """A reader never sees half a write: two fields written together stay paired."""
        store = Store(RealtimeOptions())
        stop = threading.Event()
        torn: list[Any] = []

        def writer() -> None:
            for i in range(3000):
                store.write({"instructions": str(i), "max_output_tokens": i % 4096 + 1})
            stop.set()

        def reader() -> None:
            while not stop.is_set():
                s = store.defaults
                if s.instructions and int(s.instructions) % 4096 + 1 != s.max_output_tokens:
                    torn.append(s)

        threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert torn == []


class TestAsyncio:
    async def test_tasks_lose_no_write(self) -> None:
        """Many asyncio tasks interleaving writes (yielding between them): serial replay holds."""
        store = Store(RealtimeOptions())
        sessions = [store.session() for _ in range(3)]
        log: list[tuple[int, str, dict[str, Any]]] = []

        async def task(n: int) -> None:
            rng = random.Random(100 + n)
            for _ in range(300):
                change = random_write(rng, n)
                target = "model" if rng.random() < 0.5 else str(rng.randrange(len(sessions)))
                result = write_to(store, sessions, target, change)
                if result.effective:
                    log.append((result.version, target, change))
                await asyncio.sleep(0)

        await asyncio.wait_for(asyncio.gather(*(task(n) for n in range(16))), timeout=60)
        check(store, sessions, log)

    async def test_tasks_and_threads_together(self) -> None:
        """Writes from a thread pool and from the event loop at once lose nothing."""
        store = Store(RealtimeOptions())
        sessions = [store.session() for _ in range(2)]
        log: list[tuple[int, str, dict[str, Any]]] = []
        lock = threading.Lock()

        def blocking(n: int) -> None:
            rng = random.Random(200 + n)
            for _ in range(500):
                change = random_write(rng, n)
                result = store.write(change)
                if result.effective:
                    with lock:
                        log.append((result.version, "model", change))

        async def task(n: int) -> None:
            rng = random.Random(300 + n)
            for _ in range(500):
                change = random_write(rng, n)
                result = sessions[n % 2].write(change)
                if result.effective:
                    with lock:
                        log.append((result.version, str(n % 2), change))
                await asyncio.sleep(0)

        loop = asyncio.get_running_loop()
        work = [loop.run_in_executor(None, blocking, n) for n in range(4)]
        work += [asyncio.ensure_future(task(n)) for n in range(4)]
        await asyncio.wait_for(asyncio.gather(*work), timeout=60)
        check(store, sessions, log)


class TestWriteLock:
    @pytest.mark.timeout(30)
    def test_excludes_and_reenters(self) -> None:
        """The store's lock: one holder at a time, re-entrant for its holder, and a
        waiter that outlasts its spins still gets it when the holder lets go."""
        lock = optstate._lock.WriteLock()
        inside: list[str] = []
        held = threading.Event()

        def holder() -> None:
            with lock, lock:  # re-entrant
                held.set()
                inside.append("holder in")
                time.sleep(0.2)  # far longer than a waiter spins
                inside.append("holder out")

        t = threading.Thread(target=holder)
        t.start()
        held.wait(5)
        with lock:
            inside.append("waiter")
        t.join(5)
        assert inside == ["holder in", "holder out", "waiter"]


class TestReadProtocol:
    def test_a_read_overtaken_by_writes_reads_again(self) -> None:
        """A session read takes the model, then the session's overrides, then checks the
        model again. Writes landing between the two reads (a model write, then a session
        write) must not give a state that never existed: the model write's other field
        with the session write's value."""
        store: Store[RealtimeOptions] = Store(RealtimeOptions())
        s = store.session()

        class Overtaken(Store[RealtimeOptions]):
            armed = True

            @property  # type: ignore[override]
            def _model(self) -> Any:
                model = self.__dict__["_model"]
                if self.armed:  # another thread, just after this read
                    self.armed = False
                    self.write({"instructions": "model", "audio.output.speed": 1.4})
                    s.write({"audio.output.speed": 1.3})
                return model

            @_model.setter
            def _model(self, value: Any) -> None:
                self.__dict__["_model"] = value

        store.__class__ = Overtaken
        seen = s.desired
        serial = [("", 1.0), ("model", 1.4), ("model", 1.3)]
        assert (seen.instructions, seen.audio.output.speed) in serial
        assert (seen.instructions, seen.audio.output.speed) == ("model", 1.3)  # the read came last
