"""The participant's screen, apart from the operator's: real Qt windows (offscreen), real
snapshots, and a real session with the simulated participant for the keys and the phases.

Screenshots go to ``tmp_path`` and are also copied to ``/tmp/gui_shots/`` for a person to look at.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyqtgraph as pg
import pytest
from helpers.engine_snapshot import engine_snapshot
from helpers.gui_config import FAST
from PySide6 import QtCore, QtGui, QtWidgets

from neurospell.check import NeurospellError
from neurospell.commands.gui import Connector
from neurospell.config import load_config
from neurospell.gui.app import SpellerWindow
from neurospell.gui.participant_view import (
    ParticipantView,
    choose_screen,
    parse_screen_setting,
    state_in_words,
)
from neurospell.gui.scope import Scope
from neurospell.gui.settings import GuiSettings
from neurospell.session.live import LiveSnapshot
from neurospell.types import Candidate, CandidateList

SHOTS = Path("/tmp/gui_shots")
K = QtCore.Qt.Key





def _window(qtbot, config, tmp_path, connector=None, **kw) -> SpellerWindow:
    settings = kw.pop("settings", GuiSettings())
    win = SpellerWindow(config, connector, settings=settings, settings_path=tmp_path / "gui.toml",
                        config_path=tmp_path / "config.toml", refresh_rate=60.0, participant_screen="auto", **kw)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def _shot(widget, tmp_path, name) -> Path:
    path = tmp_path / "shots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(path))
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(path, SHOTS / path.name)
    return path


class PaintCounter(QtCore.QObject):
    """Counts the paint events of widgets."""

    def __init__(self, widgets):
        super().__init__()
        self.counts = {w: 0 for w in widgets}
        for w in widgets:
            w.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 (Qt override)
        if event.type() == QtCore.QEvent.Type.Paint and obj in self.counts:
            self.counts[obj] += 1
        return False

    def painted(self) -> dict[str, int]:
        return {w.accessibleName() or type(w).__name__: n for w, n in self.counts.items() if n}

    def reset(self) -> None:
        self.counts = dict.fromkeys(self.counts, 0)


def test_participant_view_shows_the_snapshots_and_nothing_moves_there(qtbot, tmp_path, restore_app_look):
    win = _window(qtbot, load_config(), tmp_path)
    part = win.participant
    view = part.view
    # One screen here: the participant's view shares it and comes in front when a session starts.
    assert part.shared and not view.isVisible()
    # The grid flashes in the participant's view; the operator's window keeps the workflow, the
    # Signals tab (the scope's place), the training report and the session folder button.
    assert win.grid.window() is view and part.placeholder.window() is win and "participant" in part.placeholder.text()
    for w in (win.workflow, win.scope_holder, win.report, win.timing_label, win.folder_button):
        assert w.window() is win
    part.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.isActiveWindow() and view.isFullScreen(), timeout=5000)
    assert view.geometry() == view.screen().geometry()
    # Nothing on it that moves by itself: no scope or plot, no progress bar, no active timer.
    assert not view.findChildren(Scope) and not view.findChildren(pg.PlotWidget)
    assert not view.findChildren(QtWidgets.QProgressBar)
    assert not [t for t in view.findChildren(QtCore.QTimer) if t.isActive()]

    # Calibration: the calibration text with the cued letter marked, the state in plain words.
    win.show_snapshot(LiveSnapshot("calibration", "calibration: character 2/8 'P'", cue="P", target_text="SPELL IT",
                                   progress=1 / 8))
    assert view.next_symbol == "P" and "Calibration" in view.target_label.text()
    assert view.state_label.text().startswith("Calibration") and view.hint_label.text() == "To pause: press Escape."
    # Copy spelling: the typed text large, the next letter of the phrase marked, the words to choose.
    eng = engine_snapshot("HELLO WO")
    # (a re-ranked alternative of the word being typed, as the EEG + LM beam gives them)
    eng = dataclasses.replace(eng, candidates=CandidateList((Candidate("HELLO WO", -1.0), Candidate("HELLO WA", -2.0))))
    assert len(eng.completions)
    win.show_snapshot(LiveSnapshot("copy", "copy: selecting", engine=eng, target_text="HELLO WORLD", text=eng.text))
    assert view.text_label.text() == "HELLO WO▏"
    app_size = QtWidgets.QApplication.font().pointSizeF()
    assert view.text_label.font().pointSizeF() >= 3.5 * app_size
    assert view.text_label.font().pointSizeF() > 1.5 * win.text_panel.text_label.font().pointSizeF()
    assert view.next_symbol == "R" and "next: <b" in view.target_label.text() and ">R</b>" in view.target_label.text()
    assert view.words and all(w.startswith("WO") for w in view.words)
    assert "re-ranked" not in view.words_label.text() and "(" not in "".join(view.words)
    operator_choices = [win.text_panel.choices.item(i).text() for i in range(win.text_panel.choices.count())]
    assert any("re-ranked" in c for c in operator_choices), operator_choices  # (the operator's own window)
    assert view.state_label.text().startswith("Copy spelling")
    assert win.mode_box.currentData() == "copy"
    _shot(view, tmp_path, "participant-copy")
    _shot(win, tmp_path, "operator-copy")
    # A mistake: the next symbol is backspace.
    eng2 = engine_snapshot("HELLO WP")
    win.show_snapshot(LiveSnapshot("copy", "copy", engine=eng2, target_text="HELLO WORLD", text=eng2.text))
    assert view.next_symbol == "<" and "this grid has no ⌫: Ctrl+Z undoes it" in view.target_label.text()

    # Repaints only when a snapshot changes what is shown, or the grid flashes.
    others = [w for w in view.findChildren(QtWidgets.QWidget) if w is not win.grid and not win.grid.isAncestorOf(w)]
    counter = PaintCounter([view, *others])

    def settled():  # (the last snapshot's paints and layout done: a turn of the event loop paints nothing)
        counter.reset()
        QtWidgets.QApplication.processEvents()
        return not counter.painted()

    qtbot.waitUntil(settled, timeout=5000)
    again = LiveSnapshot("copy", "copy", engine=eng2, target_text="HELLO WORLD", text=eng2.text)
    for _ in range(10):  # (the controller polls 20 times a second: equal snapshots)
        win.show_snapshot(LiveSnapshot("copy", "copy", engine=eng2, target_text="HELLO WORLD", text=eng2.text))
    QtWidgets.QApplication.processEvents()
    assert counter.painted() == {}
    flashed = []
    win.grid.flashShown.connect(lambda g, t: flashed.append(g))
    with qtbot.waitSignal(win.grid.scheduleFinished, timeout=20000):
        win.grid.show_flashes(list(range(win.grid.speller_layout.n_groups)))
    assert len(flashed) == win.grid.speller_layout.n_groups
    QtWidgets.QApplication.processEvents()
    assert counter.painted() == {}, "the participant's view repainted besides the grid's flashes"
    eng3 = engine_snapshot("HELLO WOR")
    win.show_snapshot(LiveSnapshot("copy", "copy", engine=eng3, target_text="HELLO WORLD", text=eng3.text))
    qtbot.waitUntil(lambda: counter.counts[view.text_label] > 0, timeout=5000)
    assert view.next_symbol == "L" and again.text != eng3.text

    # The session ends: the phrase stays shown, nothing marked next, no words to choose.
    win.show_snapshot(LiveSnapshot("stopped", "stopped", engine=eng2, target_text="HELLO WORLD", text=eng2.text))
    assert view.target_label.isVisible() and view.next_symbol is None and "next" not in view.target_label.text()
    assert view.words == () and view.state_label.text() == "Finished."
    assert view.hint_label.text() == "F12: the operator's window."  # (one monitor: the way back)
    # The phrase done, the session free-spells: the target goes, the mode box says so.
    eng4 = engine_snapshot("HELLO WORLD ")
    win.show_snapshot(LiveSnapshot("free", "free", engine=eng4, text=eng4.text))
    assert win.mode_box.currentData() == "free" and win.mode_box.currentText() == "Free spelling"
    assert not view.target_label.isVisible() and view.next_symbol is None
    assert view.state_label.text().startswith("Spelling")
    # Paused, in plain words with how to go on; single-switch mode names the switch.
    win.show_snapshot(LiveSnapshot("paused", "paused", engine=eng4, text=eng4.text))
    assert view.state_label.text() == "Paused." and "F5" in view.hint_label.text()
    assert state_in_words(LiveSnapshot("copy", ""), single_switch=True, switch_key="F9")[1] == \
        "To pause: press the switch (F9)."
    _shot(view, tmp_path, "participant-paused")
    win.close()
    assert not view.isVisible()


def test_screen_settings_are_checked(qapp):
    assert parse_screen_setting("auto") == "auto" and parse_screen_setting(" OFF ") == "off"
    assert parse_screen_setting("2") == 2 and parse_screen_setting(1) == 1
    for bad in ("0", "second", 0, -1, True, 1.5):
        with pytest.raises(NeurospellError, match="participant_screen must be 'auto', 'off' or a screen number"):
            parse_screen_setting(bad)
    screens = QtGui.QGuiApplication.screens()
    assert choose_screen("off", screens) is None
    assert choose_screen("auto", screens) is screens[-1 if len(screens) > 1 else 0]
    assert choose_screen(1, screens) is screens[0]
    with pytest.raises(NeurospellError, match=f"has {len(screens)} screen\\(s\\) \\(1: "):
        choose_screen(len(screens) + 1, screens)
    out = subprocess.run([sys.executable, "-m", "neurospell", "gui", "--participant-screen", "left"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "--participant-screen must be 'auto', 'off' or a screen number" in out.stderr, \
        out.stderr


_TWO_SCREENS = """
import sys
from PySide6 import QtWidgets
from neurospell.config import load_config
from neurospell.gui.app import SpellerWindow
from neurospell.gui.settings import GuiSettings
app = QtWidgets.QApplication([])
win = SpellerWindow(load_config(), None, settings=GuiSettings(), settings_path=sys.argv[1], config_path=sys.argv[2],
                    refresh_rate=60.0, participant_screen=sys.argv[3])
win.show()
win.participant.show_if_own_screen()
for _ in range(50):
    app.processEvents()
view = win.participant.view
g = view.geometry()
print(win.screen().name(), view.screen().name(), view.isVisible(), view.isFullScreen(), g.x(), g.width(), g.height(),
      win.participant.shared)
win.close()
"""


def test_two_monitors_the_participants_view_fills_the_second(tmp_path):
    """Two screens (Qt's offscreen platform, configured with two): the participant's view is
    shown at once, full screen on the second; the operator's window stays on the first."""
    config = tmp_path / "screens.json"
    config.write_text(json.dumps({"screens": [
        {"name": "OPERATOR", "x": 0, "y": 0, "width": 1280, "height": 800, "logicalDpi": 96, "logicalBaseDpi": 96,
         "dpr": 1},
        {"name": "PARTICIPANT", "x": 1280, "y": 0, "width": 1024, "height": 768, "logicalDpi": 96,
         "logicalBaseDpi": 96, "dpr": 1}]}))
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={config}")
    for setting, expected in (("auto", "PARTICIPANT"), ("2", "PARTICIPANT")):
        out = subprocess.run([sys.executable, "-c", _TWO_SCREENS, str(tmp_path / "gui.toml"),
                              str(tmp_path / "config.toml"), setting], env=env, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr[-3000:]
        assert out.stdout.split() == ["OPERATOR", expected, "True", "True", "1280", "1024", "768", "False"], out.stdout
    out = subprocess.run([sys.executable, "-c", _TWO_SCREENS, str(tmp_path / "gui.toml"), str(tmp_path / "config.toml"),
                          "3"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "this display has 2 screen(s) (1: OPERATOR 1280x800 at 0,0; 2: PARTICIPANT" \
        in out.stderr, out.stderr[-2000:]


def _focus_on_a_cell(grid) -> bool:
    """Whether the focus colour outlines the cursor's cell (the frame drawn on one symbol)."""
    img = grid.grab().toImage()
    dpr = img.devicePixelRatio()
    r = grid.cell_rect(grid.cursor_index)
    focus = grid._theme.qcolor("focus").name()
    return img.pixelColor(QtCore.QPoint(r.left() + 3, r.center().y()) * dpr).name() == focus


def test_session_on_the_participants_screen(qtbot, tmp_path, restore_app_look):
    """A real session (simulated participant over LSL): no focus frame on a cell while the BCI
    has control, the window's keys and the switch work from the participant's view, the mode
    follows the phase (copy, then free)."""
    path = tmp_path / "fast.toml"
    path.write_text(FAST)
    config = load_config(path)
    connector = Connector(folder=tmp_path / "sessions", lm_name="ngram", decoder_name="xdawncov-ts-lr",
                          config_path=path, participant_args=("--amplitude", 30, "--jitter-ms", 10, "--blink-rate", 0))
    win = _window(qtbot, config, tmp_path, connector, calibration_text="HI", copy_text="HI",
                  settings=GuiSettings(single_switch=True, scan_interval=0.3))
    view = win.participant.view
    win.connect_source(win.connect_request(), then_calibrate=True)
    qtbot.waitUntil(lambda: win.connection is not None, timeout=60_000)
    assert win.scope is not None and QtWidgets.QWidget.window(win.scope) is win  # the scope stays with the operator
    # Calibration: the view comes in front with the grid focused; the first cue is shown
    # before any flash (the filter's warm-up): the keyboard focus is no frame on a cell then.
    qtbot.waitUntil(lambda: win.snapshot is not None and win.snapshot.phase == "calibration"
                    and win.grid.cued_symbol is not None, timeout=60_000)
    qtbot.waitUntil(lambda: view.isActiveWindow() and win.grid.hasFocus(), timeout=10_000)
    assert not win.grid.is_flashing and win.grid.cursor_index == 0
    assert not _focus_on_a_cell(win.grid)
    img = win.grid.grab().toImage()  # (the focus is shown as a thin frame round the grid)
    assert win.grid._theme.focus in {img.pixelColor(QtCore.QPoint(x, win.grid.height() // 2)
                                                    * img.devicePixelRatio()).name() for x in range(4)}
    qtbot.waitUntil(lambda: view.next_symbol == "H" and view.state_label.text().startswith("Calibration"),
                    timeout=5000)
    _shot(view, tmp_path, "session-participant-calibration")
    # Copy spelling, then free spelling: the mode box follows.
    qtbot.waitUntil(lambda: win.snapshot.phase == "copy", timeout=120_000)
    qtbot.waitUntil(lambda: win.mode_box.currentData() == "copy" and view.target_label.isVisible(), timeout=5000)
    _shot(view, tmp_path, "session-participant-copy")
    _shot(win, tmp_path, "session-operator-copy")
    qtbot.waitUntil(lambda: win.snapshot.phase == "free", timeout=90_000)
    qtbot.waitUntil(lambda: win.mode_box.currentData() == "free", timeout=5000)
    assert win.mode_box.currentText() == "Free spelling" and not view.target_label.isVisible()
    assert view.text_label.text().startswith(win.snapshot.text.rstrip())
    # Escape pauses and F5 resumes with the participant's view active (the window's shortcuts).
    assert view.isActiveWindow()
    qtbot.keyClick(win.grid, K.Key_Escape)
    qtbot.waitUntil(lambda: win.snapshot.phase == "paused" and view.state_label.text() == "Paused.", timeout=10_000)
    qtbot.keyClick(win.grid, K.Key_F5)
    qtbot.waitUntil(lambda: win.snapshot.phase == "free", timeout=10_000)
    # The single switch pauses from the participant's view too.
    qtbot.keyClick(win.grid, K.Key_F8)
    qtbot.waitUntil(lambda: win.snapshot.phase == "paused", timeout=10_000)
    assert "switch (F8)" in view.hint_label.text()
    # F12 brings the operator's window to the front, and back.
    qtbot.keyClick(win.grid, K.Key_F12)
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)
    qtbot.keyClick(win, K.Key_F12)
    qtbot.waitUntil(view.isActiveWindow, timeout=5000)
    win.close()
    assert win.session is None and not view.isVisible()


def test_a_mistake_on_a_grid_with_backspace(qtbot, restore_app_look):
    """Copy spelling after a wrong symbol: the next symbol is the grid's backspace cell."""
    from neurospell.gui.grid import SpellerGrid
    from neurospell.types import SpellerLayout

    symbols = ("A", "B", "C", "D", "E", "F", "G", "H", " ", "<", "I", "Z")
    lay = SpellerLayout(symbols, ((0, 1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11), (0, 4, 8), (1, 5, 9), (2, 6, 10),
                                  (3, 7, 11)), 3, 4)
    view = ParticipantView(SpellerGrid(lay, flash_frames=2, gap_frames=2, refresh_rate=60.0))
    qtbot.addWidget(view)
    eng = engine_snapshot("BAD")
    view.show_snapshot(LiveSnapshot("copy", "copy", engine=eng, target_text="BEAD", text=eng.text))
    assert view.next_symbol == "<" and "⌫</b> (delete the mistake)" in view.target_label.text()
    eng = engine_snapshot("BE")
    view.show_snapshot(LiveSnapshot("copy", "copy", engine=eng, target_text="BEAD", text=eng.text))
    assert view.next_symbol == "A" and view.text_label.text() == "BE▏"
    view.show_snapshot(LiveSnapshot("copy", "copy", engine=engine_snapshot("BEA"), target_text="BEAD ", text="BEA"))
    assert view.next_symbol == "D"
    eng = engine_snapshot("BEAD")
    view.show_snapshot(LiveSnapshot("copy", "copy", engine=eng, target_text="BEAD ", text=eng.text))
    assert view.next_symbol == " " and "next: <b" in view.target_label.text() and ">space</b>" in \
        view.target_label.text() and "␣" in view.target_label.text()
