"""The flashes a live session asked the display for, until their markers go out.

The worker thread schedules flashes (:meth:`FlashScheduler.show`); the display presents
them in its own thread and reports each one's onset (:meth:`FlashScheduler.on_onset`,
kept short: it only queues); the worker turns the onsets reported into flash markers
(:meth:`FlashScheduler.send_shown`). The two deques (flashes scheduled and not shown,
onsets not sent yet) are the only state shared between the threads, behind one lock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from neurospell.markers import flash_to_str

from ..flashgroups import group_members

__all__ = ["FlashScheduler"]

#: The phases whose flashes are spelling flashes (counted in ``n_spell``).
_SPELLING = ("copy", "free")


class FlashScheduler:
    """Schedule flashes on a display and turn the onsets it reports into flash markers.

    Parameters
    ----------
    display : Display
        ``show_flashes(groups)``; ``cancel_flashes()`` (optional: returns how many
        scheduled flashes it dropped).
    layout : GridLayout
        The grid (which symbols a group flashes: a calibration flash's target label).

    Attributes
    ----------
    n_flashes : int
        Flash markers sent in all.
    n_spell : int
        Spelling flash markers sent in all (``copy``/``free``).
    n_phase : int
        Flash markers sent in the current phase (:meth:`new_phase`).
    n_spell_run : int
        Spelling flash markers sent in the current spelling run (:meth:`new_run`).

    Notes
    -----
    A tag goes with each flash scheduled: ``(phase, trial, symbol)`` (``symbol``: the
    calibration cue, else ``None``). Onsets are matched to tags in order; an onset the
    display reports without a flash scheduled (a display that flashes by itself) has no
    tag and is sent as an unlabelled flash.
    """

    def __init__(self, display, layout):
        self.display = display
        self.layout = layout
        self._onsets: deque = deque()  # (group, onset, tag) reported by the display
        self._scheduled: deque = deque()  # tags of flashes scheduled, not yet shown
        self._lock = threading.Lock()
        self._cancel = getattr(display, "cancel_flashes", None)
        self.n_flashes = 0
        self.n_spell = 0
        self.n_phase = 0
        self.n_spell_run = 0

    def show(self, groups, tag) -> None:
        """Ask the display to flash ``groups`` in order, each tagged ``tag`` (worker thread).

        A group is a layout group index or a
        :class:`~neurospell.session.flashgroups.SymbolGroup` (its marker names the members).
        """
        groups = tuple(g if isinstance(g, tuple) else int(g) for g in groups)
        with self._lock:
            self._scheduled.extend([tag] * len(groups))
        self.display.show_flashes(groups)

    def on_onset(self, group: int, onset: float) -> None:
        """The display presented ``group`` at ``onset`` (its thread: only queues)."""
        with self._lock:
            tag = self._scheduled.popleft() if self._scheduled else None
            self._onsets.append((group if isinstance(group, tuple) else int(group), float(onset), tag))

    def cancel(self) -> None:
        """Cancel the flashes scheduled and not shown yet (those the display drops)."""
        if self._cancel is None:
            return
        with self._lock:
            n = int(self._cancel() or 0)
            for _ in range(min(n, len(self._scheduled))):
                self._scheduled.pop()

    def n_scheduled(self) -> int:
        """Flashes scheduled whose marker is not sent yet (not shown, or shown and not sent)."""
        with self._lock:
            return len(self._scheduled) + len(self._onsets)

    def pop(self):
        """The oldest onset reported and not sent: ``(label, onset, tag)``, or ``None``."""
        with self._lock:
            if not self._onsets:
                return None
            group, onset, tag = self._onsets.popleft()
        target = None
        if tag is not None and tag[0] == "calibration":
            target = self.layout.symbols.index(tag[2]) in group_members(self.layout, group)
        if isinstance(group, tuple):
            return flash_to_str(0, target, group), onset, tag
        return flash_to_str(group + 1, target), onset, tag

    def send_shown(self, send: Callable[[str, float], None]) -> None:
        """Send the marker of every flash shown so far, in order: ``send(label, onset)``."""
        while True:
            item = self.pop()
            if item is None:
                return
            label, onset, tag = item
            send(label, onset)
            self.n_flashes += 1
            self.n_phase += 1
            if tag is not None and tag[0] in _SPELLING:
                self.n_spell += 1
                self.n_spell_run += 1

    def new_phase(self) -> None:
        """A phase starts: :attr:`n_phase` from 0."""
        self.n_phase = 0

    def new_run(self) -> None:
        """A spelling run starts: :attr:`n_spell_run` from 0."""
        self.n_spell_run = 0
