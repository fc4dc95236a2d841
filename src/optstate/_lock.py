"""The store's write lock (see :mod:`optstate._store` for what it guards)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

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

    ``with lock:`` does all of that. The hot paths spell it out, so the
    uncontended case is two C calls (``acquire`` and ``release`` are the
    underlying lock's own) and no Python frame::

        if not lock.acquire(False):
            lock.wait()
        try:
            ...
        finally:
            lock.release()
    """

    __slots__ = ("acquire", "release")

    def __init__(self) -> None:
        lock = threading.RLock()
        #: Try (``acquire(False)``) or take the lock: the RLock's own method.
        self.acquire: Callable[..., bool] = lock.acquire
        #: Let go once: the RLock's own method.
        self.release: Callable[[], None] = lock.release

    def wait(self) -> None:
        """Take the lock another thread holds: yield and retry, then sleep on it."""
        for _ in range(_SPINS):
            time.sleep(0)  # releases the GIL: the holder can finish
            if self.acquire(False):
                return
        self.acquire()  # held for long (the holder is blocked, say in a log handler): sleep

    def __enter__(self) -> None:
        if not self.acquire(False):
            self.wait()

    def __exit__(self, *_: object) -> None:
        self.release()
