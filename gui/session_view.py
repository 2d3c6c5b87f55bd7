"""The session's snapshots drawn: text, completions, progress, status, training report, the
finished message and the timing checks (the :class:`SpellerWindow`'s part that draws what its
controller says)."""

from __future__ import annotations

from PySide6 import QtCore

from neurospell.types import WORD_CELL_SYMBOLS

from .controller import SessionPhase, new_decisions
from .outcome import finished_message
from .panels import spoken_symbol

__all__ = ["SnapshotViews"]

#: Milliseconds between the steps of a view change made while the grid may flash (the training
#: report's data, then its tab): a frame, so that the GUI thread's timers run between them.
_STEP_MS = 17

#: The phases that show the target text (the calibration text, the copy phrase) beside the typed text.
_TARGET_SHOWN = (SessionPhase.CALIBRATION, SessionPhase.COPY, SessionPhase.PAUSED)

#: The spelling phases the workflow's mode box names.
_MODES = (SessionPhase.COPY, SessionPhase.FREE)


class SnapshotViews:
    """Slots of :class:`~neurospell.gui.window.SpellerWindow` (a mixin: it uses the window's
    views -- ``text_panel``, ``workflow``, ``scope``, ``report``, ``tabs``, ``timing_label``,
    ``announcer``, ``status``, ``participant`` -- and its ``controller``)."""

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
            word = d.symbol in WORD_CELL_SYMBOLS and d.text.split()  # a word cell: say its word
            self._announce(word[-1] if word else spoken_symbol(d.symbol))
        if text != self.announcer.text:
            # (a new phase starts with a new text: not read out as deletions)
            self.announcer.text_changed(text, announce=not decided and (prev is None or prev.phase == snap.phase))
        self.text_panel.set_text(text)
        phase = SessionPhase(snap.phase)
        if phase is not SessionPhase.STOPPED:  # (stopped: the copy target stays beside the typed text)
            self.text_panel.set_target(snap.target_text if phase in _TARGET_SHOWN else None)
        if eng is not None and (len(eng.completions) or text != self.text_panel.shown_choices_for):
            # (the session computes completions only when the text changes: a snapshot without
            # them keeps the list shown for the same text)
            # (re-ranked candidates only on an operator's own window: the participant's words
            # are the completions)
            self.text_panel.set_choices(eng.completions, eng.candidates if self.participant is not None else (),
                                        for_text=text)
        if self.participant is not None:
            self.participant.show_snapshot(snap)
        if phase in _MODES and (prev is None or prev.phase != snap.phase):  # the mode box follows the phase
            box = self.workflow.mode_box
            box.blockSignals(True)
            box.setCurrentIndex(box.findData(phase.value))
            box.blockSignals(False)
        if eng is not None:
            self.grid.set_word_cells(eng.word_cells)  # the words of the grid's word cells (if any)
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
        elif phase is SessionPhase.ERROR:
            status = f"Error: {snap.error}"
        elif (snap.training_report or {}).get("auc_warning"):
            status = f"{status}  |  Calibration near chance: see the Training tab (what it means, what to try)."
        self.set_status(status)
        if prev is None or prev.phase != snap.phase:
            self._announce(f"Phase: {snap.phase}")
            if phase.ended:
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
