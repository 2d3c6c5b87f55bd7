"""The speller window: layout, actions and the views around a :class:`SessionController`
(see :mod:`neurospell.gui.app` for the workflow, the keyboard and the screen-reader support)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from neurospell.check import NeurospellError
from neurospell.config import Config, SpellerConfig
from neurospell.logs import logger
from neurospell.session.live import Pause, Resume, Select, SetPhase, Stop, Undo
from neurospell.session.rig import Connector, ConnectRequest

from .announcer import Announcer
from .controller import ConnectionState, SessionController, SessionPhase
from .grid import SpellerGrid, screen_refresh_rate
from .keys import SwitchKeyFilter
from .named import named
from .panels import TextPanel, TrainingReport
from .participant_view import ParticipantScreen, choose_screen
from .scanning import RowColumnScanner
from .scope import Scope
from .session_view import SnapshotViews
from .settings import GuiSettings, default_settings_dir, load_settings
from .settings_view import SettingsBinding, SettingsView
from .start_choice import StartChoiceBinding
from .textout import GuiTextOut
from .theme import apply_theme
from .timing_tab import TimingTab
from .workflow import WorkflowPanel, stage_name

__all__ = ["SpellerWindow", "grid_for_config", "SWITCH_INTERVAL"]

#: The interpreter's thread switch interval while a window is open (seconds; Python's default is
#: 0.005). The session's worker runs in this process: each time the GUI thread needs the GIL
#: back (PySide releases it around Qt calls) it waits up to one interval while the worker runs
#: Python code, and one frame of GUI work takes many such turns (0.1 ms: the worker still runs
#: its Python in 0.1 ms slices; switching costs it a few microseconds each).
SWITCH_INTERVAL = 0.0001


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


class SpellerWindow(SnapshotViews, SettingsBinding, StartChoiceBinding, QtWidgets.QMainWindow):
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
    participant_screen : ``"auto"`` | ``"off"`` | int | None
        The participant's view (:mod:`neurospell.gui.participant_view`): ``"auto"`` full screen
        on a second monitor, or in front of this window on one; a screen number (1-based);
        ``"off"`` or ``None``: one window (the grid beside the scope).
    start_plan : StartPlan | None
        How a session may start (:mod:`neurospell.gui.start_choice`): with a plan, the window
        offers *calibrate first* or *start spelling now* with its model once a source is
        connected; ``None``: sessions calibrate.
    """

    phaseChanged = QtCore.Signal(str)
    trained = QtCore.Signal()
    timingReport = QtCore.Signal(str)
    sessionFinished = QtCore.Signal(str)

    def __init__(self, config: Config, connector: Connector | None = None, *, settings: GuiSettings | None = None,
                 settings_path=None, config_path=None, refresh_rate: float | None = None,
                 calibration_text: str | None = None, copy_text: str | None = None,
                 poll_hz: float = 20.0, scope_hz: float = 25.0, participant_screen=None, start_plan=None,
                 parent=None):
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
        screen = choose_screen(participant_screen or "off", QtGui.QGuiApplication.screens(), self.screen())
        #: The participant's view and its screen (``None``: one window).
        self.participant = None if screen is None else ParticipantScreen(self, screen)
        left = QtWidgets.QWidget()
        lv = QtWidgets.QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.text_panel)
        lv.addWidget(self.grid if self.participant is None else self.participant.placeholder, 1)
        self._init_start_choice(start_plan, lv, 1)
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
        ctl.sessionDropped.connect(self._session_dropped)
        self.timing_label.reportReady.connect(self._timing_done)
        self.announcer.speechProblem.connect(self._show_speech_problem, QtCore.Qt.ConnectionType.QueuedConnection)
        self._scope_timer = QtCore.QTimer(self)
        self._scope_timer.timeout.connect(self._feed_scope)
        self._scope_hz = scope_hz
        self._build_shortcuts()
        if self.participant is not None:
            self.participant.add_shortcuts()
        self.switch_filter = SwitchKeyFilter(self if self.participant is None else self.participant.either,
                                             self.switch_pressed)
        self.switch_filter.set_enabled(self.settings.single_switch)
        speech_problem = self._apply_speech(self.settings.speak_words)
        self.text_out = GuiTextOut(self.controller, self)
        self.text_out.problem.connect(self.set_status)
        speech_problem = " ".join(m for m in (speech_problem, self._apply_text_out(self.settings)) if m) or None
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
        if not self.controller.connect(request, self.config):
            self.set_status("Already connecting; wait for it.")
            return
        self._then_calibrate = then_calibrate
        self.set_status(f"Connecting: {request.kind}...")

    def _connection_changed(self, state: ConnectionState) -> None:
        if state is not ConnectionState.CONNECTED:
            self._close_scope()
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
            step = ("press Calibrate (F5)" if self.start_choice is None or not self.start_choice.isVisible()
                    else "choose how to start: 1 or 2 (or the arrow keys and Enter)")
            self.set_status(f"Connected: {conn.description}{where}. Step 2 of 4: {step}.")
            if self._then_calibrate:
                self._then_calibrate = False
                if self.start_plan is not None:
                    self.start_chosen(self.start_plan.default_choice)
                else:
                    self.calibrate()

    def _connect_failed(self, err) -> None:
        self.set_status(f"Could not connect: {err}")
        self.connect_error = err

    def disconnect_source(self) -> None:
        """Stop the session (if any) and close the source.

        Returns at once: the session's worker may be busy (training) and the source slow to
        close, so both end on a thread (:meth:`closeEvent` waits for it).
        """
        self.controller.disconnect()

    def _session_dropped(self) -> None:
        self.grid.stop()
        self.grid.cue(None)

    def _close_scope(self) -> None:
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
        if self.start_plan is not None:  # (the choice is recorded in the session folder)
            self.start_chosen("calibrate")
            return
        text = self.calibration_edit.text().upper()
        mode = self.mode_box.currentData()
        copy = self.copy_edit.text().upper() or None
        try:
            self.controller.start_session(self.config, self.grid, calibration_text=text,
                                          copy_text=copy if mode == "copy" else None,
                                          free=not (self.stop_after_copy and mode == "copy"),
                                          text_out=self.text_out.session_text_out())
        except NeurospellError as err:
            self.set_status(f"Cannot calibrate: {err}")
            return
        if self.participant is not None:
            self.participant.show()
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
        if self.session is None and self.start_choice is not None and self.start_choice.isVisible():
            self.start_choice.choose()
        elif self.session is None:
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

    def _update_controls(self) -> None:
        ctl = self.controller
        snap = ctl.snapshot
        self.workflow.update_controls(
            can_connect=ctl.connector is not None, connection=ctl.connection_state, phase=ctl.phase,
            has_session=ctl.session is not None,
            trained=ctl.started_with_model or (snap is not None and snap.training_report is not None),
            has_folder=ctl.connection is not None and ctl.connection.folder is not None)
        self.grid.set_cell_focus_hidden(ctl.bci_in_control or (ctl.phase is not None and ctl.phase.ended))
        self._update_start_choice()
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
        if self.start_choice is not None and self.start_choice.isVisible():
            self.start_choice.switch_press()
            return
        self.scanner.press()

    # -- closing ---------------------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.switch_filter.set_enabled(False)
        self.scanner.stop()
        self.controller.close()  # (the participant process and the source end before the app)
        self.announcer.close()
        if self.participant is not None:
            self.participant.close()
        self.text_out.close()
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
