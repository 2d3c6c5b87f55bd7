"""How the speller grid looks and answers the keyboard: cells, flashes, cue, cursor and
highlight drawn in the theme's colours; arrow keys and Enter/Space; what a screen reader says."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6 import QtCore, QtGui

from neurospell.check import NeurospellError, check_positive
from neurospell.types import WORD_CELL_SYMBOLS

from .theme import Theme

__all__ = ["GridDrawing", "COMPLETION_SYMBOL", "DEFAULT_LABELS"]

#: The symbol of the "select completion" cell, on layouts that have one.
COMPLETION_SYMBOL = "»"

#: How special symbols are drawn: space, backspace (``"<"``), select completion.
DEFAULT_LABELS: Mapping[str, str] = {" ": "␣", "<": "⌫", COMPLETION_SYMBOL: "»"}

#: What a screen reader says for the special symbols.
_SPOKEN: Mapping[str, str] = {" ": "space", "<": "backspace", COMPLETION_SYMBOL: "select completion"}



class GridDrawing:
    """The drawing, geometry and keyboard of :class:`~neurospell.gui.grid.SpellerGrid` (a
    mixin: it uses the grid's layout, theme, lit/cued/highlighted cells and cursor)."""

    def set_theme(self, theme: Theme) -> None:
        """Use ``theme``'s colours."""
        self._theme = theme
        self.update()

    def set_cell_font_scale(self, scale: float) -> None:
        """Scale the symbols' size (1.0: half a cell's height)."""
        self._cell_font_scale = check_positive("scale", scale)
        self.update()

    def set_cell_focus_hidden(self, hidden: bool) -> None:
        """While the BCI has control (calibration, spelling, also between flashes) and once the
        session ended: the keyboard focus only as a thin frame round the grid, never on a cell
        (it would read as a cue, or as the choice made)."""
        if bool(hidden) != getattr(self, "_cell_focus_hidden", False):
            self._cell_focus_hidden = bool(hidden)
            self.update()

    @property
    def lit_cells(self) -> frozenset[int]:
        """Indices of the symbols lit now."""
        return self._lit

    def _grid_area(self) -> QtCore.QRect:
        r = self.rect()
        if self.photodiode:
            s = self.photodiode_size
            if self.photodiode_corner.startswith("bottom"):
                r = r.adjusted(0, 0, 0, -s)
            else:
                r = r.adjusted(0, s, 0, 0)
        return r

    def photodiode_rect(self) -> QtCore.QRect | None:
        """Where the photodiode square is drawn (``None`` without one)."""
        if not self.photodiode:
            return None
        s = self.photodiode_size
        x = 0 if self.photodiode_corner.endswith("left") else self.width() - s
        y = 0 if self.photodiode_corner.startswith("top") else self.height() - s
        return QtCore.QRect(x, y, s, s)

    def cell_rect(self, index: int) -> QtCore.QRect:
        """The rectangle of symbol ``index`` in widget coordinates."""
        lay = self.speller_layout
        area = self._grid_area()
        w, h = area.width() / lay.n_cols, area.height() / lay.n_rows
        r, c = divmod(index, lay.n_cols)
        gutter = 2
        x0, y0 = area.x() + round(c * w), area.y() + round(r * h)
        x1, y1 = area.x() + round((c + 1) * w), area.y() + round((r + 1) * h)
        return QtCore.QRect(x0 + gutter, y0 + gutter, max(1, x1 - x0 - 2 * gutter), max(1, y1 - y0 - 2 * gutter))

    def probe_point(self, index: int) -> QtCore.QPoint:
        """A point inside cell ``index`` that the symbol and the focus frame never cover."""
        r = self.cell_rect(index)
        return QtCore.QPoint(r.x() + max(6, r.width() // 8), r.y() + r.height() // 2)

    def label(self, index: int) -> str:
        """The text drawn for symbol ``index`` (a word cell: its word, ``""`` when empty)."""
        s = self.speller_layout.symbols[index]
        if s in WORD_CELL_SYMBOLS:
            return self.word_cells.get(s, "")
        return self._labels.get(s, s)

    @property
    def word_cells(self) -> dict:
        """The word each word cell shows (``{symbol: word}``; see :meth:`set_word_cells`)."""
        return getattr(self, "_word_cells", {})

    def set_word_cells(self, words) -> None:
        """Show ``words`` (in cell order, ``""``: empty) in the layout's word cells."""
        tokens = [s for s in self.speller_layout.symbols if s in WORD_CELL_SYMBOLS]
        new = {t: str(w) for t, w in zip(tokens, tuple(words), strict=False)}
        if new != self.word_cells:
            self._word_cells = new
            self.update()

    def _word_font(self, base: QtGui.QFont, rect: QtCore.QRect, text: str) -> QtGui.QFont:
        """``base`` shrunk until ``text`` fits ``rect``'s width (a word drawn as large as its cell allows)."""
        font = QtGui.QFont(base)
        size = font.pixelSize()
        while size > 8 and QtGui.QFontMetrics(font).horizontalAdvance(text) > rect.width() - 6:
            size = max(8, int(size * 0.9))
            font.setPixelSize(size)
        return font

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 (Qt override)
        th = self._theme
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), th.qcolor("window"))
        cell, flash = th.qcolor("cell"), th.qcolor("flash")
        cell_text, flash_text = th.qcolor("cell_text"), th.qcolor("flash_text")
        font = QtGui.QFont(self.font())
        r0 = self.cell_rect(0)
        font.setPixelSize(max(8, int(min(r0.width(), r0.height()) * 0.5 * self._cell_font_scale)))
        font.setBold(True)
        p.setFont(font)
        p.setPen(QtGui.QPen(th.qcolor("grid_line"), 1))
        lit = self._lit
        for i in range(len(self.speller_layout.symbols)):
            r = self.cell_rect(i)
            on = i in lit
            p.fillRect(r, flash if on else cell)
            p.setPen(flash_text if on else (th.qcolor("text") if i == self._cue else cell_text))
            text = self.label(i)
            if len(text) > 1:  # a word: as large as the cell's width allows
                p.setFont(self._word_font(font, r, text))
            p.drawText(r, QtCore.Qt.AlignmentFlag.AlignCenter, text)
            if len(text) > 1:
                p.setFont(font)
        # Cue (calibration target) and scanning highlight: outlines only, never a fill, so
        # they can not be mistaken for a flash (and the pixel probes stay unchanged).
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        for idx, colour, width in ([(self._cue, th.qcolor("ok"), 5)] if self._cue is not None else []) + [
                (i, th.qcolor("focus"), 5) for i in sorted(self._highlight)]:
            pen = QtGui.QPen(colour, width)
            pen.setJoinStyle(QtCore.Qt.PenJoinStyle.MiterJoin)
            p.setPen(pen)
            p.drawRect(self.cell_rect(idx).adjusted(3, 3, -3, -3))
        if self.hasFocus():
            # Keyboard focus: a frame on the cursor's cell; while flashing or scanning, only a
            # thin frame round the grid (a salient outline on one cell would compete with the
            # stimuli, and the scan highlight already outlines cells).
            busy = self._phase != "idle" or bool(self._highlight) or getattr(self, "_cell_focus_hidden", False)
            pen = QtGui.QPen(th.qcolor("focus"), 2 if busy else 4)
            pen.setJoinStyle(QtCore.Qt.PenJoinStyle.MiterJoin)
            p.setPen(pen)
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            p.drawRect(self._grid_area().adjusted(1, 1, -1, -1) if busy
                       else self.cell_rect(self._cursor).adjusted(2, 2, -2, -2))
        pd = self.photodiode_rect()
        if pd is not None:
            p.fillRect(pd, QtGui.QColor("#ffffff") if lit else QtGui.QColor("#000000"))
        p.end()
        self._painted_frame = self._frame

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 (Qt override)
        lay = self.speller_layout
        extra = self.photodiode_size if self.photodiode else 0
        return QtCore.QSize(96 * lay.n_cols, 96 * lay.n_rows + extra)

    # -- keyboard -----------------------------------------------------------------------------
    @property
    def cursor_index(self) -> int:
        """The symbol under the keyboard cursor."""
        return self._cursor

    def set_cursor(self, index: int) -> None:
        """Move the keyboard cursor to symbol ``index``."""
        n = len(self.speller_layout.symbols)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise NeurospellError(f"set_cursor: index must be a symbol index in [0, {n - 1}], got {index!r}.")
        self._cursor = index
        self._update_accessible_description()
        self.update()

    def _update_accessible_description(self) -> None:
        lay = self.speller_layout
        r, c = divmod(self._cursor, lay.n_cols)
        sym = lay.symbols[self._cursor]
        self.setAccessibleDescription(
            f"{lay.n_rows} by {lay.n_cols} speller grid; rows and columns flash. Arrow keys move, "
            f"Enter or Space selects. Current cell: {self._spoken(sym)}, row {r + 1}, column {c + 1}."
        )

    def _spoken(self, sym: str) -> str:
        if sym in WORD_CELL_SYMBOLS:
            word = self.word_cells.get(sym, "")
            return f"word {word}" if word else "empty word cell"
        return _SPOKEN.get(sym, sym)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 (Qt override)
        lay = self.speller_layout
        n = len(lay.symbols)
        key = event.key()
        K = QtCore.Qt.Key
        moves: dict[int, Callable[[int], int]] = {
            K.Key_Left: lambda i: i - 1,
            K.Key_Right: lambda i: i + 1,
            K.Key_Up: lambda i: i - lay.n_cols,
            K.Key_Down: lambda i: i + lay.n_cols,
            K.Key_Home: lambda i: 0,
            K.Key_End: lambda i: n - 1,
        }
        if key in moves:
            self.set_cursor(min(n - 1, max(0, moves[key](self._cursor))))
            event.accept()
        elif key in (K.Key_Return, K.Key_Enter, K.Key_Space):
            self.cellActivated.emit(self._cursor)
            event.accept()
        else:
            super().keyPressEvent(event)

    def focusInEvent(self, event: QtGui.QFocusEvent) -> None:  # noqa: N802 (Qt override)
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event: QtGui.QFocusEvent) -> None:  # noqa: N802 (Qt override)
        super().focusOutEvent(event)
        self.update()
