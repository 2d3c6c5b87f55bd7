"""The speller application window: a display and a control panel for a live session.

:class:`SpellerWindow` shows the speller grid (the session's
:class:`~neurospell.session.display.Display`), the live scope, the typed text with its word
completions and re-ranked candidates, the training report, and the workflow:

1. **Connect** -- a simulated participant, BrainFlow's synthetic board, an LSL stream
   (picked from a list of the streams visible) or a recording replayed. The window asks a
   :class:`Connector` (supplied by the command line: the GUI imports no acquisition code) to
   open the source; the scope shows its samples at once.
2. **Calibrate** -- a :class:`~neurospell.session.live.LiveSession` is created with the cued
   text and started: the grid outlines each character to attend while rows and columns flash.
3. **Train** -- runs in the session's worker when calibration ends: progress bar, then
   held-out AUC and the target / non-target ERPs (and accuracy vs repetitions when the
   report has it).
4. **Spell** -- copy (a phrase) or free spelling follows training; the *Spell* button
   switches between them (``SetPhase``).

The window owns no pipeline state and does no signal processing, decoding or language
modelling. Its :class:`~neurospell.gui.controller.SessionController` (no widgets) owns the
connection and the session: it reads :meth:`LiveSession.snapshot` on a timer (20 Hz) and sends
intents (``Start``, ``Pause``, ``Resume``, ``Stop``, ``Undo``, ``Select``, ``SetPhase``); the
window reads new samples for the scope on another timer (25 Hz, a copy out of the source's
ring buffer) and draws what the controller's signals say.

Modules: :mod:`~neurospell.gui.window` (the window: layout, actions),
:mod:`~neurospell.gui.controller`, :mod:`~neurospell.gui.workflow` (the workflow panel),
:mod:`~neurospell.gui.session_view` (snapshots drawn), :mod:`~neurospell.gui.settings_view`,
:mod:`~neurospell.gui.announcer`, :mod:`~neurospell.gui.timing_tab`, :mod:`~neurospell.gui.keys`
(the single switch), :mod:`~neurospell.gui.launch` (:func:`run_app`).

Keyboard
--------
Every control is reachable with Tab / Shift+Tab and shows a thick focus outline; buttons
have Alt mnemonics. Shortcuts: F5 start (calibrate) or resume, Escape pause, Ctrl+Shift+S
stop, Ctrl+Z undo the last symbol, Ctrl+G the grid, Ctrl+L the completion list, Ctrl+S
save the settings, Ctrl+O open the session folder, Ctrl+Q quit. In the grid the arrow keys
move a cursor and Enter/Space types the symbol under it; in the completion list Enter
chooses a completion.

Single-switch mode: one key (``[gui] switch_key``, default F8) pauses the session while
the BCI has control; outside BCI control (paused, idle, no session) it drives row-column
scanning of the grid (:mod:`neurospell.gui.scanning`): rows, then the cells of the chosen
row, and a "resume" step that hands control back to the BCI.

Screen readers
--------------
Every control has an accessible name and description. Each typed character is announced
with a ``QAccessibleAnnouncementEvent`` (Qt >= 6.8: the platform's accessibility bridge --
AT-SPI on Linux, UIA on Windows, NSAccessibility on macOS -- speaks it politely, without
moving the focus); the announcements made are also kept in :attr:`SpellerWindow.announcements`.
"""

from __future__ import annotations

from neurospell.session.rig import SOURCE_KINDS, Connection, Connector, ConnectRequest

from .controller import BCI_PHASES, ConnectionState, SessionController, SessionPhase
from .launch import display_available, run_app
from .window import SWITCH_INTERVAL, SpellerWindow, grid_for_config

__all__ = ["SpellerWindow", "ConnectRequest", "Connector", "Connection", "SOURCE_KINDS", "display_available",
           "grid_for_config", "BCI_PHASES", "run_app", "SessionController", "ConnectionState", "SessionPhase",
           "SWITCH_INTERVAL"]
