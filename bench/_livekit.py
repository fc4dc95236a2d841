"""What the livekit benchmarks share: sessions that never connect."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cut_off_session(model: Any) -> Any:
    """A session of ``model`` whose connection task is cancelled before it runs
    (as the harness's livekit driver does): a live session object, no network.
    Call it in a running asyncio loop."""
    session = model.session()
    task = session._main_atask
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return session
