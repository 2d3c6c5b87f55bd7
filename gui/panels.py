"""The window's panels: typed text with choices, training report. Views of snapshots only.

* :class:`TextPanel` -- the typed text (large), the copy target, and one list of choices:
  the language model's word completions and the re-ranked candidate texts of the engine's
  snapshot, each chosen with the keyboard (arrows + Enter) or by the BCI (the grid's
  "select completion" cell picks the first completion).
* :class:`TrainingReport` -- after training: AUC, accuracy vs repetitions and the
  target / non-target ERPs of the snapshot's ``training_report``.

Both are fed by the window from :class:`~neurospell.session.live.LiveSnapshot` objects on
a timer; they hold no pipeline state.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from neurospell.session.engine import Completion

from .theme import Theme, current_theme

__all__ = ["TextPanel", "TrainingReport", "choice_for_candidate", "spoken_symbol"]


def spoken_symbol(ch: str) -> str:
    """How a screen reader should say a typed character."""
    return {" ": "space", "<": "backspace", "»": "select completion"}.get(ch, ch)


def choice_for_candidate(text: str, candidate: str) -> Completion | None:
    """The :class:`Completion` that turns ``text`` into ``candidate``, or ``None``.

    A re-ranked candidate can be chosen when it differs from the typed text only in the
    word being typed (the part after the last space): choosing it replaces that word.
    """
    cut = text.rfind(" ") + 1
    word = candidate[cut:].strip()
    if candidate[:cut] != text[:cut] or not word or " " in word or candidate.rstrip() == text.rstrip():
        return None
    return Completion(word)


class TextPanel(QtWidgets.QWidget):
    """Typed text, copy target and the completion / candidate choices.

    Signals
    -------
    choiceActivated(object)
        A :class:`~neurospell.session.engine.Completion` the user chose (Enter on a choice,
        or a double click).
    """

    choiceActivated = QtCore.Signal(object)

    def __init__(self, theme: Theme | None = None, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._theme = theme or current_theme()
        self._text = ""
        self._choices: list[tuple[str, Completion | None]] = []
        #: The typed text the choices shown were computed for.
        self.shown_choices_for: str | None = None
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.target_label = QtWidgets.QLabel("")
        self.target_label.setAccessibleName("Text to copy")
        self.target_label.setWordWrap(True)
        self.text_label = QtWidgets.QLabel("")
        self.text_label.setObjectName("typedText")
        self.text_label.setAccessibleName("Typed text")
        self.text_label.setAccessibleDescription("The text spelled so far.")
        self.text_label.setWordWrap(True)
        self.text_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByKeyboard
                                                | QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text_label.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.text_label.setMinimumHeight(60)
        self.choices = QtWidgets.QListWidget()
        self.choices.setObjectName("choices")
        self.choices.setAccessibleName("Word completions and candidates")
        self.choices.setAccessibleDescription(
            "Completions of the word being typed and re-ranked candidate texts. Arrow keys move, "
            "Enter chooses. The grid's select-completion cell chooses the first completion.")
        self.choices.setMaximumHeight(150)
        self.choices.itemActivated.connect(self._activated)
        self.choices.itemDoubleClicked.connect(self._activated)
        lay.addWidget(self.target_label)
        lay.addWidget(self.text_label)
        lay.addWidget(self.choices)
        self.set_text_scale(2.0)

    def set_text_scale(self, scale: float) -> None:
        """Typed text at ``scale`` times the application font."""
        font = QtGui.QFont(self.font())
        font.setPointSizeF(max(8.0, QtWidgets.QApplication.font().pointSizeF() * scale))
        font.setBold(True)
        self.text_label.setFont(font)

    @property
    def text(self) -> str:
        return self._text

    def set_target(self, target: str | None) -> None:
        self.target_label.setText(f"Copy: {target}" if target else "")
        self.target_label.setVisible(bool(target))

    def set_text(self, text: str) -> None:
        self._text = text
        # A visible cursor mark after the text; the space made visible as an open box at the end.
        shown = text if not text.endswith(" ") else text[:-1] + "␣"
        self.text_label.setText(shown + "▏")
        self.text_label.setAccessibleDescription(f"Typed text: {text!r}" if text else "Nothing typed yet.")

    def set_choices(self, completions, candidates, *, for_text: str | None = None) -> None:
        """Fill the list: completions (words) then candidates that differ in the current word.

        Parameters
        ----------
        completions, candidates : CandidateList | iterable of Candidate
        for_text : str | None
            The typed text they were computed for (kept in :attr:`shown_choices_for`).
        """
        self.shown_choices_for = self._text if for_text is None else for_text
        items: list[tuple[str, Completion | None]] = []
        seen: set[str] = set()
        for c in completions or ():
            word = c.text.strip()
            if word and " " not in word and word not in seen:
                seen.add(word)
                items.append((f"{word}", Completion(word)))
        for c in candidates or ():
            comp = choice_for_candidate(self._text, c.text)
            if comp is not None and comp.word not in seen:
                seen.add(comp.word)
                whole = c.text.strip()
                items.append((f"{comp.word}  (re-ranked: {whole})" if " " in whole else f"{comp.word}  (re-ranked)", comp))
        if items == self._choices:
            return
        self._choices = items
        current = self.choices.currentRow()
        self.choices.clear()
        for i, (label, _comp) in enumerate(items):
            item = QtWidgets.QListWidgetItem(("» " if i == 0 else "   ") + label)
            item.setData(QtCore.Qt.ItemDataRole.AccessibleTextRole, label)
            self.choices.addItem(item)
        if items:
            self.choices.setCurrentRow(min(max(current, 0), len(items) - 1))

    def completion(self, row: int) -> Completion | None:
        return self._choices[row][1] if 0 <= row < len(self._choices) else None

    def _activated(self, item: QtWidgets.QListWidgetItem) -> None:
        comp = self.completion(self.choices.row(item))
        if comp is not None:
            self.choiceActivated.emit(comp)


def _get(report: Mapping, *names, default=None):
    for n in names:
        if n in report and report[n] is not None:
            return report[n]
    return default


class TrainingReport(QtWidgets.QWidget):
    """AUC, accuracy vs repetitions and the target / non-target ERPs after training.

    Reads the ``training_report`` of a :class:`~neurospell.session.live.LiveSnapshot`:
    ``heldout_auc`` (AUC on characters the decoder was not trained on), ``decoder``,
    ``n_epochs``, ``n_targets``, ``lm_alpha``, ``train_seconds``, ``times`` (seconds),
    ``erp_target`` and ``erp_nontarget`` (``(n_channels, n_times)`` or ``(n_times,)``,
    volts), ``ch_names``; and, when the report has them, ``accuracy`` (held-out character
    accuracy) and ``accuracy_vs_repetitions`` (a sequence, index 0 = 1 repetition, or a
    mapping repetitions -> accuracy). The ERP plotted is ``erp_channel`` if named, else Pz,
    Cz or Oz (the first present), else the mean over channels.
    """

    def __init__(self, theme: Theme | None = None, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        th = theme or current_theme()
        self.summary = QtWidgets.QLabel("No model trained yet.")
        self.summary.setAccessibleName("Training summary")
        self.summary.setWordWrap(True)
        self.summary.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.acc_plot = pg.PlotWidget(background=th.window)
        self.acc_plot.setAccessibleName("Accuracy versus repetitions")
        self.acc_plot.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.acc_plot.setLabel("bottom", "repetitions")
        self.acc_plot.setLabel("left", "accuracy")
        self.acc_plot.setYRange(0, 1.05)
        self.acc_plot.setMouseEnabled(False, False)
        self.erp_plot = pg.PlotWidget(background=th.window)
        self.erp_plot.setAccessibleName("Target and non-target ERP")
        self.erp_plot.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.erp_plot.setLabel("bottom", "time after flash (ms)")
        self.erp_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.erp_plot.getAxis("left").enableAutoSIPrefix(False)
        self.erp_plot.setLabel("left", "µV")
        self.erp_plot.setMouseEnabled(False, False)
        self.erp_plot.addLegend(offset=(-10, 10))  # top right, away from the early ERP
        self._acc = self.acc_plot.plot([], [], pen=pg.mkPen(th.focus, width=3), symbol="o", symbolBrush=th.focus)
        self._target = self.erp_plot.plot([], [], pen=pg.mkPen(th.ok, width=3), name="target")
        self._nontarget = self.erp_plot.plot([], [], pen=pg.mkPen(th.text, width=2), name="non-target")
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(self.summary)
        lay.addWidget(self.acc_plot, 1)
        lay.addWidget(self.erp_plot, 1)
        self.report: Mapping | None = None

    def set_report(self, report: Mapping | None) -> None:
        if report is self.report:
            return
        self.report = report
        if not report:
            self.summary.setText("No model trained yet.")
            self._acc.setData([], [])
            self._target.setData([], [])
            self._nontarget.setData([], [])
            return
        parts = []
        name = _get(report, "decoder")
        if name is not None:
            parts.append(f"{name} trained on {_get(report, 'n_epochs', default='?')} epochs "
                         f"({_get(report, 'n_targets', default='?')} targets)")
        auc = _get(report, "heldout_auc", "auc")
        if auc is not None:
            parts.append(f"held-out AUC {float(auc):.3f}")
        warning = _get(report, "auc_warning")
        if warning:
            parts.insert(0, f"Warning: {warning}")
        alpha = _get(report, "lm_alpha")
        if alpha is not None:
            parts.append(f"LM weight {float(alpha):.2f}")
        acc = _get(report, "accuracy", "char_accuracy")
        if acc is not None:
            parts.append(f"character accuracy {float(acc):.0%} on held-out characters")
        curve = _get(report, "accuracy_vs_repetitions", "accuracy_by_repetitions")
        if isinstance(curve, Mapping):
            reps = np.array(sorted(curve), float)
            accs = np.array([curve[k] for k in sorted(curve)], float)
        elif curve is not None:
            accs = np.asarray(curve, float).ravel()
            reps = np.arange(1, accs.size + 1, dtype=float)
        else:
            reps = accs = np.zeros(0)
        self._acc.setData(reps, accs)
        self.acc_plot.setTitle(None if reps.size else "accuracy vs repetitions: not in this session's report")
        if reps.size:
            self.acc_plot.setXRange(0.5, reps.max() + 0.5)
            parts.append("accuracy by repetitions " + ", ".join(f"{int(r)}: {a:.0%}" for r, a in zip(reps, accs, strict=True)))
        t = _get(report, "erp_times", "times")
        tgt, ntg = _get(report, "erp_target"), _get(report, "erp_nontarget")
        if t is not None and tgt is not None and ntg is not None:
            t = np.asarray(t, float)
            tgt, ntg = np.asarray(tgt, float), np.asarray(ntg, float)
            names = list(_get(report, "ch_names", default=()) or ())
            ch = _get(report, "erp_channel", default=next((c for c in ("Pz", "Cz", "Oz") if c in names), None))
            if tgt.ndim == 2:
                if ch in names:
                    k = names.index(ch)
                    tgt, ntg, label = tgt[k], ntg[k], ch
                else:
                    tgt, ntg, label = tgt.mean(0), ntg.mean(0), "mean of channels"
            else:
                label = ch or "ERP"
            self._target.setData(1000 * t, tgt * 1e6)
            self._nontarget.setData(1000 * t, ntg * 1e6)
            self.erp_plot.setTitle(label)
            peak = float(np.max(np.abs(tgt - ntg))) * 1e6
            parts.append(f"ERP ({label}): largest target minus non-target difference {peak:.1f} µV")
        text = "; ".join(parts) if parts else "Training finished."
        self.summary.setText(text)
        self.summary.setAccessibleDescription(text)
