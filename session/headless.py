"""A display without a screen: a scheduler thread that "shows" each flash at its tick.

:class:`HeadlessDisplay` implements :class:`~neurospell.session.display.Display`: flashes
scheduled with :meth:`~HeadlessDisplay.show_flashes` are presented one per SOA
(``[speller] soa``) by a scheduler thread, each stamped at its tick on the LSL clock
(:func:`neurospell.lsl.local_clock`), and reported to the ``on_onset`` callbacks. It is the
display of ``neurospell spell --headless``, of the tests and of the benchmark.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence

from neurospell.check import NeurospellError, check_positive
from neurospell.logs import logger
from neurospell.lsl import local_clock

__all__ = ["HeadlessDisplay"]


class HeadlessDisplay:
    """Flash groups shown on a clock, no screen.

    Parameters
    ----------
    soa : float
        Stimulus onset asynchrony, seconds (> 0): the time between two flash onsets.
    flash_duration : float | None
        How long a flash stays lit, seconds (informative only; default ``soa / 2``).

    Attributes
    ----------
    n_shown : int
        Flashes presented so far.
    cued : str | None
        The symbol cued last (:meth:`cue`).
    max_lateness : float
        Largest delay (seconds) between a flash's planned tick and the time it was stamped.
    """

    def __init__(self, soa: float, flash_duration: float | None = None):
        self.soa = check_positive("soa", soa)
        self.flash_duration = self.soa / 2 if flash_duration is None else check_positive("flash_duration", flash_duration)
        self._queue: deque[int] = deque()
        self._callbacks: tuple = ()  # (replaced, never mutated: a flash reads it unlocked)
        self._cond = threading.Condition()
        self._stop = False
        self._next_tick: float | None = None
        self.n_shown = 0
        self.cued: str | None = None
        self.max_lateness = 0.0
        self._thread = threading.Thread(target=self._run, name="neurospell-headless-display", daemon=True)
        self._thread.start()

    @classmethod
    def from_config(cls, speller) -> HeadlessDisplay:
        """From a ``[speller]`` config section (``soa``, ``flash_duration``)."""
        return cls(speller.soa, min(speller.flash_duration, speller.soa))

    def __repr__(self):
        return f"HeadlessDisplay(soa={self.soa:g} s)"

    # -- the Display protocol --------------------------------------------------------------
    def show_flashes(self, groups: Sequence[int]) -> None:
        """Schedule ``groups`` (flash-group indices, or
        :class:`~neurospell.session.flashgroups.SymbolGroup` s: the symbols one flash lights),
        one per SOA after those already queued."""
        gs = [g if isinstance(g, tuple) else int(g) for g in groups]
        if any(not g if isinstance(g, tuple) else g < 0 for g in gs):
            raise NeurospellError(f"show_flashes: flash groups are indices >= 0, got {list(groups)!r}.")
        with self._cond:
            if self._stop:
                raise NeurospellError("show_flashes: this HeadlessDisplay is closed; create a new one.")
            self._queue.extend(gs)
            self._cond.notify_all()

    def on_onset(self, callback):
        """Register ``callback(group, onset)``, called from the scheduler thread per flash;
        returns the function that unregisters it."""
        if not callable(callback):
            raise NeurospellError(f"on_onset: callback must be callable, got {callback!r}.")
        with self._cond:
            self._callbacks = (*self._callbacks, callback)

        def unsubscribe() -> None:
            with self._cond:
                self._callbacks = tuple(cb for cb in self._callbacks if cb is not callback)

        return unsubscribe

    @property
    def n_subscribers(self) -> int:
        """How many onset callbacks are registered (a stopped session must not stay one)."""
        return len(self._callbacks)

    def cue(self, symbol: str | None) -> None:
        """Remember the cued symbol (nothing to draw)."""
        self.cued = symbol

    # -- extras ------------------------------------------------------------------------------
    def cancel_flashes(self) -> int:
        """Drop the flashes scheduled but not shown yet; returns how many."""
        with self._cond:
            n = len(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        return n

    @property
    def n_queued(self) -> int:
        """Flashes scheduled and not shown yet."""
        with self._cond:
            return len(self._queue)

    def close(self, timeout: float = 2.0) -> None:
        """Stop the scheduler thread (queued flashes are dropped)."""
        with self._cond:
            self._stop = True
            self._queue.clear()
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- scheduler ---------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                now = local_clock()
                tick = now if self._next_tick is None or self._next_tick < now else self._next_tick
                while now < tick and not self._stop:
                    self._cond.wait(tick - now)
                    now = local_clock()
                if self._stop:
                    return
                if not self._queue:  # cancelled while waiting
                    continue
                group = self._queue.popleft()
                onset = local_clock()
                callbacks = list(self._callbacks)
            self.max_lateness = max(self.max_lateness, onset - tick)
            self._next_tick = tick + self.soa
            self.n_shown += 1
            for cb in callbacks:
                try:
                    cb(group, onset)
                except Exception as err:  # noqa: BLE001 - a broken callback must not stop the display
                    logger.error("HeadlessDisplay: onset callback %r failed: %s", cb, err, exc_info=True)
