"""The faults a test sets on the loopback server, and which connection each one hits."""

from __future__ import annotations

from typing import NamedTuple, TypeVar

__all__ = ["Controls", "Failure"]

T = TypeVar("T")


class Failure(NamedTuple):
    """One queued rejection (:meth:`~optstate.server.RealtimeServer.fail_next_update`):
    the session it is aimed at (``None``: any) and the error it answers with."""

    session: int | None
    code: str
    message: str
    param: str | None


class Controls:
    """The test controls of one server. ``session`` is a connection index, or
    ``None`` for every connection; a setting for one connection overrides the
    setting for all, and a setting for all replaces every earlier one."""

    def __init__(self) -> None:
        self._failures: list[Failure] = []
        self._drops: list[tuple[int | None, int]] = []  # (session or None, messages left)
        self._delays: dict[int | None, float] = {None: 0.0}
        self._audio: dict[int | None, bool] = {None: False}

    # -- rejections ----------------------------------------------------------

    def queue_failure(self, failure: Failure) -> None:
        """Queue a rejection, after those queued before."""
        self._failures.append(failure)

    def take_failure(self, index: int) -> Failure | None:
        """Remove and return the first queued rejection that hits connection ``index``."""
        for i, failure in enumerate(self._failures):
            if failure.session is None or failure.session == index:
                del self._failures[i]
                return failure
        return None

    def withdraw_failures(self, session: int | None) -> int:
        """Remove the queued rejections aimed at ``session`` (every one when
        ``None``); return how many were removed."""
        kept = [f for f in self._failures if session is not None and f.session != session]
        withdrawn = len(self._failures) - len(kept)
        self._failures = kept
        return withdrawn

    # -- drops ---------------------------------------------------------------

    def queue_drop(self, n_messages: int, session: int | None) -> None:
        """Close after ``n_messages`` more client messages of ``session`` (of all together: ``None``)."""
        if n_messages < 1:
            raise ValueError(f"n_messages must be >= 1 (got {n_messages})")
        self._drops.append((session, n_messages))

    def count_drop(self, index: int) -> bool:
        """Count one client message of connection ``index``; True when it was the last."""
        last = False
        kept = []
        for session, left in self._drops:
            if session is None or session == index:
                left -= 1
                if left == 0:
                    last = True
                    continue
            kept.append((session, left))
        self._drops = kept
        return last

    # -- delays and audio ----------------------------------------------------

    def set_delay(self, seconds: float, session: int | None) -> None:
        """Answer ``seconds`` late (``math.inf``: never)."""
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0 (got {seconds})")
        _set(self._delays, session, float(seconds))

    def delay_of(self, index: int) -> float:
        """How late connection ``index`` is answered (``math.inf``: never)."""
        return _get(self._delays, index)

    def set_audio(self, enabled: bool, session: int | None) -> None:
        """Whether ``response.create`` produces audio."""
        _set(self._audio, session, enabled)

    def audio_of(self, index: int) -> bool:
        """Whether a response of connection ``index`` produces audio."""
        return _get(self._audio, index)


def _set(table: dict[int | None, T], session: int | None, value: T) -> None:
    if session is None:
        table.clear()
    table[session] = value


def _get(table: dict[int | None, T], index: int) -> T:
    return table[index] if index in table else table[None]
