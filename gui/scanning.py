"""Row-column scanning for single-switch users (outside BCI control).

:class:`RowColumnScanner` highlights the grid's rows one after another, every
``interval`` seconds, and after the last row a "resume" step (hand control back to the
BCI). One switch press on a row starts scanning that row's cells; a press on a cell
chooses it (:attr:`RowColumnScanner.cellChosen`) and scanning starts again at the first
row; a press on the resume step emits :attr:`RowColumnScanner.resumeChosen`. A row whose
cells were scanned twice without a press goes back to row scanning.

The scanner only times highlights and counts presses: the window turns a chosen cell into
the session's ``Select`` intent.
"""

from __future__ import annotations

from PySide6 import QtCore

from neurospell.check import check_range
from neurospell.types import SpellerLayout

__all__ = ["RowColumnScanner"]


class RowColumnScanner(QtCore.QObject):
    """Times a row, then cell, highlight over a speller layout.

    Parameters
    ----------
    layout : SpellerLayout
    interval : float
        Seconds each step stays highlighted (0.3-10).
    parent : QObject | None

    Signals
    -------
    highlightChanged(object)
        A frozenset of symbol indices now highlighted (empty on the resume step and when stopped).
    stepChanged(str)
        A spoken description of the step ("row 2: G H I J K L", "cell K", "resume BCI control").
    cellChosen(int)
        A symbol index chosen by the switch.
    resumeChosen()
        The switch was pressed on the resume step.
    """

    highlightChanged = QtCore.Signal(object)
    stepChanged = QtCore.Signal(str)
    cellChosen = QtCore.Signal(int)
    resumeChosen = QtCore.Signal()

    def __init__(self, layout: SpellerLayout, interval: float = 1.5, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.layout = layout
        self._timer = QtCore.QTimer(self)
        self._timer.timeout.connect(self._advance)
        self.set_interval(interval)
        self._mode = "rows"  # rows | cells
        self._row = 0
        self._col = 0
        self._passes = 0

    def set_interval(self, seconds: float) -> None:
        """Seconds per step (0.3-10)."""
        self.interval = check_range("scan_interval", seconds, 0.3, 10.0)
        self._timer.setInterval(round(1000 * self.interval))

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    @property
    def step(self) -> tuple[str, int]:
        """``("row", r)``, ``("cell", index)`` or ``("resume", -1)``."""
        if self._mode == "cells":
            return ("cell", self._row * self.layout.n_cols + self._col)
        if self._row == self.layout.n_rows:
            return ("resume", -1)
        return ("row", self._row)

    def start(self) -> None:
        """Start at the first row."""
        self._mode, self._row, self._col, self._passes = "rows", 0, 0, 0
        self._timer.start()
        self._emit()

    def stop(self) -> None:
        self._timer.stop()
        self.highlightChanged.emit(frozenset())

    def press(self) -> None:
        """The switch was pressed: descend into the row, choose the cell, or resume."""
        if not self.active:
            self.start()
            return
        kind, value = self.step
        if kind == "row":
            self._mode, self._col, self._passes = "cells", 0, 0
        elif kind == "cell":
            self.cellChosen.emit(value)
            self._mode, self._row = "rows", 0
        else:
            self.stop()
            self.resumeChosen.emit()
            return
        self._timer.start()  # the next step gets a full interval
        self._emit()

    def _advance(self) -> None:
        if self._mode == "rows":
            self._row = (self._row + 1) % (self.layout.n_rows + 1)
        else:
            self._col += 1
            if self._col == self.layout.n_cols:
                self._col, self._passes = 0, self._passes + 1
                if self._passes >= 2:
                    self._mode = "rows"
        self._emit()

    def _emit(self) -> None:
        kind, value = self.step
        lay = self.layout
        if kind == "row":
            cells = range(value * lay.n_cols, (value + 1) * lay.n_cols)
            spoken = " ".join("space" if lay.symbols[i] == " " else lay.symbols[i] for i in cells)
            self.highlightChanged.emit(frozenset(cells))
            self.stepChanged.emit(f"row {value + 1}: {spoken}")
        elif kind == "cell":
            sym = lay.symbols[value]
            self.highlightChanged.emit(frozenset({value}))
            self.stepChanged.emit(f"cell {'space' if sym == ' ' else sym}")
        else:
            self.highlightChanged.emit(frozenset())
            self.stepChanged.emit("resume BCI control")
