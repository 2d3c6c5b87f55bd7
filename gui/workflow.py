"""The workflow panel: connect, calibrate, train, spell, and the session's buttons."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from neurospell.session.rig import SOURCE_KINDS, ConnectRequest

from .controller import ConnectionState, SessionPhase
from .named import button, named

__all__ = ["WorkflowPanel", "stage_name"]

#: The step label of each stage (:func:`stage_name`).
STEPS = {"disconnected": "Step 1 of 4: connect", "connecting": "connecting",
         "connected": "Step 2 of 4: calibrate", "calibration": "Step 2 of 4: calibrating",
         "training": "Step 3 of 4: training", "copy": "Step 4 of 4: copy spelling",
         "free": "Step 4 of 4: free spelling", "paused": "Paused", "stopped": "Stopped", "error": "Error",
         "idle": "Starting"}


def stage_name(connection: ConnectionState, phase: SessionPhase | None) -> str:
    """The workflow's stage in one word: the session's phase, else the connection's state."""
    return connection.value if phase is None else phase.value


class WorkflowPanel(QtWidgets.QGroupBox):
    """The *Session* box: the four steps' controls and the start/pause/stop/undo/folder buttons.

    The window wires the controls' signals to its actions; :meth:`update_controls` enables
    them for the current state.
    """

    #: The controls (attributes), also offered by the window under the same names.
    CONTROLS = ("source_box", "stream_box", "refresh_button", "recording_edit", "browse_button", "connect_button",
                "disconnect_button", "calibration_edit", "calibrate_button", "progress", "mode_box", "copy_edit",
                "spell_button", "start_button", "pause_button", "stop_button", "undo_button", "folder_button",
                "step_label")

    def __init__(self, calibration_text: str | None = None, copy_text: str | None = None, parent=None):
        super().__init__("Session", parent)
        self.setAccessibleName("Session workflow")
        form = QtWidgets.QGridLayout(self)
        # 1. connect
        self.source_box = named(QtWidgets.QComboBox(), "Source", "Where the EEG comes from.")
        for kind, label in SOURCE_KINDS:
            self.source_box.addItem(label, kind)
        self.stream_box = named(QtWidgets.QComboBox(), "LSL stream", "The LSL EEG stream to read; Refresh lists them.")
        self.refresh_button = button("&Refresh", "refresh", "List the LSL streams visible on this machine.")
        self.recording_edit = named(QtWidgets.QLineEdit(), "Recording file", "A recording to replay as the source.")
        self.recording_edit.setPlaceholderText("recording file to replay")
        self.browse_button = button("&Browse...", "browse", "Choose a recording file to replay.")
        self.connect_button = button("&Connect", "connect", "Open the chosen source; the scope shows its signals.")
        self.disconnect_button = button("&Disconnect", "disconnect", "Stop the session and close the source.")
        # 2. calibrate
        self.calibration_edit = named(QtWidgets.QLineEdit(calibration_text or "THE QUICK BROWN FOX"),
                                      "Calibration text", "Characters cued one by one during calibration.")
        self.calibrate_button = button("C&alibrate", "calibrate",
                                       "Start: cue the calibration text, train the decoder, then spell (F5).")
        # 3. train
        self.progress = named(QtWidgets.QProgressBar(), "Progress", "Calibration and training progress.")
        self.progress.setRange(0, 100)
        self.progress.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        # 4. spell
        self.mode_box = named(QtWidgets.QComboBox(), "Spelling mode", "Copy a given phrase, or spell freely.")
        self.mode_box.addItem("Copy spelling", "copy")
        self.mode_box.addItem("Free spelling", "free")
        self.copy_edit = named(QtWidgets.QLineEdit(copy_text or "HELLO WORLD"), "Phrase to copy",
                               "The phrase to spell in copy mode.")
        self.spell_button = button("S&pell", "spell", "Switch to copy or free spelling now (after training).")
        # controls
        self.start_button = button("&Start", "start", "Start (calibrate) or resume the session (F5).")
        self.pause_button = button("Pa&use", "pause", "Pause the flashing (Escape).")
        self.stop_button = button("St&op", "stop", "End the session (Ctrl+Shift+S).")
        self.undo_button = button("&Undo", "undo", "Delete the last typed symbol (Ctrl+Z).")
        self.folder_button = button("Open session &folder", "open_folder",
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

    def connect_request(self) -> ConnectRequest:
        """The :class:`ConnectRequest` of the connect step's controls."""
        kind = self.source_box.currentData()
        return ConnectRequest(kind, stream=self.stream_box.currentData() if kind == "lsl" else None,
                              recording=self.recording_edit.text().strip() or None if kind == "recording" else None,
                              phrase=self.copy_edit.text() or None if kind == "simulated" else None)

    def browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.window(), "Recording to replay")
        if path:
            self.recording_edit.setText(path)

    def show_streams(self, streams: list[dict]) -> None:
        self.stream_box.clear()
        for s in streams:
            self.stream_box.addItem(f"{s['name']} ({s.get('type', '?')}, {s.get('n_channels', '?')} ch, "
                                    f"{s.get('sfreq', 0):g} Hz)", s["name"])

    def show_progress(self, snap) -> None:
        """Calibration and training progress of a :class:`LiveSnapshot`; "trained" after it."""
        if snap.progress is not None:
            self.progress.setValue(round(100 * snap.progress))
            self.progress.setFormat(f"{snap.phase} %p%")
        elif snap.training_report is not None:
            self.progress.setValue(100)
            self.progress.setFormat("trained")

    def update_controls(self, *, can_connect: bool, connection: ConnectionState, phase: SessionPhase | None,
                        has_session: bool, trained: bool, has_folder: bool) -> None:
        """Show and enable the controls for the state."""
        connected = connection is ConnectionState.CONNECTED
        running = phase is not None and phase.bci_in_control
        ended = phase is not None and phase.ended
        kind = self.source_box.currentData()
        for w in (self.stream_box, self.refresh_button):
            w.setVisible(kind == "lsl")
        for w in (self.recording_edit, self.browse_button):
            w.setVisible(kind == "recording")
        self.connect_button.setEnabled(can_connect and not running)
        self.disconnect_button.setEnabled(connected)
        self.calibrate_button.setEnabled(connected and not running and phase is not SessionPhase.PAUSED)
        self.spell_button.setEnabled(has_session and trained and not ended)
        self.start_button.setEnabled(connected and (not has_session or phase is SessionPhase.PAUSED))
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(has_session and not ended)
        self.undo_button.setEnabled(phase in (SessionPhase.COPY, SessionPhase.FREE, SessionPhase.PAUSED))
        self.folder_button.setEnabled(connected and has_folder)
        self.step_label.setText(STEPS[stage_name(connection, phase)])
