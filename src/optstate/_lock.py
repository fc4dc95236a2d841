"""The store's write lock (see :mod:`optstate._store` for what it guards)."""

from __future__ import annotations

import threading
import time

__all__ = ["WriteLock"]

#: How often a waiter yields and retries before it sleeps on the lock.
_SPINS = 100


class WriteLock:
    """The store's re-entrant lock, taken without joining the OS wait queue.

    With the GIL, a thread that waits for a lock its holder released is handed
    the lock while it still has to get the GIL back; the holder, wanting the
    lock for its next write, then sleeps too, and every write costs two thread
    switches. Here a waiter only ever tries the lock and, if it is held, lets
    other threads run (the holder among them) before trying again, so the
    running thread keeps writing. Writes hold the lock for microseconds.
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def __enter__(self) -> None:
        lock = self._lock
        if lock.acquire(False):
            return
        for _ in range(_SPINS):
            time.sleep(0)  # releases the GIL: the holder can finish
            if lock.acquire(False):
                return
        lock.acquire()  # held for long (the holder is blocked, say in a log handler): sleep

    def __exit__(self, *_: object) -> None:
        self._lock.release()
