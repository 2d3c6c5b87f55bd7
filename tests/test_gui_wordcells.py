"""The grid's word cells: each shows its word, as large as its cell allows; an empty one shows
nothing; a word cell flashes like any cell; the window passes the session's words to the grid."""

from __future__ import annotations

import dataclasses

import numpy as np
from PySide6 import QtGui

from neurospell.config import Config, load_config
from neurospell.gui.grid import SpellerGrid
from neurospell.types import WORD_CELL_SYMBOLS

LAYOUT = Config().speller.live().layout()


def _grid(qtbot, size=(720, 600)):
    grid = SpellerGrid(LAYOUT, refresh_rate=60.0, flash_frames=2, gap_frames=2)
    qtbot.addWidget(grid)
    grid.resize(*size)
    grid.show()
    qtbot.waitExposed(grid)
    return grid


def _ink(grid, index) -> int:
    """Pixels of cell ``index`` drawn in the cell-text colour (the symbol's or word's ink)."""
    img = grid.grab().toImage()
    dpr = img.devicePixelRatio()
    r = grid.cell_rect(index)
    colour = grid._theme.qcolor("cell_text").rgb()
    n = 0
    for y in range(int(r.top() * dpr), int(r.bottom() * dpr), 2):
        for x in range(int(r.left() * dpr), int(r.right() * dpr), 2):
            n += img.pixel(x, y) == colour
    return n


def test_word_cells_show_their_words_large(qtbot):
    grid = _grid(qtbot)
    first = LAYOUT.symbols.index(WORD_CELL_SYMBOLS[0])
    assert grid.label(first) == "" and _ink(grid, first) == 0  # no words yet: empty cells
    grid.set_word_cells(("TOMORROW", "I", "", "", "", ""))
    qtbot.waitUntil(lambda: _ink(grid, first) > 0, timeout=5000)
    assert grid.label(first) == "TOMORROW" and grid.label(first + 1) == "I" and grid.label(first + 2) == ""
    assert _ink(grid, first + 2) == 0
    # the long word fits its cell's width; a one-letter word is drawn as large as a letter
    r = grid.cell_rect(first)
    base = QtGui.QFont(grid.font())
    base.setPixelSize(int(min(r.width(), r.height()) * 0.5))
    base.setBold(True)
    long_font = grid._word_font(base, r, "TOMORROW")
    assert QtGui.QFontMetrics(long_font).horizontalAdvance("TOMORROW") <= r.width() - 6
    assert long_font.pixelSize() >= 10  # still readable at this size
    assert _ink(grid, first + 1) > 0.5 * _ink(grid, LAYOUT.symbols.index("I"))
    assert "word TOMORROW" in grid._spoken(WORD_CELL_SYMBOLS[0])


def test_word_cell_row_flashes(qtbot):
    grid = _grid(qtbot)
    grid.set_word_cells(("HELLO", "HELP"))
    words_row = 5
    lit = []
    grid.flashShown.connect(lambda g, t: lit.append(set(grid.lit_cells)))
    with qtbot.waitSignal(grid.scheduleFinished, timeout=20000):
        grid.show_flashes([words_row])
    assert lit == [set(range(30, 36))]


def test_window_passes_the_sessions_words_to_the_grid(qtbot, tmp_path, restore_app_look):
    from neurospell.decoder import ScoreModel
    from neurospell.gui.window import SpellerWindow
    from neurospell.lm_fusion import make_model
    from neurospell.session.engine import SpellerEngine
    from neurospell.session.live import LiveSnapshot

    config = load_config()
    config = dataclasses.replace(config, speller=config.speller.live())
    win = SpellerWindow(config, None, settings_path=tmp_path / "gui.toml", config_path=tmp_path / "config.toml",
                        refresh_rate=60.0)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    rng = np.random.default_rng(0)
    sm = ScoreModel().fit(np.r_[rng.normal(1, 1, 300), rng.normal(-1, 1, 300)], np.r_[np.ones(300, bool),
                                                                                     np.zeros(300, bool)])
    eng = SpellerEngine.from_config(config.speller.layout(), sm, make_model("ngram", config.lm), config,
                                    text="HOW AR").snapshot()
    assert eng.word_cells[0]
    win.show_snapshot(LiveSnapshot("free", "free: selecting", engine=eng, text=eng.text))
    qtbot.waitUntil(lambda: win.grid.label(30) == eng.word_cells[0], timeout=5000)
    assert [win.grid.label(30 + i) for i in range(6)] == list(eng.word_cells)
