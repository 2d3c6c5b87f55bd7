"""Test helper: a real SpellerGrid window on the platform given by Qt (xcb under xvfb-run, or
offscreen) flashes every row and column twice; prints one JSON line with how the onsets were
stamped, the onsets and the LSL time just before each flash's frame was presented."""

import json
import sys

from PySide6 import QtCore, QtWidgets

from neurospell.gui.grid import SpellerGrid


class Grid(SpellerGrid):
    """The real grid, recording the LSL time at which each flash's presentation began."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.before = []

    def _present(self):
        if self._group is not None:
            self.before.append(self._local_clock())
        super()._present()


def main():
    app = QtWidgets.QApplication(sys.argv[:1])
    grid = Grid(flash_frames=3, gap_frames=3, refresh_rate=60.0, swap_stamping=sys.argv[1])
    grid.resize(600, 600)
    grid.show()
    onsets = []
    grid.on_onset(lambda group, t: onsets.append((group, t)))
    groups = list(range(len(grid.speller_layout.flash_groups))) * 2
    grid.scheduleFinished.connect(app.quit)
    QtCore.QTimer.singleShot(300, lambda: grid.show_flashes(groups))
    QtCore.QTimer.singleShot(30000, app.quit)
    app.exec()
    print(json.dumps(dict(platform=app.platformName(), stamping=grid.stamping, swap_stamped=grid.swap_stamped,
                          gl_renderer=grid.gl_renderer,
                          n_flashes=grid.n_flashes, groups=groups, onsets=onsets, before=grid.before,
                          period=grid.frame_period)), flush=True)


if __name__ == "__main__":
    main()
