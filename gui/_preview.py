"""Preview of the speller grid and the live scope in one window, saved as a PNG.

For looking at the views without a session: the grid flashes rows and columns, the scope
shows synthetic 32-channel EEG (one flat and one railed channel, to show the quality flags),
and the window is captured during a flash.

Run (a display, or Xvfb)::

    xvfb-run -a python -m neurospell.gui._preview --out /tmp/gui_preview.png

``QT_QPA_PLATFORM=offscreen`` works too (no window system: same pixels, no decorations).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from PySide6 import QtCore, QtWidgets

from .grid import SpellerGrid
from .scope import Scope
from .theme import apply_theme


def build_window(n_channels: int = 32, sfreq: float = 250.0, *, yield_to_grid: bool = True
                 ) -> tuple[QtWidgets.QWidget, SpellerGrid, Scope]:
    """A window with a :class:`SpellerGrid` (left) and a :class:`Scope` (right).

    With ``yield_to_grid`` the scope postpones redraws that would delay a flash.
    """
    win = QtWidgets.QWidget()
    win.setWindowTitle("neurospell preview")
    win.setAccessibleName("neurospell preview")
    grid = SpellerGrid(photodiode=True, flash_frames=6, gap_frames=4)
    scope = Scope([f"EEG{i:02d}" for i in range(n_channels)], sfreq, window=4.0,
                  yield_to=grid.time_to_next_change if yield_to_grid else None)
    lay = QtWidgets.QHBoxLayout(win)
    lay.addWidget(grid, 1)
    lay.addWidget(scope, 1)
    win.resize(1400, 760)
    return win, grid, scope


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Show the speller grid and the scope; save a screenshot.")
    ap.add_argument("--out", default="/tmp/gui_preview.png", help="PNG to write")
    ap.add_argument("--seconds", type=float, default=3.0, help="how long to run before the screenshot")
    ap.add_argument("--no-yield", action="store_true", help="the scope redraws even just before a flash")
    args = ap.parse_args(argv)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    apply_theme(app, "auto", font_scale=1.2)
    win, grid, scope = build_window(yield_to_grid=not args.no_yield)
    win.show()
    win.activateWindow()
    grid.setFocus()
    sfreq, n_ch = scope.sfreq, len(scope.ch_names)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    sent = [0]

    def feed():
        due = int((time.perf_counter() - t0) * sfreq)
        m = due - sent[0]
        if m <= 0:
            return
        t = (sent[0] + np.arange(m)) / sfreq
        data = rng.standard_normal((n_ch, m)) * 8e-6 + 15e-6 * np.sin(2 * np.pi * 10 * t)
        data[4] = 0.0  # a dead channel: flagged "flat"
        data[9] = 0.2  # a saturated channel: flagged "railed"
        data[13] *= 20  # flagged "noisy"
        scope.push(data, t)
        sent[0] = due

    feeder = QtCore.QTimer()
    feeder.timeout.connect(feed)
    feeder.start(16)
    grid.show_flashes(list(range(grid.speller_layout.n_groups)) * 50)
    saved = []

    def capture(group: int, onset: float) -> None:
        if not saved and time.perf_counter() - t0 >= args.seconds and group == 2:
            win.grab().save(args.out)
            saved.append(args.out)
            app.quit()

    grid.flashShown.connect(capture)
    QtCore.QTimer.singleShot(int(1000 * (args.seconds + 10)), app.quit)  # safety net
    app.exec()
    if not saved:
        win.grab().save(args.out)
    print(f"{args.out}: grid flashes {grid.n_flashes}, dropped frames {grid.dropped_frames}, "
          f"scope redraws {scope.n_redraws} (postponed {scope.n_yielded}), scope quality {dict(zip(scope.ch_names, scope.quality, strict=True))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
