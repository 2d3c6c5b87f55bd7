"""The display protocol a live session drives (the session-layer, authoritative version).

A :class:`~neurospell.session.live.LiveSession` owns no screen: it asks a display to show
flash groups (:meth:`Display.show_flashes` schedules them, one per SOA, and returns at
once) and learns when each was actually presented through the callbacks registered with
:meth:`Display.on_onset` (``callback(group, onset)``, ``onset`` in seconds on the LSL
clock, :func:`pylsl.local_clock`). The session sends each flash's marker with that onset.
In calibration, and between the selections of copy spelling, :meth:`Display.cue` highlights the
symbol to attend (``None`` clears it).

The Qt grid (``gui/``) and :class:`~neurospell.session.headless.HeadlessDisplay` implement
it; the GUI may import the session layer, never the reverse. This is a structural
protocol (:class:`typing.Protocol`): an implementation need not inherit from it.

A display may also offer ``cancel_flashes() -> int`` (drop the flashes scheduled but not
yet shown, return how many): the session calls it, when present, as soon as a selection
is decided or the session pauses, so that no flash of a finished selection is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

__all__ = ["Display", "OnsetCallback", "Unsubscribe"]

#: ``callback(group, onset)``: flash-group index (stimulus code - 1) or the SymbolGroup
#: shown, and its onset, seconds on the LSL local clock.
OnsetCallback = Callable[[int, float], None]
#: Returned by :meth:`Display.on_onset`: call it to stop the callback's calls (idempotent,
#: thread-safe). A session unsubscribes when its worker ends, so a display outlives the
#: sessions it served without keeping them alive.
Unsubscribe = Callable[[], None]


@runtime_checkable
class Display(Protocol):
    """What a live session needs from a stimulus display."""

    def show_flashes(self, groups: Sequence[int]) -> None:
        """Schedule flash groups (0-based indices of ``SpellerLayout.flash_groups``, or a
        :class:`~neurospell.session.flashgroups.SymbolGroup`: a tuple of the symbol indices
        one flash lights, for checkerboard and adaptive groups), in order.

        One flash per SOA; returns at once; flashes already scheduled are shown first.
        Thread-safe (called from the session's worker thread).
        """

    def on_onset(self, callback: OnsetCallback) -> Unsubscribe:
        """Register ``callback(group, onset)``, called once per shown flash, in flash order,
        ``onset`` on the LSL clock when the flash was presented; returns the function that
        unregisters it."""

    def cue(self, symbol: str | None) -> None:
        """Highlight the symbol to attend (``None`` clears the highlight): in calibration, and in
        copy spelling between two selections (the phrase's next symbol, cleared before its flashes)."""
