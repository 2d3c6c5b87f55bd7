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
from dataclasses import replace
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from neurospell.check import NeurospellError
from neurospell.config import Config, SpellerConfig
from neurospell.logs import logger
from neurospell.session.live import LiveSession, Pause, Resume, Select, SetPhase, Start, Stop, Undo
from neurospell.session.rig import SOURCE_KINDS, Connection, Connector, ConnectRequest
from neurospell.session.timing import timing_check

from .grid import SpellerGrid, frames_for_duration, screen_refresh_rate
from .outcome import finished_message
from .panels import TextPanel, TrainingReport, spoken_symbol
from .scanning import RowColumnScanner
from .scope import Scope
from .settings import GuiSettings, default_settings_dir, load_settings, save_config, save_settings
from .speech import Speech, open_speech
from .theme import apply_theme

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


#: Phases in which the BCI has control (flashing, or training towards it).
BCI_PHASES = ("calibration", "training", "copy", "free")


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


def _button(text: str, name: str, description: str) -> QtWidgets.QPushButton:
    b = QtWidgets.QPushButton(text)
    b.setObjectName(name)
    b.setAccessibleName(text.replace("&", ""))
    b.setAccessibleDescription(description)
    b.setToolTip(description)
    b.setAutoDefault(False)
    return b


def _named(widget: QtWidgets.QWidget, name: str, description: str) -> QtWidgets.QWidget:
    widget.setObjectName(name.lower().replace(" ", "_"))
    widget.setAccessibleName(name)
    widget.setAccessibleDescription(description)
    widget.setToolTip(description)
    return widget


class SpellerWindow(QtWidgets.QMainWindow):
    """The speller's main window (see the module docstring).

    Signals
    -------
    phaseChanged(str)
        The workflow's phase changed: ``"connecting"``, ``"connected"``, ``"disconnected"`` or
        a :class:`LiveSnapshot` phase (``"calibration"``, ``"training"``, ``"copy"``, ...).
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
    _connectDone = QtCore.Signal(object, object, bool)
    _timingDone = QtCore.Signal(object, object)
    timingReport = QtCore.Signal(str)
    sessionFinished = QtCore.Signal(str)
    _speechProblem = QtCore.Signal(str)  # from the speech thread: no sound output

    def __init__(self, config: Config, connector: Connector | None = None, *, settings: GuiSettings | None = None,
                 settings_path=None, config_path=None, refresh_rate: float | None = None,
                 calibration_text: str | None = None, copy_text: str | None = None,
                 poll_hz: float = 20.0, scope_hz: float = 25.0, parent=None):
        super().__init__(parent)
        if not isinstance(config, Config):
            raise NeurospellError(f"config must be a neurospell Config, got {type(config).__name__}.")
        self.config = config
        self.connector = connector
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(SWITCH_INTERVAL, self._switch_interval))
        folder = default_settings_dir()
        self.settings_path = Path(settings_path) if settings_path else folder / "gui.toml"
        self.config_path = Path(config_path) if config_path else folder / "config.toml"
        self.settings = settings if settings is not None else load_settings(self.settings_path)
        app = QtWidgets.QApplication.instance()
        self.theme = apply_theme(app, self.settings.theme, self.settings.font_scale)
        self.connection: Connection | None = None
        self.session: LiveSession | None = None
        self.snapshot = None
        self.announcements: list[str] = []
        self.speech: Speech | None = None
        self._text = ""
        self._phase = "disconnected"
        self.stop_after_copy = False
        self.demo = False
        self.closing_when_done = False
        self._child_exit_seen = None
        self._refresh_rate = refresh_rate
        layout = config.speller.layout()

        self.setWindowTitle("neurospell speller")
        self.setAccessibleName("neurospell speller")
        self.setAccessibleDescription("P300 brain-computer-interface speller: connect, calibrate, train, spell.")
        # -- left: text and grid -----------------------------------------------------------
        self.text_panel = TextPanel(self.theme)
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
        self.workflow = self._build_workflow(calibration_text, copy_text)
        self.tabs = QtWidgets.QTabWidget()
        _named(self.tabs, "Views", "Signals, training report and settings. Ctrl+Tab switches.")
        _named(self.tabs.tabBar(), "View tabs", "Signals, Training, Settings; arrow keys or Ctrl+Tab switch.")
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
        self.timing_label = _named(QtWidgets.QLabel(
            "Timing-check mode (Settings) shows the photodiode square; the report appears here when the "
            "calibration and when the session end."), "Timing report",
            "The photodiode's offset and jitter after the flash markers (timing-check mode).")
        self.timing_label.setWordWrap(True)
        self.timing_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.timing_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByKeyboard
                                                  | QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.timing_label.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.tabs.addTab(self.timing_label, "Ti&ming")
        self.tabs.addTab(self._build_settings(), "Se&ttings")
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
        _named(self.status, "Status", "What the session is doing.")
        self.status.setWordWrap(True)
        self.status.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.statusBar().addWidget(self.status, 1)
        # -- behaviour -----------------------------------------------------------------------
        self.scanner = RowColumnScanner(layout, self.settings.scan_interval, self)
        self.scanner.highlightChanged.connect(self.grid.set_highlight)
        self.scanner.stepChanged.connect(self._announce)
        self.scanner.cellChosen.connect(self._type_cell)
        self.scanner.resumeChosen.connect(self.resume_or_start)
        self.grid.cellActivated.connect(self._type_cell)
        self.text_panel.choiceActivated.connect(self.select)
        self._poll_timer = QtCore.QTimer(self)
        self._poll_timer.timeout.connect(self.poll)
        self._poll_timer.start(round(1000 / poll_hz))
        self._scope_timer = QtCore.QTimer(self)
        self._scope_timer.timeout.connect(self._feed_scope)
        self._scope_hz = scope_hz
        self._build_shortcuts()
        self._connectDone.connect(self._connect_done, QtCore.Qt.ConnectionType.QueuedConnection)
        self._timingDone.connect(self._timing_done, QtCore.Qt.ConnectionType.QueuedConnection)
        self._speechProblem.connect(self._show_speech_problem, QtCore.Qt.ConnectionType.QueuedConnection)
        self._timing_thread: threading.Thread | None = None
        self._timing_checked: set = set()  # (session id, what) already checked
        self._connect_thread: threading.Thread | None = None
        self._closing: list[threading.Thread] = []
        self._watching_switch = False
        self._watch_switch_key(self.settings.single_switch)
        speech_problem = self._apply_speech(self.settings.speak_words)
        self.resize(1500, 900)
        self._update_controls()
        self.set_status(" ".join(m for m in (self._timing_warning, speech_problem) if m)
                        or "Step 1 of 4: choose a source and press Connect.")

    # -- construction ----------------------------------------------------------------------------
    def _build_workflow(self, calibration_text, copy_text) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Session")
        box.setAccessibleName("Session workflow")
        form = QtWidgets.QGridLayout(box)
        # 1. connect
        self.source_box = _named(QtWidgets.QComboBox(), "Source", "Where the EEG comes from.")
        for kind, label in SOURCE_KINDS:
            self.source_box.addItem(label, kind)
        self.stream_box = _named(QtWidgets.QComboBox(), "LSL stream", "The LSL EEG stream to read; Refresh lists them.")
        self.refresh_button = _button("&Refresh", "refresh", "List the LSL streams visible on this machine.")
        self.recording_edit = _named(QtWidgets.QLineEdit(), "Recording file", "A recording to replay as the source.")
        self.recording_edit.setPlaceholderText("recording file to replay")
        self.browse_button = _button("&Browse...", "browse", "Choose a recording file to replay.")
        self.connect_button = _button("&Connect", "connect", "Open the chosen source; the scope shows its signals.")
        self.disconnect_button = _button("&Disconnect", "disconnect", "Stop the session and close the source.")
        # 2. calibrate
        self.calibration_edit = _named(QtWidgets.QLineEdit(calibration_text or "THE QUICK BROWN FOX"),
                                       "Calibration text", "Characters cued one by one during calibration.")
        self.calibrate_button = _button("C&alibrate", "calibrate",
                                        "Start: cue the calibration text, train the decoder, then spell (F5).")
        # 3. train
        self.progress = _named(QtWidgets.QProgressBar(), "Progress", "Calibration and training progress.")
        self.progress.setRange(0, 100)
        self.progress.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        # 4. spell
        self.mode_box = _named(QtWidgets.QComboBox(), "Spelling mode", "Copy a given phrase, or spell freely.")
        self.mode_box.addItem("Copy spelling", "copy")
        self.mode_box.addItem("Free spelling", "free")
        self.copy_edit = _named(QtWidgets.QLineEdit(copy_text or "HELLO WORLD"), "Phrase to copy",
                                "The phrase to spell in copy mode.")
        self.spell_button = _button("S&pell", "spell", "Switch to copy or free spelling now (after training).")
        # controls
        self.start_button = _button("&Start", "start", "Start (calibrate) or resume the session (F5).")
        self.pause_button = _button("Pa&use", "pause", "Pause the flashing (Escape).")
        self.stop_button = _button("St&op", "stop", "End the session (Ctrl+Shift+S).")
        self.undo_button = _button("&Undo", "undo", "Delete the last typed symbol (Ctrl+Z).")
        self.folder_button = _button("Open session &folder", "open_folder",
                                     "Open the folder where this session is recorded (Ctrl+O).")
        self.step_label = QtWidgets.QLabel("")
        self.step_label.setAccessibleName("Workflow step")
        row = 0
        form.addWidget(QtWidgets.QLabel("1. Connect"), row, 0)
        form.addWidget(self.source_box, row, 1, 1, 2)
        form.addWidget(self.connect_button, row, 3)
        form.addWidget(self.disconnect_button, row, 4)
        row += 1
        form.addWidget(self.stream_box, row, 1, 1, 2)
        form.addWidget(self.refresh_button, row, 3)
        row += 1
        form.addWidget(self.recording_edit, row, 1, 1, 2)
        form.addWidget(self.browse_button, row, 3)
        row += 1
        form.addWidget(QtWidgets.QLabel("2. Calibrate"), row, 0)
        form.addWidget(self.calibration_edit, row, 1, 1, 2)
        form.addWidget(self.calibrate_button, row, 3)
        row += 1
        form.addWidget(QtWidgets.QLabel("3. Train"), row, 0)
        form.addWidget(self.progress, row, 1, 1, 4)
        row += 1
        form.addWidget(QtWidgets.QLabel("4. Spell"), row, 0)
        form.addWidget(self.mode_box, row, 1)
        form.addWidget(self.copy_edit, row, 2)
        form.addWidget(self.spell_button, row, 3)
        row += 1
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button, self.undo_button, self.folder_button):
            buttons.addWidget(b)
        form.addLayout(buttons, row, 0, 1, 5)
        row += 1
        form.addWidget(self.step_label, row, 0, 1, 5)
        self.source_box.currentIndexChanged.connect(lambda _i: self._update_controls())
        self.refresh_button.clicked.connect(self.refresh_streams)
        self.browse_button.clicked.connect(self._browse)
        self.connect_button.clicked.connect(self._connect_clicked)
        self.disconnect_button.clicked.connect(self.disconnect_source)
        self.calibrate_button.clicked.connect(self.calibrate)
        self.spell_button.clicked.connect(self.spell)
        self.start_button.clicked.connect(self.resume_or_start)
        self.pause_button.clicked.connect(self.pause)
        self.stop_button.clicked.connect(self.stop)
        self.undo_button.clicked.connect(self.undo)
        self.folder_button.clicked.connect(self.open_session_folder)
        return box

    def _build_settings(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout(page)
        s, sp = self.settings, self.config.speller

        def spin(name, desc, lo, hi, value, step, decimals=2, suffix=""):
            w = QtWidgets.QDoubleSpinBox()
            w.setRange(lo, hi)
            w.setDecimals(decimals)
            w.setSingleStep(step)
            w.setValue(value)
            w.setSuffix(suffix)
            return _named(w, name, desc)

        self.theme_box = _named(QtWidgets.QComboBox(), "Theme",
                                "auto follows the system's contrast preference; high contrast is white on black.")
        for mode in ("auto", "high-contrast", "light"):
            self.theme_box.addItem(mode, mode)
        self.theme_box.setCurrentIndex(self.theme_box.findData(s.theme))
        self.font_spin = spin("Font scale", "Size of all text, times the system's.", 0.5, 4.0, s.font_scale, 0.25)
        self.grid_scale_spin = spin("Grid symbol scale", "Size of the symbols in the grid cells.", 0.5, 2.0,
                                    s.grid_scale, 0.1)
        self.switch_check = _named(QtWidgets.QCheckBox("Single-switch mode"), "Single-switch mode",
                                   "One key pauses the session and, outside BCI control, scans the grid.")
        self.switch_check.setChecked(s.single_switch)
        self.switch_key_edit = _named(QtWidgets.QLineEdit(s.switch_key), "Switch key",
                                      "The single switch's key, e.g. F8, Space, Pause.")
        self.scan_spin = spin("Scan interval", "Seconds each row or cell stays highlighted while scanning.",
                              0.3, 10.0, s.scan_interval, 0.1, suffix=" s")
        self.speak_check = _named(QtWidgets.QCheckBox("Speak each finished word"), "Speak words",
                                  "Read each finished word aloud (needs a speech engine).")
        self.speak_check.setChecked(s.speak_words)
        self.photodiode_check = _named(QtWidgets.QCheckBox("Photodiode square"), "Photodiode square",
                                       "A square in the grid's corner that is white during flashes (timing checks).")
        self.photodiode_check.setChecked(s.photodiode)
        self.timing_check_box = _named(QtWidgets.QCheckBox("Timing-check mode"), "Timing-check mode",
                                       "Show the photodiode square and report the photodiode's offset and jitter "
                                       "after the flash markers when the calibration and the session end.")
        self.timing_check_box.setChecked(s.timing_check)
        self.pd_channel_edit = _named(QtWidgets.QLineEdit(s.photodiode_channel), "Photodiode channel",
                                      "The recorded channel the photodiode is plugged into (timing-check mode).")
        self.soa_spin = spin("Stimulus onset asynchrony", "[speller] soa: time between flash onsets.",
                             30, 2000, 1000 * sp.soa, 5, 1, " ms")
        self.flash_spin = spin("Flash duration", "[speller] flash_duration: how long a flash stays lit.",
                               10, 1000, 1000 * sp.flash_duration, 5, 1, " ms")
        self.reps_spin = _named(QtWidgets.QSpinBox(), "Maximum repetitions",
                                "[speller] max_repetitions: repetitions before a decision is forced.")
        self.reps_spin.setRange(1, 50)
        self.reps_spin.setValue(sp.max_repetitions)
        self.threshold_spin = spin("Stopping threshold", "[speller] stop_threshold: posterior that stops flashing.",
                                   0.5, 1.0, sp.stop_threshold, 0.01)
        self.save_button = _button("Sa&ve settings", "save_settings",
                                   "Write the settings to the TOML config and the GUI preferences (Ctrl+S).")
        self.settings_label = QtWidgets.QLabel(f"{self.config_path}\n{self.settings_path}")
        self.settings_label.setAccessibleName("Settings files")
        self.settings_label.setWordWrap(True)
        for label, w in (("Theme", self.theme_box), ("Font scale", self.font_spin),
                         ("Grid symbol scale", self.grid_scale_spin), ("", self.switch_check),
                         ("Switch key", self.switch_key_edit), ("Scan interval", self.scan_spin),
                         ("", self.speak_check), ("", self.photodiode_check), ("", self.timing_check_box),
                         ("Photodiode channel", self.pd_channel_edit), ("SOA", self.soa_spin),
                         ("Flash duration", self.flash_spin), ("Max repetitions", self.reps_spin),
                         ("Stopping threshold", self.threshold_spin), ("", self.save_button),
                         ("Files", self.settings_label)):
            form.addRow(label, w)
        self.theme_box.currentIndexChanged.connect(lambda _i: self._settings_changed())
        self.font_spin.valueChanged.connect(lambda _v: self._settings_changed())
        self.grid_scale_spin.valueChanged.connect(lambda _v: self._settings_changed())
        self.switch_check.toggled.connect(lambda _v: self._settings_changed())
        self.switch_key_edit.editingFinished.connect(self._settings_changed)
        self.scan_spin.valueChanged.connect(lambda _v: self._settings_changed())
        self.speak_check.toggled.connect(lambda _v: self._settings_changed())
        self.photodiode_check.toggled.connect(lambda _v: self._settings_changed())
        self.timing_check_box.toggled.connect(lambda _v: self._settings_changed())
        self.pd_channel_edit.editingFinished.connect(self._settings_changed)
        self.save_button.clicked.connect(self.save_all_settings)
        return page

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
        self.announcements.append(text)
        event = QtGui.QAccessibleAnnouncementEvent(self.text_panel.text_label, text)
        QtGui.QAccessible.updateAccessibility(event)

    # -- settings ----------------------------------------------------------------------------------
    def _settings_changed(self) -> None:
        try:
            # (replace: settings the tab does not show, e.g. swap_stamping, are kept)
            new = replace(self.settings, theme=self.theme_box.currentData(),
                          font_scale=round(self.font_spin.value(), 2),
                          grid_scale=round(self.grid_scale_spin.value(), 2),
                          single_switch=self.switch_check.isChecked(),
                          scan_interval=round(self.scan_spin.value(), 2),
                          switch_key=self.switch_key_edit.text().strip() or "F8",
                          speak_words=self.speak_check.isChecked(), photodiode=self.photodiode_check.isChecked(),
                          timing_check=self.timing_check_box.isChecked(),
                          photodiode_channel=self.pd_channel_edit.text().strip())
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
        self._watch_switch_key(new.single_switch)
        if not new.single_switch:
            self.scanner.stop()
        if old.speak_words != new.speak_words:
            self._apply_speech(new.speak_words)

    def _apply_speech(self, on: bool) -> str | None:
        """Open or close the speech engine; the problem (no engine found) is returned and shown."""
        if on and self.speech is None:
            self.speech = open_speech(on_problem=self._speechProblem.emit)
            if not self.speech.available:
                self.set_status(self.speech.problem)
                return self.speech.problem
        elif not on and self.speech is not None:
            self.speech.close()
            self.speech = None
        return None

    def _show_speech_problem(self, problem: str) -> None:
        """After what the status line says (the speech thread found no sound output)."""
        if problem not in self.status.text():
            self.set_status(f"{self.status.text()} {problem}".strip())

    def edited_config(self) -> Config:
        """The config with the timing and stopping rule of the Settings tab."""
        sp = replace(self.config.speller, soa=round(self.soa_spin.value() / 1000, 4),
                     flash_duration=round(self.flash_spin.value() / 1000, 4),
                     max_repetitions=self.reps_spin.value(), stop_threshold=round(self.threshold_spin.value(), 3),
                     min_repetitions=min(self.config.speller.min_repetitions, self.reps_spin.value()))
        return replace(self.config, speller=sp)

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
        self.stream_box.clear()
        for s in streams:
            self.stream_box.addItem(f"{s['name']} ({s.get('type', '?')}, {s.get('n_channels', '?')} ch, "
                                    f"{s.get('sfreq', 0):g} Hz)", s["name"])
        self.set_status(f"{len(streams)} LSL stream(s) found." if streams else "No LSL stream found.")

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Recording to replay")
        if path:
            self.recording_edit.setText(path)

    def connect_request(self) -> ConnectRequest:
        """The :class:`ConnectRequest` of the connect step's controls."""
        kind = self.source_box.currentData()
        return ConnectRequest(kind, stream=self.stream_box.currentData() if kind == "lsl" else None,
                              recording=self.recording_edit.text().strip() or None if kind == "recording" else None,
                              phrase=self.copy_edit.text() or None if kind == "simulated" else None)

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
        if self.connector is None:
            raise NeurospellError("This window has no connector: start it with `neurospell gui`.")
        if self._connect_thread is not None and self._connect_thread.is_alive():
            self.set_status("Already connecting; wait for it.")
            return
        self.disconnect_source()
        self.set_status(f"Connecting: {request.kind}...")
        self._set_phase("connecting")
        config = self.config

        def work():
            try:
                conn, err = self.connector.connect(request, config), None
            except Exception as exc:  # noqa: BLE001 - shown in the status line
                logger.info("connect failed", exc_info=True)
                conn, err = None, exc
            self._connectDone.emit(conn, err, then_calibrate)

        self._connect_thread = threading.Thread(target=work, name="neurospell-gui-connect", daemon=True)
        self._connect_thread.start()

    @QtCore.Slot(object, object, bool)
    def _connect_done(self, conn, err, then_calibrate: bool) -> None:
        if err is not None:
            self._set_phase("disconnected")
            self.set_status(f"Could not connect: {err}")
            self.connect_error = err
            return
        self.connection = conn
        self._scope_placeholder.hide()
        self.scope = Scope(conn.ch_names, conn.sfreq, window=5.0, yield_to=self.grid.time_to_next_change,
                           theme=self.theme)
        self.scope_holder.layout().addWidget(self.scope)
        self._scope_timer.start(round(1000 / self._scope_hz))
        self._set_phase("connected")
        where = "" if conn.folder is None else f"; session folder {conn.folder}"
        self.set_status(f"Connected: {conn.description}{where}. Step 2 of 4: press Calibrate (F5).")
        if then_calibrate:
            self.calibrate()

    def _set_phase(self, phase: str) -> None:
        changed = phase != self._phase
        self._phase = phase
        self._update_controls()
        if changed:
            self.phaseChanged.emit(phase)

    def disconnect_source(self) -> None:
        """Stop the session (if any) and close the source.

        Returns at once: the session's worker may be busy (training) and the source slow to
        close, so both end on a thread (:meth:`closeEvent` waits for it).
        """
        session, conn = self._end_session(wait=False), self.connection
        self.connection = None
        self._scope_timer.stop()
        if self.scope is not None:
            self.scope.setParent(None)
            self.scope.deleteLater()
            self.scope = None
            self._scope_placeholder.show()
        if session is not None or conn is not None:
            def finish():
                if session is not None:
                    try:
                        session.join(timeout=60.0)
                    except Exception as err:  # noqa: BLE001 - the error is in the last snapshot already
                        logger.info("session ended with: %s", err)
                if conn is not None:
                    conn.close()
            thread = threading.Thread(target=finish, name="neurospell-gui-disconnect", daemon=True)
            thread.start()
            self._closing.append(thread)
        if self._phase != "connecting":
            self._set_phase("disconnected")

    def _end_session(self, *, wait: bool = True):
        """Stop the session and forget it; returns it (``None`` when there was none)."""
        session, self.session = self.session, None
        if session is not None:
            session.submit(Stop())
            if wait:
                try:
                    session.join(timeout=10.0)
                except Exception as err:  # noqa: BLE001 - the error is in the last snapshot already
                    logger.info("session ended with: %s", err)
            self.grid.stop()
            self.grid.cue(None)
        return session

    def _feed_scope(self) -> None:
        if self.connection is None or self.scope is None:
            return
        chunk = self.connection.read_samples()
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
        self._end_session()
        conn = self.connection
        try:
            self.session = LiveSession(self.config, conn.source, self.grid, marker_outlet=conn.marker_outlet,
                                       lm=conn.lm, lm_name=conn.lm_name, calibration_text=text,
                                       copy_text=copy if mode == "copy" else None,
                                       free=not (self.stop_after_copy and mode == "copy"),
                                       **conn.session_kwargs())
        except NeurospellError as err:
            self.set_status(f"Cannot calibrate: {err}")
            return
        self.session.start()
        self.session.submit(Start())
        self.snapshot = None
        self._set_phase("calibration")
        self.grid.setFocus()

    def spell(self) -> None:
        """Switch the running session to copy or free spelling (``SetPhase``)."""
        if self.session is None:
            self.set_status("Calibrate first: spelling needs a trained decoder (step 2).")
            return
        mode = self.mode_box.currentData()
        text = self.copy_edit.text().upper() if mode == "copy" else None
        try:
            self.session.submit(SetPhase(mode, text))
        except NeurospellError as err:
            self.set_status(str(err))

    def resume_or_start(self) -> None:
        snap = self.snapshot
        if self.session is None:
            self.calibrate()
        elif snap is not None and snap.phase == "paused":
            self.session.submit(Resume())
        self.scanner.stop()

    def pause(self) -> None:
        if self.session is not None:
            self.session.submit(Pause())

    def stop(self) -> None:
        if self.session is not None:
            self.session.submit(Stop())

    def undo(self) -> None:
        if self.session is not None:
            self.session.submit(Undo())

    def select(self, symbol) -> None:
        """Send a symbol or a :class:`Completion` chosen outside the flashing."""
        if self.session is None:
            self.set_status("Nothing to type into: calibrate and spell first.")
            return
        self.session.submit(Select(symbol))

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
        """Read the session's latest snapshot and show it (the snapshot timer's slot)."""
        self._check_child_exit()
        if self.session is None:
            return
        snap = self.session.snapshot()
        if self.settings.timing_check:
            self._maybe_check_timing(snap)
        if snap is self.snapshot:
            return
        self.show_snapshot(snap)

    def _check_child_exit(self) -> None:
        """A process the connection started (the simulated participant) exited by itself: say
        so and stop the session (it would otherwise pause for lack of samples for ever)."""
        why = getattr(self.connection, "child_exit", None)
        if why is None or why == self._child_exit_seen:
            return
        self._child_exit_seen = why
        logger.warning("gui: %s; stopping the session.", why)
        if self.session is not None and self.session.running:
            self.session.submit(Stop(why))
        else:
            self.set_status(f"The source is gone: {why}. Disconnect and connect again.")
        self._announce(why)

    # -- timing-check mode -------------------------------------------------------------------------------
    def _maybe_check_timing(self, snap) -> None:
        """Timing-check mode: check the recorded runs once the calibration and once the session end."""
        session = self.session
        prev = self.snapshot
        if session is None or self.connection is None or self.connection.folder is None:
            return
        if not session.running:
            what = "session"
        elif prev is not None and prev.phase == "calibration" and snap.phase not in ("calibration", "paused"):
            what = "calibration"
        else:
            return
        key = (id(session), what)
        if key in self._timing_checked or (self._timing_thread is not None and self._timing_thread.is_alive()):
            return
        self._timing_checked.add(key)
        self.check_timing(self.connection.folder, what)

    def check_timing(self, folder, what: str = "session") -> None:
        """Run the photodiode timing check on ``folder`` (a session folder or a recording) on a
        thread; the report appears in the Timing tab (:attr:`timingReport`)."""
        channel = self.settings.photodiode_channel
        self.timing_label.setText(f"Checking the timing of the {what} (photodiode channel {channel!r})...")

        def work():
            try:
                reports, err = timing_check(folder, channel), None
            except Exception as exc:  # noqa: BLE001 - shown in the Timing tab
                logger.info("timing check failed", exc_info=True)
                reports, err = None, exc
            self._timingDone.emit(reports, err)

        self._timing_thread = threading.Thread(target=work, name="neurospell-gui-timing", daemon=True)
        self._timing_thread.start()

    @QtCore.Slot(object, object)
    def _timing_done(self, reports, err) -> None:
        if err is not None:
            text = f"Timing check not possible: {err}"
        else:
            text = "\n\n".join(f"{name}:\n" + "\n".join(rep.lines()) for name, rep in reports)
        self.timing_label.setText(text)
        self.timing_label.setAccessibleDescription(text)
        self.tabs.setCurrentWidget(self.timing_label)
        self._announce("Timing check: " + text.replace("\n", " "))
        self.timingReport.emit(text)

    def show_snapshot(self, snap) -> None:
        """Show a :class:`~neurospell.session.live.LiveSnapshot`."""
        prev, self.snapshot = self.snapshot, snap
        eng = snap.engine
        text = eng.text if eng is not None else snap.text
        decided = self._new_decisions(prev, snap)
        for d in decided:  # symbols the BCI chose (even those a fast phase change hid from the snapshots)
            self._announce(spoken_symbol(d.symbol))
        if text != self._text:
            # (a new phase starts with a new text: not read out as deletions)
            self._text_changed(self._text, text,
                               announce=not decided and (prev is None or prev.phase == snap.phase))
        self.text_panel.set_text(text)
        if snap.phase != "stopped":  # (stopped: the copy target stays beside the typed text)
            self.text_panel.set_target(snap.target_text if snap.phase in ("calibration", "copy", "paused") else None)
        if eng is not None and (len(eng.completions) or text != self.text_panel.shown_choices_for):
            # (the session computes completions only when the text changes: a snapshot without
            # them keeps the list shown for the same text)
            self.text_panel.set_choices(eng.completions, eng.candidates, for_text=text)
        if snap.progress is not None:
            self.progress.setValue(round(100 * snap.progress))
            self.progress.setFormat(f"{snap.phase} %p%")
        elif snap.training_report is not None:
            self.progress.setValue(100)
            self.progress.setFormat("trained")
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
                if snap.phase == "stopped" and self.session is not None:
                    folder = None if self.connection is None else self.connection.folder
                    message = finished_message(self.session.result(), folder, demo=self.demo,
                                               closing=self.closing_when_done)
                    self.set_status(message)
                    self._announce(message)
                    self.sessionFinished.emit(message)
        if snap.phase != "idle" or self._phase in ("connected", "disconnected"):  # (idle: not started yet)
            self._set_phase(snap.phase)

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

    def _new_decisions(self, prev, snap) -> list:
        """The session's decision records made since the previous snapshot shown."""
        n_prev = 0 if prev is None else prev.n_decisions
        if self.session is None or snap.n_decisions <= n_prev:
            return []
        return list(self.session.result().decisions[n_prev:snap.n_decisions])

    def _text_changed(self, old: str, new: str, *, announce: bool = True) -> None:
        self._text = new
        if announce:
            common = len(os.path.commonprefix([old, new]))
            removed = old[common:]
            if removed:
                self._announce("deleted " + " ".join(spoken_symbol(c) for c in removed))
            for ch in new[common:]:
                self._announce(spoken_symbol(ch))
        if self.speech is not None and new.endswith(" ") and len(new) > len(old) and new.strip():
            self.speech.say(new.split()[-1])

    def _update_controls(self) -> None:
        connected = self.connection is not None
        has_session = self.session is not None
        phase = self._phase
        running = phase in BCI_PHASES
        kind = self.source_box.currentData()
        for w in (self.stream_box, self.refresh_button):
            w.setVisible(kind == "lsl")
        for w in (self.recording_edit, self.browse_button):
            w.setVisible(kind == "recording")
        self.connect_button.setEnabled(self.connector is not None and not running)
        self.disconnect_button.setEnabled(connected)
        self.calibrate_button.setEnabled(connected and not running and phase != "paused")
        trained = self.snapshot is not None and self.snapshot.training_report is not None
        self.spell_button.setEnabled(has_session and trained and phase not in ("stopped", "error"))
        self.start_button.setEnabled(connected and (not has_session or phase == "paused"))
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(has_session and phase not in ("stopped", "error"))
        self.undo_button.setEnabled(phase in ("copy", "free", "paused"))
        self.folder_button.setEnabled(connected and self.connection.folder is not None)
        steps = {"disconnected": "Step 1 of 4: connect", "connected": "Step 2 of 4: calibrate",
                 "calibration": "Step 2 of 4: calibrating", "training": "Step 3 of 4: training",
                 "copy": "Step 4 of 4: copy spelling", "free": "Step 4 of 4: free spelling",
                 "paused": "Paused", "stopped": "Stopped", "error": "Error", "idle": "Starting"}
        self.step_label.setText(steps.get(phase, phase))

    # -- single switch -----------------------------------------------------------------------------
    @property
    def bci_in_control(self) -> bool:
        """Whether the BCI is flashing (or training towards it): the switch then pauses."""
        return self.session is not None and self._phase in BCI_PHASES

    def switch_pressed(self) -> None:
        """The single switch: pause under BCI control; otherwise scan (start, descend, choose)."""
        if self.bci_in_control:
            self.pause()
            self._announce("paused")
            return
        self.scanner.press()

    def _watch_switch_key(self, on: bool) -> None:
        """Read every key press of the application (the single switch works wherever the focus
        is) only in single-switch mode: an application-wide event filter is Python code run,
        with the GIL, for every event of the GUI thread."""
        if on != self._watching_switch:
            app = QtWidgets.QApplication.instance()
            (app.installEventFilter if on else app.removeEventFilter)(self)
            self._watching_switch = on

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 (Qt override)
        if (self.settings.single_switch and event.type() == QtCore.QEvent.Type.KeyPress
                and not event.isAutoRepeat() and event.key() == self.settings.switch_qt_key
                and self.isActiveWindow()):
            self.switch_pressed()
            return True
        return super().eventFilter(obj, event)

    # -- closing ---------------------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self._watch_switch_key(False)
        self._poll_timer.stop()
        self.scanner.stop()
        self.disconnect_source()
        for thread in self._closing:  # the participant process and the source end before the app
            thread.join(timeout=70.0)
        self._closing = []
        if self.speech is not None:
            self.speech.close()
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
