"""The display protocol a live session drives: show these flash groups, report each onset.

A session asks a display to show flash groups in order (:meth:`Display.show_flashes`
schedules them and returns at once); the display calls every callback registered with
:meth:`Display.on_onset` with ``(group, onset)`` once per flash, in flash order, where
``onset`` is the time (seconds, LSL local clock) the first frame showing that flash was
presented. The session sends the flash's marker with that timestamp. The Qt
:class:`~neurospell.gui.grid.SpellerGrid` implements it; a headless display can too.
This is a structural protocol (:class:`typing.Protocol`): an implementation need not
inherit from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

__all__ = ["Display", "OnsetCallback"]

#: ``callback(group, onset)``: flash group index (stimulus code - 1) and its onset, seconds
#: on the LSL local clock.
OnsetCallback = Callable[[int, float], None]


@runtime_checkable
class Display(Protocol):
    """What a live session needs from a stimulus display."""

    def show_flashes(self, groups: Sequence[int]) -> None:
        """Schedule flash groups (indices into ``SpellerLayout.flash_groups``), in order.

        Returns at once; flashes already scheduled are shown first.
        """

    def on_onset(self, callback: OnsetCallback) -> None:
        """Register ``callback(group, onset)``, called once per shown flash, in flash order."""
