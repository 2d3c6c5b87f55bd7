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
modelling: it reads :meth:`LiveSession.snapshot` on a timer (20 Hz), reads new samples for
the scope on another (25 Hz, a copy out of the source's ring buffer), and sends intents
(``Start``, ``Pause``, ``Resume``, ``Stop``, ``Undo``, ``Select``, ``SetPhase``).

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

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from neurospell.check import NeurospellError
from neurospell.config import Config, SpellerConfig
from neurospell.logs import logger
from neurospell.session.live import Pause, Resume, Select, SetPhase, Stop, Undo
from neurospell.session.rig import SOURCE_KINDS, Connection, Connector, ConnectRequest

from .announcer import Announcer
from .controller import BCI_PHASES, ConnectionState, SessionController, SessionPhase, new_decisions
from .grid import SpellerGrid, frames_for_duration, screen_refresh_rate
from .keys import SwitchKeyFilter
from .named import named
from .outcome import finished_message
from .panels import TextPanel, TrainingReport, spoken_symbol
from .scanning import RowColumnScanner
from .scope import Scope
from .settings import GuiSettings, default_settings_dir, load_settings, save_config, save_settings
from .settings_view import SettingsView
from .theme import apply_theme
from .timing_tab import TimingTab
from .workflow import WorkflowPanel, stage_name

__all__ = ["SpellerWindow", "ConnectRequest", "Connector", "Connection", "SOURCE_KINDS", "display_available",
           "grid_for_config", "BCI_PHASES", "run_app"]

#: The interpreter's thread switch interval while a window is open (seconds; Python's default is
#: 0.005). The session's worker runs in this process: each time the GUI thread needs the GIL
#: back (PySide releases it around Qt calls) it waits up to one interval while the worker runs
#: Python code, and one frame of GUI work takes many such turns (0.1 ms: the worker still runs
#: its Python in 0.1 ms slices; switching costs it a few microseconds each).
SWITCH_INTERVAL = 0.0001

#: Milliseconds between the steps of a view change made while the grid may flash (the training
#: report's data, then its tab): a frame, so that the GUI thread's timers run between them.
_STEP_MS = 17


class _OnFirstPaint(QtCore.QObject):
    """Calls ``callback`` (queued) after the first paint of ``widget``, then stops watching."""

    def __init__(self, widget: QtWidgets.QWidget, callback):
        super().__init__(widget)
        self._callback = callback
        widget.installEventFilter(self)

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QtCore.QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QtCore.QTimer.singleShot(0, self._callback)
        return False


def display_available(timeout: float = 15.0) -> tuple[bool, str]:
    """Whether Qt can open a window on this machine's display.

    Qt aborts the process when its platform plugin cannot connect to a display, so the test
    runs in a subprocess that creates a ``QApplication``.

    Returns
    -------
    ok : bool
    reason : str
        What was found (``"no $DISPLAY or $WAYLAND_DISPLAY"``, the platform's error, ...).
    """
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.split(":")[0] in ("offscreen", "minimal", "vnc"):
        return False, f"QT_QPA_PLATFORM={platform} draws no window"
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False, "no $DISPLAY or $WAYLAND_DISPLAY"
    code = "from PySide6 import QtWidgets; app = QtWidgets.QApplication(['neurospell']); print(app.platformName())"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"Qt did not open the display within {timeout:g} s"
    if out.returncode != 0:
        err = (out.stderr.strip().splitlines() or ["Qt could not start"])[-1]
        return False, f"Qt cannot open the display: {err}"
    return True, f"Qt platform {out.stdout.strip()}"


def grid_for_config(speller: SpellerConfig, *, refresh_rate: float | None = None, **kwargs
                    ) -> tuple[SpellerGrid, str | None]:
    """A grid for ``[speller]``, and a warning when its timing had to be rounded to whole frames.

    :meth:`SpellerGrid.from_config` refuses an SOA or flash duration that is not a whole
    number of frames at the display's refresh rate; the window then uses the nearest whole
    numbers of frames and says so (the warning names the config keys to change).
    """
    try:
        return SpellerGrid.from_config(speller, refresh_rate=refresh_rate, **kwargs), None
    except NeurospellError as err:
        rate = refresh_rate or screen_refresh_rate()
        flash = max(1, round(speller.flash_duration * rate))
        soa = max(flash + 1, round(speller.soa * rate))
        warning = (f"{err} Using {flash} frame(s) lit and {soa - flash} dark "
                   f"({1000 * soa / rate:.1f} ms SOA) at {rate:g} Hz.")
        logger.warning(warning)
        return SpellerGrid(speller.layout(), flash_frames=flash, gap_frames=soa - flash, refresh_rate=rate, **kwargs), warning


class SpellerWindow(QtWidgets.QMainWindow):
    """The speller's main window (see the module docstring): layout and views around a
    :class:`~neurospell.gui.controller.SessionController` (:attr:`controller`).

    Signals
    -------
    phaseChanged(str)
        The workflow's stage changed: the connection's state (``"connecting"``, ``"connected"``,
        ``"disconnected"``) without a session, else the session's phase (``"calibration"``,
        ``"training"``, ``"copy"``, ...).
    trained()
        A training report arrived (shown in the Training tab).
    timingReport(str)
        Timing-check mode: the photodiode timing report (shown in the Timing tab).
    sessionFinished(str)
        The session ended: its result and session folder in one line (also the status line).

    Attributes
    ----------
    stop_after_copy : bool
        Copy spelling ends the session (no free spelling after the phrase; the demo's).
    demo : bool
        The window runs ``neurospell gui --demo`` (the finished message says how to leave).

    Parameters
    ----------
    config : Config
        The pipeline config (``[speller]`` grid and timing, ``[decoder]``, ``[lm]``, ...).
    connector : Connector | None
        Opens sources; ``None`` disables the connect step (the window can still show snapshots).
    settings : GuiSettings | None
        Display preferences (default: read from ``settings_path``).
    settings_path, config_path : path-like | None
        Where *Save settings* writes the GUI preferences and the config (default: the user's
        neurospell config folder, ``gui.toml`` and ``config.toml``).
    refresh_rate : float | None
        Display refresh rate for the grid's frame clock (default: the screen's).
    calibration_text, copy_text : str | None
        Initial texts of the calibrate and spell steps.
    poll_hz, scope_hz : float
        Snapshot and scope-feed timer rates.
    """

    phaseChanged = QtCore.Signal(str)
    trained = QtCore.Signal()
    timingReport = QtCore.Signal(str)
    sessionFinished = QtCore.Signal(str)

    def __init__(self, config: Config, connector: Connector | None = None, *, settings: GuiSettings | None = None,
                 settings_path=None, config_path=None, refresh_rate: float | None = None,
                 calibration_text: str | None = None, copy_text: str | None = None,
                 poll_hz: float = 20.0, scope_hz: float = 25.0, parent=None):
        super().__init__(parent)
        if not isinstance(config, Config):
            raise NeurospellError(f"config must be a neurospell Config, got {type(config).__name__}.")
        self.config = config
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(SWITCH_INTERVAL, self._switch_interval))
        folder = default_settings_dir()
        self.settings_path = Path(settings_path) if settings_path else folder / "gui.toml"
        self.config_path = Path(config_path) if config_path else folder / "config.toml"
        self.settings = settings if settings is not None else load_settings(self.settings_path)
        app = QtWidgets.QApplication.instance()
        self.theme = apply_theme(app, self.settings.theme, self.settings.font_scale)
        self.controller = SessionController(connector, poll_hz=poll_hz, parent=self)
        self.stop_after_copy = False
        self.demo = False
        self.closing_when_done = False
        self.connect_error = None
        self._then_calibrate = False
        self._stage = "disconnected"
        layout = config.speller.layout()

        self.setWindowTitle("neurospell speller")
        self.setAccessibleName("neurospell speller")
        self.setAccessibleDescription("P300 brain-computer-interface speller: connect, calibrate, train, spell.")
        # -- left: text and grid -----------------------------------------------------------
        self.text_panel = TextPanel(self.theme)
        self.announcer = Announcer(self.text_panel.text_label, self)
        self.announcements = self.announcer.announcements
        self.grid, self._timing_warning = grid_for_config(config.speller, refresh_rate=refresh_rate,
                                                          photodiode=self.settings.photodiode or self.settings.timing_check,
                                                          swap_stamping=self.settings.swap_stamping, theme=self.theme)
        self.grid.set_cell_font_scale(self.settings.grid_scale)
        left = QtWidgets.QWidget()
        lv = QtWidgets.QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.text_panel)
        lv.addWidget(self.grid, 1)
        # -- right: workflow, tabs -----------------------------------------------------------
        self.workflow = WorkflowPanel(calibration_text, copy_text)
        for name in WorkflowPanel.CONTROLS:
            setattr(self, name, getattr(self.workflow, name))
        self.tabs = QtWidgets.QTabWidget()
        named(self.tabs, "Views", "Signals, training report and settings. Ctrl+Tab switches.")
        named(self.tabs.tabBar(), "View tabs", "Signals, Training, Settings; arrow keys or Ctrl+Tab switch.")
        self.scope_holder = QtWidgets.QWidget()
        QtWidgets.QVBoxLayout(self.scope_holder).setContentsMargins(0, 0, 0, 0)
        self.scope: Scope | None = None
        self._scope_placeholder = QtWidgets.QLabel("Connect a source to see its signals.")
        self.scope_holder.layout().addWidget(self._scope_placeholder)
        self.report = TrainingReport(self.theme)
        self.tabs.addTab(self.scope_holder, "&Signals")
        self.tabs.addTab(self.report, "&Training")
        # The Training tab's first show is its costly one (pyqtgraph lays out and sizes its two
        # plots): it is shown first, when the window opens, and the Signals tab once it has
        # painted -- not for the first time when a report arrives while the grid flashes.
        self.tabs.setCurrentWidget(self.report)
        _OnFirstPaint(self.report, self._report_painted)  # (a child of the report: kept alive by it)
        self.timing_label = TimingTab()
        self.tabs.addTab(self.timing_label, "Ti&ming")
        self.settings_view = SettingsView(self.settings, config, self.config_path, self.settings_path)
        for name in SettingsView.CONTROLS:
            setattr(self, name, getattr(self.settings_view, name))
        self.tabs.addTab(self.settings_view, "Se&ttings")
        right = QtWidgets.QWidget()
        rv = QtWidgets.QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.workflow)
        rv.addWidget(self.tabs, 1)
        split = QtWidgets.QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.setCentralWidget(split)
        self.status = QtWidgets.QLabel("")
        named(self.status, "Status", "What the session is doing.")
        self.status.setWordWrap(True)
        self.status.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.statusBar().addWidget(self.status, 1)
        # -- behaviour -----------------------------------------------------------------------
        self._wire_workflow()
        self.settings_view.edited.connect(self._settings_changed)
        self.settings_view.saveRequested.connect(self.save_all_settings)
        self.scanner = RowColumnScanner(layout, self.settings.scan_interval, self)
        self.scanner.highlightChanged.connect(self.grid.set_highlight)
        self.scanner.stepChanged.connect(self._announce)
        self.scanner.cellChosen.connect(self._type_cell)
        self.scanner.resumeChosen.connect(self.resume_or_start)
        self.grid.cellActivated.connect(self._type_cell)
        self.text_panel.choiceActivated.connect(self.select)
        ctl = self.controller
        ctl.connectionChanged.connect(self._connection_changed)
        ctl.connectFailed.connect(self._connect_failed)
        ctl.phaseChanged.connect(lambda _phase: self._update_controls())
        ctl.snapshotChanged.connect(self._show_snapshot)
        ctl.sessionEnded.connect(self._session_ended)
        ctl.sourceExited.connect(self._source_exited)
        self.timing_label.reportReady.connect(self._timing_done)
        self.announcer.speechProblem.connect(self._show_speech_problem, QtCore.Qt.ConnectionType.QueuedConnection)
        self._scope_timer = QtCore.QTimer(self)
        self._scope_timer.timeout.connect(self._feed_scope)
        self._scope_hz = scope_hz
        self._build_shortcuts()
        self.switch_filter = SwitchKeyFilter(self, self.switch_pressed)
        self.switch_filter.set_enabled(self.settings.single_switch)
        speech_problem = self._apply_speech(self.settings.speak_words)
        self.resize(1500, 900)
        self._update_controls()
        self.set_status(" ".join(m for m in (self._timing_warning, speech_problem) if m)
                        or "Step 1 of 4: choose a source and press Connect.")

    # -- the controller's state, as before the controller ----------------------------------------
    connector = property(lambda self: self.controller.connector, doc="The :class:`Connector` (or ``None``).")
    connection = property(lambda self: self.controller.connection, doc="The open :class:`Connection` (or ``None``).")
    session = property(lambda self: self.controller.session, doc="The current :class:`LiveSession` (or ``None``).")
    snapshot = property(lambda self: self.controller.snapshot, doc="The last :class:`LiveSnapshot` shown.")
    speech = property(lambda self: self.announcer.speech, doc="The speech engine (*Speak words*), or ``None``.")

    # -- construction ----------------------------------------------------------------------------
    def _wire_workflow(self) -> None:
        w = self.workflow
        w.source_box.currentIndexChanged.connect(lambda _i: self._update_controls())
        w.refresh_button.clicked.connect(self.refresh_streams)
        w.browse_button.clicked.connect(w.browse)
        w.connect_button.clicked.connect(self._connect_clicked)
        w.disconnect_button.clicked.connect(self.disconnect_source)
        w.calibrate_button.clicked.connect(self.calibrate)
        w.spell_button.clicked.connect(self.spell)
        w.start_button.clicked.connect(self.resume_or_start)
        w.pause_button.clicked.connect(self.pause)
        w.stop_button.clicked.connect(self.stop)
        w.undo_button.clicked.connect(self.undo)
        w.folder_button.clicked.connect(self.open_session_folder)

    def _build_shortcuts(self) -> None:
        def shortcut(keys, slot, name):
            act = QtGui.QAction(name, self)
            act.setShortcuts([QtGui.QKeySequence(k) for k in keys])
            act.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        shortcut(["F5"], self.resume_or_start, "Start or resume")
        shortcut(["Escape"], self.pause, "Pause")
        shortcut(["Ctrl+Shift+S"], self.stop, "Stop")
        shortcut(["Ctrl+Z"], self.undo, "Undo")
        shortcut(["Ctrl+G"], self.grid.setFocus, "Focus the grid")
        shortcut(["Ctrl+L"], self.text_panel.choices.setFocus, "Focus the completions")
        shortcut(["Ctrl+S"], self.save_all_settings, "Save settings")
        shortcut(["Ctrl+O"], self.open_session_folder, "Open the session folder")
        shortcut(["Ctrl+Q"], self.close, "Quit")

    # -- status and announcements ----------------------------------------------------------------
    def set_status(self, text: str) -> None:
        if text != self.status.text():
            self.status.setText(text)
            self.status.setAccessibleDescription(text)

    def _announce(self, text: str) -> None:
        """Tell a screen reader ``text`` (a polite announcement; see the module docstring)."""
        self.announcer.announce(text)

    # -- settings ----------------------------------------------------------------------------------
    def _settings_changed(self) -> None:
        try:
            new = self.settings_view.settings(self.settings)
        except NeurospellError as err:
            self.set_status(str(err))
            return
        old, self.settings = self.settings, new
        if (old.theme, old.font_scale) != (new.theme, new.font_scale):
            self.theme = apply_theme(QtWidgets.QApplication.instance(), new.theme, new.font_scale)
            self.grid.set_theme(self.theme)
            self.text_panel.set_text_scale(2.0)
        self.grid.set_cell_font_scale(new.grid_scale)
        if (old.photodiode or old.timing_check) != (new.photodiode or new.timing_check):
            self.grid.photodiode = new.photodiode or new.timing_check
            self.grid.update()
        self.scanner.set_interval(new.scan_interval)
        self.switch_filter.set_enabled(new.single_switch)
        if not new.single_switch:
            self.scanner.stop()
        if old.speak_words != new.speak_words:
            self._apply_speech(new.speak_words)

    def _apply_speech(self, on: bool) -> str | None:
        """Open or close the speech engine; the problem (no engine found) is returned and shown."""
        problem = self.announcer.set_speech(on)
        if problem:
            self.set_status(problem)
        return problem

    def _show_speech_problem(self, problem: str) -> None:
        """After what the status line says (the speech thread found no sound output)."""
        if problem not in self.status.text():
            self.set_status(f"{self.status.text()} {problem}".strip())

    def edited_config(self) -> Config:
        """The config with the timing and stopping rule of the Settings tab."""
        return self.settings_view.edited_config(self.config)

    def save_all_settings(self) -> None:
        """Write the config (TOML) and the GUI preferences; apply the timing to the grid."""
        try:
            config = self.edited_config()
            rate = self.grid.refresh_rate
            flash = frames_for_duration("[speller] flash_duration", config.speller.flash_duration, rate)
            soa = frames_for_duration("[speller] soa", config.speller.soa, rate)
            if soa <= flash:
                raise NeurospellError("[speller] soa must be at least one frame longer than [speller] flash_duration.")
            self.config = config
            if not self.grid.is_flashing:
                self.grid.set_timing(flash, soa - flash)
            save_config(config, self.config_path)
            save_settings(self.settings, self.settings_path)
        except (NeurospellError, OSError) as err:
            self.set_status(f"Settings not saved: {err}")
            return
        self.set_status(f"Settings saved to {self.config_path} and {self.settings_path}.")

    # -- connect -------------------------------------------------------------------------------------
    def refresh_streams(self) -> None:
        if self.connector is None:
            return
        self.set_status("Looking for LSL streams...")
        streams = self.connector.list_streams()
        self.workflow.show_streams(streams)
        self.set_status(f"{len(streams)} LSL stream(s) found." if streams else "No LSL stream found.")

    def connect_request(self) -> ConnectRequest:
        """The :class:`ConnectRequest` of the connect step's controls."""
        return self.workflow.connect_request()

    def _connect_clicked(self) -> None:
        try:
            self.connect_source(self.connect_request())
        except Exception as err:  # noqa: BLE001 - shown to the user, the window stays usable
            logger.info("connect failed", exc_info=True)
            self.set_status(f"Could not connect: {err}")

    def connect_source(self, request: ConnectRequest, *, then_calibrate: bool = False) -> None:
        """Open the source (through the connector, on a thread) and show its signals.

        Returns at once; :attr:`connection` is set (and :attr:`phaseChanged` emits
        ``"connected"``) when the source runs, or the status line says why it failed.
        """
        if self.controller.connecting:
            self.set_status("Already connecting; wait for it.")
            return
        self._close_views()
        self._then_calibrate = then_calibrate
        self.set_status(f"Connecting: {request.kind}...")
        self.controller.connect(request, self.config)

    def _connection_changed(self, state: ConnectionState) -> None:
        if state is ConnectionState.CONNECTED:
            conn = self.connection
            self._scope_placeholder.hide()
            self.scope = Scope(conn.ch_names, conn.sfreq, window=5.0, yield_to=self.grid.time_to_next_change,
                               theme=self.theme)
            self.scope_holder.layout().addWidget(self.scope)
            self._scope_timer.start(round(1000 / self._scope_hz))
        self._update_controls()
        if state is ConnectionState.CONNECTED:
            where = "" if conn.folder is None else f"; session folder {conn.folder}"
            self.set_status(f"Connected: {conn.description}{where}. Step 2 of 4: press Calibrate (F5).")
            if self._then_calibrate:
                self._then_calibrate = False
                self.calibrate()

    def _connect_failed(self, err) -> None:
        self.set_status(f"Could not connect: {err}")
        self.connect_error = err

    def disconnect_source(self) -> None:
        """Stop the session (if any) and close the source.

        Returns at once: the session's worker may be busy (training) and the source slow to
        close, so both end on a thread (:meth:`closeEvent` waits for it).
        """
        self._close_views()
        self.controller.disconnect()

    def _close_views(self) -> None:
        """What shows the session and the source stops showing them."""
        if self.session is not None:
            self.grid.stop()
            self.grid.cue(None)
        self._scope_timer.stop()
        if self.scope is not None:
            self.scope.setParent(None)
            self.scope.deleteLater()
            self.scope = None
            self._scope_placeholder.show()

    def _feed_scope(self) -> None:
        if self.scope is None:
            return
        chunk = self.controller.read_samples()
        if chunk is not None:
            self.scope.push_chunk(chunk)

    # -- session -------------------------------------------------------------------------------------
    def calibrate(self) -> None:
        """Create the live session with the calibration text and start it (calibrate -> train -> spell)."""
        if self.connection is None:
            self.set_status("Connect a source first (step 1).")
            return
        text = self.calibration_edit.text().upper()
        mode = self.mode_box.currentData()
        copy = self.copy_edit.text().upper() or None
        if self.session is not None:
            self.grid.stop()
            self.grid.cue(None)
        try:
            self.controller.start_session(self.config, self.grid, calibration_text=text,
                                          copy_text=copy if mode == "copy" else None,
                                          free=not (self.stop_after_copy and mode == "copy"))
        except NeurospellError as err:
            self.set_status(f"Cannot calibrate: {err}")
            return
        self.grid.setFocus()

    def spell(self) -> None:
        """Switch the running session to copy or free spelling (``SetPhase``)."""
        if self.session is None:
            self.set_status("Calibrate first: spelling needs a trained decoder (step 2).")
            return
        mode = self.mode_box.currentData()
        text = self.copy_edit.text().upper() if mode == "copy" else None
        try:
            self.controller.submit(SetPhase(mode, text))
        except NeurospellError as err:
            self.set_status(str(err))

    def resume_or_start(self) -> None:
        if self.session is None:
            self.calibrate()
        elif self.controller.phase is SessionPhase.PAUSED:
            self.controller.submit(Resume())
        self.scanner.stop()

    def pause(self) -> None:
        self.controller.submit(Pause())

    def stop(self) -> None:
        self.controller.submit(Stop())

    def undo(self) -> None:
        self.controller.submit(Undo())

    def select(self, symbol) -> None:
        """Send a symbol or a :class:`Completion` chosen outside the flashing."""
        if not self.controller.submit(Select(symbol)):
            self.set_status("Nothing to type into: calibrate and spell first.")

    def _type_cell(self, index: int) -> None:
        sym = self.grid.speller_layout.symbols[index]
        if sym == "»":  # the grid's select-completion cell: the first completion
            comp = self.text_panel.completion(0)
            if comp is not None:
                self.select(comp)
            return
        self.select(sym)

    def open_session_folder(self) -> None:
        folder = None if self.connection is None else self.connection.folder
        if folder is None:
            self.set_status("No session folder yet: connect first.")
            return
        Path(folder).mkdir(parents=True, exist_ok=True)
        QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(folder)))
        self.set_status(f"Session folder: {folder}")

    # -- snapshots -------------------------------------------------------------------------------------
    def poll(self) -> None:
        """Take the session's latest snapshot and show it (the controller's timer does it)."""
        self.controller.poll()

    def show_snapshot(self, snap) -> None:
        """Show a :class:`~neurospell.session.live.LiveSnapshot` (as if the session published it)."""
        self.controller.accept(snap)

    def _source_exited(self, why: str, session_stopped: bool) -> None:
        """A process the connection started (the simulated participant) exited by itself (the
        controller stopped the session: it would otherwise pause for lack of samples for ever)."""
        if not session_stopped:
            self.set_status(f"The source is gone: {why}. Disconnect and connect again.")
        self._announce(why)

    def _show_snapshot(self, prev, snap) -> None:
        eng = snap.engine
        text = eng.text if eng is not None else snap.text
        decided = new_decisions(prev, snap)
        for d in decided:  # symbols the BCI chose (even those a fast phase change hid from the snapshots)
            self._announce(spoken_symbol(d.symbol))
        if text != self.announcer.text:
            # (a new phase starts with a new text: not read out as deletions)
            self.announcer.text_changed(text, announce=not decided and (prev is None or prev.phase == snap.phase))
        self.text_panel.set_text(text)
        if snap.phase != "stopped":  # (stopped: the copy target stays beside the typed text)
            self.text_panel.set_target(snap.target_text if snap.phase in ("calibration", "copy", "paused") else None)
        if eng is not None and (len(eng.completions) or text != self.text_panel.shown_choices_for):
            # (the session computes completions only when the text changes: a snapshot without
            # them keeps the list shown for the same text)
            self.text_panel.set_choices(eng.completions, eng.candidates, for_text=text)
        self.workflow.show_progress(snap)
        if snap.training_report is not None and (prev is None or prev.training_report is not snap.training_report):
            # In steps, each in its own turn of the event loop (the report's data; then the tab,
            # whose first paint lays out and draws two plots): the GUI thread's timers (the
            # grid's flashes) run between them. The flashing goes on meanwhile: spelling starts
            # right after training.
            QtCore.QTimer.singleShot(_STEP_MS, self, lambda rep=snap.training_report: self._show_report(rep))
        if snap.n_decisions and (prev is None or not prev.n_decisions):
            QtCore.QTimer.singleShot(_STEP_MS, self, self._back_to_signals)  # spelling: back to the signals
        if self.scope is not None and self.scope.stream_lost != (not snap.source_ok):
            self.scope.set_stream_lost(not snap.source_ok, snap.source_problem or "")
        status = snap.status
        if not snap.source_ok:
            status = f"Stream lost: {snap.source_problem}. The session paused; it resumes when samples flow again."
        elif snap.phase == "error":
            status = f"Error: {snap.error}"
        elif (snap.training_report or {}).get("auc_warning"):
            status = f"{status}  |  Calibration near chance: see the Training tab (what it means, what to try)."
        self.set_status(status)
        if prev is None or prev.phase != snap.phase:
            self._announce(f"Phase: {snap.phase}")
            if snap.phase in ("stopped", "error"):
                self.grid.cue(None)
        if self.settings.timing_check and self.connection is not None:
            self.timing_label.calibration_may_have_ended(prev, snap, self.controller.serial, self.connection.folder,
                                                         self.settings.photodiode_channel)

    def _session_ended(self, result, error) -> None:
        """The session's worker ended: its result (read by the thread that joined it)."""
        folder = None if self.connection is None else self.connection.folder
        if result is not None and self.controller.phase is SessionPhase.STOPPED:
            message = finished_message(result, folder, demo=self.demo, closing=self.closing_when_done)
            self.set_status(message)
            self._announce(message)
            self.sessionFinished.emit(message)
        if self.settings.timing_check and folder is not None:
            self.timing_label.check_once(self.controller.serial, "session", folder, self.settings.photodiode_channel)

    def _timing_done(self, text: str) -> None:
        self.tabs.setCurrentWidget(self.timing_label)
        self._announce("Timing check: " + text.replace("\n", " "))
        self.timingReport.emit(text)

    def check_timing(self, folder, what: str = "session") -> None:
        """Run the photodiode timing check on ``folder`` (a session folder or a recording) on a
        thread; the report appears in the Timing tab (:attr:`timingReport`)."""
        self.timing_label.check(folder, what, self.settings.photodiode_channel)

    def _show_report(self, report) -> None:
        self.report.set_report(report)
        self._announce("Training finished. " + self.report.summary.text())

        def show_tab():
            if self.report.report is report:
                if self.snapshot is None or not self.snapshot.n_decisions:  # (else spelling shows the signals)
                    self.tabs.setCurrentWidget(self.report)
                self.trained.emit()

        QtCore.QTimer.singleShot(_STEP_MS, self, show_tab)  # (cancelled if the window goes first)

    def _report_painted(self) -> None:
        if self.report.report is None:  # (a report that came meanwhile stays shown)
            self._back_to_signals()

    def _back_to_signals(self) -> None:
        if self.tabs.currentWidget() is self.report:
            self.tabs.setCurrentWidget(self.scope_holder)

    def _update_controls(self) -> None:
        ctl = self.controller
        snap = ctl.snapshot
        self.workflow.update_controls(
            can_connect=ctl.connector is not None, connection=ctl.connection_state, phase=ctl.phase,
            has_session=ctl.session is not None, trained=snap is not None and snap.training_report is not None,
            has_folder=ctl.connection is not None and ctl.connection.folder is not None)
        stage = stage_name(ctl.connection_state, ctl.phase)
        if stage != self._stage:
            self._stage = stage
            self.phaseChanged.emit(stage)

    # -- single switch -----------------------------------------------------------------------------
    @property
    def bci_in_control(self) -> bool:
        """Whether the BCI is flashing (or training towards it): the switch then pauses."""
        return self.controller.bci_in_control

    def switch_pressed(self) -> None:
        """The single switch: pause under BCI control; otherwise scan (start, descend, choose)."""
        if self.bci_in_control:
            self.pause()
            self._announce("paused")
            return
        self.scanner.press()

    # -- closing ---------------------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.switch_filter.set_enabled(False)
        self.scanner.stop()
        self._close_views()
        self.controller.close()  # (the participant process and the source end before the app)
        self.announcer.close()
        sys.setswitchinterval(self._switch_interval)
        super().closeEvent(event)

    def focusable_widgets(self) -> Sequence[QtWidgets.QWidget]:
        """The visible widgets that take keyboard focus (for checks and tests)."""
        return [w for w in self.findChildren(QtWidgets.QWidget)
                if w.isVisible() and w.isEnabled() and w.focusPolicy() != QtCore.Qt.FocusPolicy.NoFocus
                and w.focusProxy() is None]  # (a widget with a focus proxy hands the focus on)

    def save_screenshot(self, path) -> Path:
        """Write the window as shown to ``path`` (PNG)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.grab().save(str(path)):
            raise NeurospellError(f"Could not write the screenshot {str(path)!r}; check the folder and the extension.")
        return path


def run_app(config: Config, connector: Connector | None = None, *, demo: ConnectRequest | None = None,
            calibration_text: str | None = None, copy_text: str | None = None, quit_after: float | None = None,
            quit_after_selections: int | None = None, screenshot=None, stage_screenshots=None, settings_path=None,
            argv: Sequence[str] | None = None, exit_when_done: bool = False, on_finished=None) -> dict:
    """Show the window and run the Qt event loop until it is closed (or ``quit_after`` passes).

    Parameters
    ----------
    config : Config
    connector : Connector | None
    demo : ConnectRequest | None
        Connect to this source at once and press Calibrate (``neurospell gui --demo``): the
        session ends after the copy phrase (no free spelling), its result stays shown.
    calibration_text, copy_text : str | None
    quit_after : float | None
        Close the window after this many seconds.
    quit_after_selections : int | None
        Close the window once the session made this many selections (decisions).
    screenshot : path-like | None
        Write the window as shown when it closes (PNG).
    stage_screenshots : path-like | None
        A folder: a screenshot of each workflow stage (``NN-<stage>.png``) is written there.
    settings_path : path-like | None
    argv : sequence of str | None
        ``QApplication`` arguments.
    exit_when_done : bool
        Close the window once the session has finished (its result shown for a moment).
    on_finished : callable ``(message) -> None`` | None
        Called with the finished message (result and session folder) when a session ends.

    Returns
    -------
    result : dict
        ``text`` (typed text), ``phase`` and ``error`` of the last snapshot (``None`` without a session);
        ``signal``: ``"SIGINT"`` or ``"SIGTERM"`` when one closed the window (else ``None``).

    Notes
    -----
    Ctrl-C (SIGINT) and SIGTERM close the window as its close button does: the session
    stops, its phase is written, the participant process and the source are closed.
    """
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(list(argv or ["neurospell"]))
    app.setApplicationName("neurospell")
    app.setApplicationDisplayName("neurospell speller")
    win = SpellerWindow(config, connector, settings_path=settings_path, calibration_text=calibration_text,
                        copy_text=copy_text)
    win.demo = win.stop_after_copy = demo is not None
    win.closing_when_done = exit_when_done
    win.show()
    win.activateWindow()
    win.grid.setFocus()
    result: dict = {"text": None, "phase": None, "error": None, "signal": None}

    def finish():
        snap = win.snapshot
        if snap is not None:
            result.update(text=snap.text, phase=snap.phase, error=snap.error)
        elif getattr(win, "connect_error", None) is not None:
            result["error"] = f"could not connect: {win.connect_error}"
        if screenshot is not None:
            win.save_screenshot(screenshot)
        win.close()

    if stage_screenshots is not None:
        folder = Path(stage_screenshots)
        folder.mkdir(parents=True, exist_ok=True)
        shots = {"n": 0}

        def shoot(stage: str) -> None:
            def grab():
                shots["n"] += 1
                win.save_screenshot(folder / f"{shots['n']:02d}-{stage}.png")
            QtCore.QTimer.singleShot(400, grab)  # let the new stage paint first

        win.phaseChanged.connect(shoot)
        win.trained.connect(lambda: shoot("trained"))
        shoot("start")
    if demo is not None:
        QtCore.QTimer.singleShot(0, lambda: win.connect_source(demo, then_calibrate=True))
    done = {"closed": False}

    def finish_once():
        if not done["closed"]:
            done["closed"] = True
            finish()

    if on_finished is not None:
        win.sessionFinished.connect(on_finished)
    if exit_when_done:
        win.sessionFinished.connect(lambda _message: QtCore.QTimer.singleShot(_DONE_SHOWN_MS, finish_once))
    if quit_after is not None:
        QtCore.QTimer.singleShot(round(1000 * quit_after), finish_once)
    if quit_after_selections is not None:
        def check_selections():
            if win.snapshot is not None and win.snapshot.n_decisions >= quit_after_selections:
                QtCore.QTimer.singleShot(300, finish_once)  # let the decision paint first
                watcher.stop()
        watcher = QtCore.QTimer(win)
        watcher.timeout.connect(check_selections)
        watcher.start(100)
    with _signals_close(lambda name: (result.update(signal=name), QtCore.QTimer.singleShot(0, finish_once))):
        app.exec()
    return result


#: Milliseconds the finished session's result stays shown before ``exit_when_done`` closes the window.
_DONE_SHOWN_MS = 1500


class _signals_close:
    """Within the block (the Qt event loop), SIGINT and SIGTERM call ``close(name)`` in the GUI
    thread: a timer lets the interpreter run its signal handlers while Qt waits for events."""

    def __init__(self, close):
        self.close = close
        self.previous = {}
        self.timer = None

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, lambda signum, frame: self.close(signal.Signals(signum).name))
        self.timer = QtCore.QTimer()
        self.timer.timeout.connect(lambda: None)
        self.timer.start(200)
        return self

    def __exit__(self, *exc):
        if self.timer is not None:
            self.timer.stop()
        for sig, handler in self.previous.items():
            if handler is not None:  # (None: not installed from Python)
                signal.signal(sig, handler)
