"""The Timing tab: the photodiode timing check of timing-check mode, run on a thread."""

from __future__ import annotations

import threading

from PySide6 import QtCore, QtWidgets

from neurospell.logs import logger
from neurospell.session.timing import timing_check

from .controller import SessionPhase
from .named import named

__all__ = ["TimingTab"]


class TimingTab(QtWidgets.QLabel):
    """Shows the photodiode's offset and jitter after the flash markers.

    In timing-check mode the window asks for a check when the calibration ends
    (:meth:`calibration_may_have_ended`) and when the session ends (:meth:`check`); each runs
    once per session, on a thread, one at a time (a check asked for meanwhile waits its turn).

    Signals
    -------
    reportReady(str)
        The report (or why there is none), shown in the tab.
    """

    reportReady = QtCore.Signal(str)
    _done = QtCore.Signal(object, object)

    def __init__(self, parent=None):
        super().__init__("Timing-check mode (Settings) shows the photodiode square; the report appears here when the "
                         "calibration and when the session end.", parent)
        named(self, "Timing report", "The photodiode's offset and jitter after the flash markers (timing-check mode).")
        self.setWordWrap(True)
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByKeyboard
                                     | QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self._done.connect(self._show, QtCore.Qt.ConnectionType.QueuedConnection)
        self._thread: threading.Thread | None = None
        self._checked: set = set()  # (session number, what) already checked
        self._waiting: list = []  # (folder, what, channel) asked for while a check ran

    def calibration_may_have_ended(self, prev, snap, session: int, folder, channel: str) -> None:
        """Check the calibration run when ``snap`` is the first snapshot after it."""
        calibration, paused = SessionPhase.CALIBRATION.value, SessionPhase.PAUSED.value
        if (prev is not None and prev.phase == calibration and snap.phase not in (calibration, paused)
                and folder is not None):
            self.check_once(session, "calibration", folder, channel)

    def check_once(self, session: int, what: str, folder, channel: str) -> None:
        """:meth:`check` ``what`` of session number ``session`` unless it was checked."""
        if (session, what) not in self._checked:
            self._checked.add((session, what))
            self.check(folder, what, channel)

    def check(self, folder, what: str, channel: str) -> None:
        """Run the photodiode timing check on ``folder`` (a session folder or a recording) on
        a thread; the report appears here (:attr:`reportReady`)."""
        if self._thread is not None and self._thread.is_alive():
            self._waiting.append((folder, what, channel))
            return
        self.setText(f"Checking the timing of the {what} (photodiode channel {channel!r})...")

        def work():
            try:
                reports, err = timing_check(folder, channel), None
            except Exception as exc:  # noqa: BLE001 - shown in the tab
                logger.info("timing check failed", exc_info=True)
                reports, err = None, exc
            self._done.emit(reports, err)

        self._thread = threading.Thread(target=work, name="neurospell-gui-timing", daemon=True)
        self._thread.start()

    @QtCore.Slot(object, object)
    def _show(self, reports, err) -> None:
        if err is not None:
            text = f"Timing check not possible: {err}"
        else:
            text = "\n\n".join(f"{name}:\n" + "\n".join(rep.lines()) for name, rep in reports)
        self.setText(text)
        self.setAccessibleDescription(text)
        self.reportReady.emit(text)
        if self._waiting:
            self._thread = None
            self.check(*self._waiting.pop(0))
