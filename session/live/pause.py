"""Why a live session does not flash: the user paused it, the source or the markers failed.

:class:`PauseState` is the one record of the three causes and of the pauses that ended
(the ``pauses`` of a :class:`~neurospell.session.live.LiveResult`). It only keeps state:
the session logs, cancels the flashes and publishes around each change. No LSL, no
threads; the clock (LSL time by default) is injected.
"""

from __future__ import annotations

from collections.abc import Callable

from neurospell.lsl import local_clock

__all__ = ["PauseState"]


class PauseState:
    """The user's pause, the source's problem, the markers' problem and the pauses so far.

    Parameters
    ----------
    clock : callable ``() -> float``
        The time a pause starts and ends on (default: the LSL clock, as the decision log).

    Attributes
    ----------
    by_user : bool
        Paused by a :class:`~neurospell.session.live.Pause` intent.
    source_problem : str | None
        Why the source does not deliver (``None``: it does).
    marker_problem : str | None
        Why the markers do not reach the recording (``None``: they do).
    pauses : list of dict
        The pauses that ended (``t``, ``duration``, ``reason``), source and markers.
    """

    def __init__(self, clock: Callable[[], float] = local_clock):
        self.clock = clock
        self.by_user = False
        self.source_problem: str | None = None
        self.marker_problem: str | None = None
        self.pauses: list[dict] = []
        self._source_t0: float | None = None
        self._marker_t0: float | None = None

    def blocked(self) -> bool:
        """Whether flashing waits (any of the three causes)."""
        return self.by_user or self.source_problem is not None or self.marker_problem is not None

    # -- the user ------------------------------------------------------------------------------
    def pause_user(self) -> bool:
        """Pause for the user; ``True`` when it was not paused by the user yet."""
        if self.by_user:
            return False
        self.by_user = True
        return True

    def resume_user(self) -> bool:
        """End the user's pause; ``True`` when there was one."""
        if not self.by_user:
            return False
        self.by_user = False
        return True

    # -- the source ----------------------------------------------------------------------------
    def source_lost(self, why: str) -> float | None:
        """The source stopped delivering (``why``). Returns the time the pause starts when it
        is a new pause, ``None`` when the source had a problem already (its reason is updated)."""
        t0 = None
        if self.source_problem is None:
            t0 = self._source_t0 = self.clock()
        self.source_problem = why
        return t0

    def source_back(self) -> tuple[float, float]:
        """Samples flow again: the pause ends. Returns ``(t, duration)``."""
        t = self.clock()
        duration = t - (self._source_t0 or t)
        self.pauses.append({"t": self._source_t0, "duration": duration, "reason": self.source_problem})
        self.source_problem = None
        self._source_t0 = None
        return t, duration

    # -- the markers ---------------------------------------------------------------------------
    def markers_lost(self, why: str) -> float:
        """The markers stopped reaching the recording. Returns the time the pause starts."""
        self.marker_problem = why
        self._marker_t0 = self.clock()
        return self._marker_t0

    def markers_back(self) -> tuple[float, float]:
        """Markers reach the recording again: the pause ends. Returns ``(t, duration)``."""
        t = self.clock()
        t0 = self._marker_t0 if self._marker_t0 is not None else t
        self.pauses.append({"t": t0, "duration": t - t0, "reason": self.marker_problem})
        self.marker_problem = None
        self._marker_t0 = None
        return t, t - t0
