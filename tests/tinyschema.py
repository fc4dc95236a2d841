"""A second, tiny schema: proves the patch machinery is not OpenAI-specific."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import strategies as st
from pyrsistent import PVector, pvector

from optstate._record import leaf, node
from optstate._validators import number, optional, text, to_vector, vector_of


class Tripwire:
    """A value whose comparison fails the test: diff must skip it by identity."""

    def __eq__(self, other: object) -> bool:
        raise AssertionError("diff compared a subtree it should have skipped by identity")

    __hash__ = object.__hash__


@attrs.frozen(kw_only=True)
class Knob:
    """A leaf record (replaced whole)."""

    level: int = leaf(0, validator=number(0, 10, integer=True))


@attrs.frozen(kw_only=True)
class Panel:
    """A merge node."""

    title: str = leaf("", validator=text())
    knob: Knob | None = leaf(None)
    payload: Any = leaf(None)


@attrs.frozen(kw_only=True)
class Device:
    """The root."""

    name: str = leaf("dev", wire="deviceName", validator=text(nonempty=True))
    volume: float = leaf(0.5, validator=number(0, 1))
    tags: PVector[str] = leaf(factory=pvector, converter=to_vector, validator=vector_of(text()))
    front: Panel = node(Panel)
    back: Panel = node(Panel)
    note: str | None = leaf(None, validator=optional(text()))


def panels() -> st.SearchStrategy[Panel]:
    return st.builds(
        Panel,
        title=st.text(max_size=3),
        knob=st.none() | st.builds(Knob, level=st.integers(0, 10)),
    )


def devices() -> st.SearchStrategy[Device]:
    return st.builds(
        Device,
        name=st.text(min_size=1, max_size=3),
        volume=st.floats(0, 1),
        tags=st.lists(st.text(max_size=2), max_size=3),
        front=panels(),
        back=panels(),
        note=st.none() | st.text(max_size=3),
    )
