"""How responsive the GUI thread is: a 10 ms timer that records how late each tick comes.

A display that flashes stimuli must keep its timers: work on the GUI thread (a fit, a
garbage collection, an import, a file conversion) shows up as late ticks. The probe runs on
the thread it measures and records, per phase of whatever it watches, each tick's lateness
and the part of it the thread spent *runnable but waiting for a CPU* (Linux
``/proc/thread-self/schedstat``): on a busy machine the OS, not the program, keeps a thread
waiting, and ``lateness - that wait`` is the time the thread could have run but did not
(its own work, or waiting for the GIL).

Used by ``benchmarks/bench_gui_latency.py`` (the figures) and the window's workflow test
(bounds that catch work on the GUI thread).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6 import QtCore

__all__ = ["LatenessProbe", "PhaseLateness", "runnable_wait_ns"]


def runnable_wait_ns() -> int | None:
    """Nanoseconds the calling thread has spent runnable but waiting for a CPU.

    Read from Linux's ``/proc/thread-self/schedstat`` (second field); ``None`` where it is
    not available (another OS, or a kernel without schedstats).
    """
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class PhaseLateness:
    """The probe's figures for one phase; all times in ms.

    Attributes
    ----------
    n_ticks : int
        Ticks recorded in the phase.
    p50, p99, max : float
        Lateness of a tick (time past its 10 ms interval): median, 99th percentile, largest.
    n_over_frame : int
        Ticks later than one 60 Hz frame (16.7 ms).
    blocked_p99, blocked_second, blocked_max : float
        Lateness not explained by waiting for a CPU: 99th percentile, second largest, largest.
    """

    n_ticks: int
    p50: float
    p99: float
    max: float
    n_over_frame: int
    blocked_p99: float
    blocked_second: float
    blocked_max: float

    @classmethod
    def of(cls, late_s, blocked_s) -> PhaseLateness:
        """Figures of arrays of per-tick lateness and blocked time (s), shape (n_ticks,)."""
        v = 1000 * np.asarray(late_s, dtype=float)
        b = np.sort(1000 * np.asarray(blocked_s, dtype=float))
        return cls(n_ticks=int(v.size), p50=round(float(np.median(v)), 1), p99=round(float(np.percentile(v, 99)), 1),
                   max=round(float(v.max()), 1), n_over_frame=int((v > 1000 / 60).sum()),
                   blocked_p99=round(float(np.percentile(b, 99)), 1),
                   blocked_second=round(float(b[-2] if b.size > 1 else b[-1]), 1),
                   blocked_max=round(float(b[-1]), 1))


class LatenessProbe:
    """A 10 ms precise timer on the calling (GUI) thread recording how late each tick came.

    Parameters
    ----------
    phase_of : callable () -> str
        The phase a tick belongs to (read on each tick; e.g. the session snapshot's phase).
    on_tick : callable () -> None | None
        Called on each recorded tick after it is recorded (a test's own observations).
    interval_ms : int
        The timer's interval.
    """

    def __init__(self, phase_of: Callable[[], str], on_tick: Callable[[], None] | None = None, *,
                 interval_ms: int = 10):
        self._phase_of = phase_of
        self._on_tick = on_tick
        self._interval_s = interval_ms / 1000
        self._late: dict[str, list[float]] = {}
        self._blocked: dict[str, list[float]] = {}
        self._timer = QtCore.QTimer()
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last = self._wait0 = None
        self._paused = False

    def start(self) -> None:
        self._reset()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def pause(self) -> None:
        """Stop recording (the caller's own work on the GUI thread, e.g. a screenshot)."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._reset()

    def _reset(self) -> None:
        self._last, self._wait0 = time.perf_counter(), runnable_wait_ns()

    def _tick(self) -> None:
        now, wait = time.perf_counter(), runnable_wait_ns()
        late = now - self._last - self._interval_s
        waited = 0.0 if wait is None or self._wait0 is None else (wait - self._wait0) / 1e9
        self._last, self._wait0 = now, wait
        if self._paused:
            return
        phase = self._phase_of()
        self._late.setdefault(phase, []).append(late)
        self._blocked.setdefault(phase, []).append(late - waited)
        if self._on_tick is not None:
            self._on_tick()

    def summary(self) -> dict[str, PhaseLateness]:
        """The figures of each phase seen so far, in the order the phases were first seen."""
        return {phase: PhaseLateness.of(v, self._blocked[phase]) for phase, v in self._late.items()}
