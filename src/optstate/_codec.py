"""The codec protocol: what the store needs to know about a wire protocol.

The core's side of the line between a store and a dialect. :class:`Codec` is the
protocol a wire format implements (``optstate.openai.OpenAICodec`` is one);
:class:`Refusal` is what a codec's server rules report. Both the store and the
schema packages import this module, never each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from ._errors import OptStateError
from ._patch import Patch

__all__ = ["Codec", "Refusal", "default_codec", "register_codec"]

S = TypeVar("S")


@attrs.frozen
class Refusal:
    """A change the live server would refuse: its dotted ``path``, the new ``value``
    and the ``reason``. It can take effect only on a new connection."""

    path: str
    value: Any
    reason: str


class Codec(Protocol[S]):
    """What the store needs to know about a wire protocol (see ``optstate.openai``)."""

    def encode(self, change: Patch, *, event_id: str) -> dict[str, Any] | None:
        """The client event for ``change``, or ``None`` for no event."""

    def decode(self, session: Mapping[str, Any]) -> S:
        """The state a server's full session object describes."""

    def refusals(self, held: S, change: Patch, *, audio_started: bool) -> Sequence[Refusal]:
        """The leaves of ``change`` a server holding ``held`` would refuse."""

    def connect_patch(self, desired: S) -> Patch:
        """What a fresh connection must be sent so the server holds ``desired``."""

    def fresh(self, desired: S) -> S:
        """What a server holds on a new connection made for ``desired``."""

    def param_path(self, param: str) -> str | None:
        """The dotted option path an error's ``param`` names, if any."""

    def audio_started(self, event: Mapping[str, Any]) -> bool:
        """Whether a server event shows the model has produced audio output."""


_CODECS: dict[type, Callable[[], Codec[Any]]] = {}


def register_codec(cls: type, make: Callable[[], Codec[Any]]) -> None:
    """Make ``make()`` the default codec of stores whose defaults are ``cls``."""
    _CODECS[cls] = make


def default_codec(defaults: S) -> Codec[S]:
    """The codec registered for ``type(defaults)``."""
    make = _CODECS.get(type(defaults))
    if make is None:
        raise OptStateError(
            f"no wire codec registered for {type(defaults).__name__}: pass Store(..., codec=...)"
        )
    return make()
