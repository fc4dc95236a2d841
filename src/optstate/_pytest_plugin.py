"""The optstate pytest plugin: the ``realtime_server`` and ``optstate_check`` fixtures.

Meant to be registered as a ``pytest11`` entry point, so it is loaded by every
pytest run where optstate is installed: it imports nothing beyond pytest (and
pytest-asyncio when present) until a test asks for the fixture, which then needs
``aiohttp`` (``pip install 'optstate[server]'``) and pytest-asyncio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .server import RealtimeServer

try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - pytest then reports the async fixture as unsupported
    _async_fixture = pytest.fixture  # type: ignore[assignment]

__all__ = ["optstate_check", "realtime_server"]


@_async_fixture
async def realtime_server() -> AsyncIterator[RealtimeServer]:
    """A started :class:`~optstate.server.RealtimeServer` on 127.0.0.1 and a free
    port, closed (every connection included) after the test."""
    from .server import RealtimeServer

    async with RealtimeServer() as server:
        yield server


@pytest.fixture
def optstate_check() -> Callable[..., None]:
    """The harness in one line: ``optstate_check(MyDriver, examples=100)`` runs
    random programs through the driver and fails the test with the harness'
    report (property, session, expected vs server view, minimal program)."""
    from .testing import assert_plugin_correct

    return assert_plugin_correct
