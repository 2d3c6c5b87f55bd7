"""neurospell.gui: the Qt views (PySide6 + pyqtgraph).

* :class:`~neurospell.gui.grid.SpellerGrid` -- the flashing speller grid; implements the
  :class:`~neurospell.session.display.Display` protocol a live session drives (flash groups in,
  onsets stamped on the LSL clock out).
* :class:`~neurospell.gui.scope.Scope` -- the live multi-channel scope with signal quality.
* :mod:`neurospell.gui.theme` -- the high-contrast theme and font scale.
* :class:`~neurospell.gui.app.SpellerWindow` -- the speller window (:mod:`neurospell.gui.app`
  lists its modules); :class:`~neurospell.gui.controller.SessionController` -- its widget-free
  controller (the connection, the live session, the snapshots polled and signalled).

The views own no pipeline state and do no signal processing: a session pushes samples and
flash requests, and reads onsets back.
"""

from neurospell.session.display import Display, OnsetCallback

from .grid import COMPLETION_SYMBOL, SpellerGrid, frames_for_duration, screen_refresh_rate
from .scope import Scope
from .theme import HIGH_CONTRAST, LIGHT, Theme, apply_theme, current_theme

__all__ = [
    "Display", "OnsetCallback", "SpellerGrid", "COMPLETION_SYMBOL", "frames_for_duration",
    "screen_refresh_rate", "Scope", "Theme", "HIGH_CONTRAST", "LIGHT", "apply_theme", "current_theme",
]
