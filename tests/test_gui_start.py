"""The window's start choice: calibrate first, or spell at once with a model (the GUI's
``neurospell spell --model MODEL --no-calibration``).

A real offscreen window; the simulated participant runs in its own process and answers the
flash markers over LSL on loopback with real epochs of g.tec participant S1; the session is a
real :class:`~neurospell.session.live.LiveSession`. The choice is made with the keyboard only.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys

from PySide6 import QtCore, QtWidgets

from neurospell.commands.gui import Connector
from neurospell.decoder.generic import generic_model_path
from neurospell.gui.app import SpellerWindow
from neurospell.gui.settings import GuiSettings
from neurospell.session.profile import Profile
from neurospell.session.rig import ConnectRequest
from neurospell.session.sessionfolder import SessionFolder
from neurospell.session.startplan import CALIBRATE, START_NOW, StartPlan

K = QtCore.Qt.Key


def _window(qtbot, config, tmp_path, connector, plan, **kw) -> SpellerWindow:
    win = SpellerWindow(config, connector, settings=GuiSettings(), settings_path=tmp_path / "gui.toml",
                        config_path=tmp_path / "config.toml", refresh_rate=60.0, start_plan=plan, **kw)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)
    return win


def _connect(qtbot, win, phrase: str) -> None:
    win.connect_source(ConnectRequest("simulated", phrase=phrase))
    qtbot.waitUntil(lambda: win.connection is not None, timeout=60_000)
    qtbot.waitUntil(lambda: win.start_choice.isVisible(), timeout=5000)
    assert "choose how to start: 1 or 2" in win.status.text(), win.status.text()


def _start_record(folder) -> dict:
    return json.loads((folder / "derivatives" / "neurospell" / "session.json").read_text())["start"]


def test_start_now_with_the_generic_model_spells_without_calibration_and_replays(qtbot, fast_config, tmp_path,
                                                                                 gtec_files, restore_app_look):
    cfg_path, config = fast_config
    connector = Connector(folder=tmp_path / "sessions", lm_name="ngram", config_path=cfg_path,
                          participant_args=("--data", str(gtec_files[0])))
    profile = tmp_path / "profile"
    # `neurospell gui --model generic --no-calibration --profile DIR`
    plan = StartPlan(str(generic_model_path()), profile, no_calibration=True)
    win = _window(qtbot, config, tmp_path, connector, plan, calibration_text="HELO", copy_text="SEE")
    assert not win.start_choice.isVisible()  # nothing to start before a source
    _connect(qtbot, win, "SEE")
    choice = win.start_choice
    assert choice.offered == [CALIBRATE, START_NOW]
    now = choice.buttons[1]
    assert "Start spelling now with generic" in now.text() and "no calibration" in now.accessibleName()
    # --no-calibration: "start now" has the focus; Enter chooses it
    assert QtWidgets.QApplication.focusWidget() is now and choice.current == START_NOW
    phases = []
    win.controller.phaseChanged.connect(lambda p: phases.append(None if p is None else p.value))
    ended = []
    win.controller.sessionEnded.connect(lambda result, err: ended.append((result, err)))
    qtbot.keyClick(now, K.Key_Return)
    qtbot.waitUntil(lambda: win.snapshot is not None and win.snapshot.phase == "copy", timeout=30_000)
    assert not choice.isVisible() and win.controller.started_with_model and win.spell_button.isEnabled()
    qtbot.waitUntil(lambda: win.snapshot.n_decisions >= 2, timeout=60_000)
    win.stop()
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    assert ended[0][1] is None, ended
    assert "calibration" not in phases and "training" not in phases, phases
    folder = win.connection.folder
    sess = SessionFolder.open(folder)
    assert "calibration" not in [r["task"] for r in sess.runs()], sess.runs()
    decisions = [r for r in sess.read_log() if r["type"] == "decision"]
    assert len(decisions) >= 2
    # the choice is recorded: what the session started from, with the profile
    assert _start_record(folder) == {"no_calibration": True, "adapt": True, "model": str(generic_model_path()),
                                     "profile": str(profile)}
    # its final model went to the profile, naming this session and the model it started from
    prof = Profile.open(profile)
    assert len(prof.models) == 1
    entry = prof.latest
    assert str(folder) in json.dumps(entry) and "generic" in json.dumps(entry), entry
    win.close()
    # `neurospell replay` reproduces every decision
    run = subprocess.run([sys.executable, "-m", "neurospell", "replay", str(folder)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    m = re.search(r"(\d+)/(\d+) decisions reproduced", run.stdout)
    assert m and m.group(1) == m.group(2) == str(len(decisions)), run.stdout


def test_calibrate_first_keeps_the_calibration_workflow(qtbot, fast_config, tmp_path, restore_app_look):
    cfg_path, config = fast_config
    connector = Connector(folder=tmp_path / "sessions", lm_name="uniform", decoder_name="xdawncov-ts-lr",
                          config_path=cfg_path, participant_args=("--amplitude", 30))
    plan = StartPlan()  # `neurospell gui`: the generic model is offered, calibrating is the default
    assert plan.offer is not None and plan.offer.origin == "generic"
    win = _window(qtbot, config, tmp_path, connector, plan, calibration_text="HELO", copy_text="HI")
    _connect(qtbot, win, "HI")
    choice = win.start_choice
    calibrate, now = choice.buttons
    assert QtWidgets.QApplication.focusWidget() is calibrate and choice.current == CALIBRATE
    # the arrow keys move between the options; 1 chooses "calibrate first"
    qtbot.keyClick(calibrate, K.Key_Down)
    assert QtWidgets.QApplication.focusWidget() is now and choice.current == START_NOW
    qtbot.keyClick(now, K.Key_Up)
    assert QtWidgets.QApplication.focusWidget() is calibrate
    qtbot.keyClick(calibrate, K.Key_1)
    qtbot.waitUntil(lambda: win.snapshot is not None and win.snapshot.phase == "calibration"
                    and win.grid.cued_symbol is not None, timeout=30_000)
    assert win.session.decoder is None and win.session.calibration_text == "HELO"
    assert not win.controller.started_with_model and not win.spell_button.isEnabled()
    assert _start_record(win.connection.folder) == {"no_calibration": False, "adapt": False, "model": None,
                                                    "profile": None}
    win.stop()
    qtbot.waitUntil(lambda: win.snapshot.phase == "stopped", timeout=30_000)
    win.close()


def test_a_bad_model_is_a_clear_error_naming_it(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    missing = tmp_path / "nope.pkl"
    run = subprocess.run([sys.executable, "-m", "neurospell", "gui", "--model", str(missing), "--no-calibration"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 2 and "--model" in run.stderr and str(missing) in run.stderr, run.stderr
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps({"not": "a decoder"}))
    run = subprocess.run([sys.executable, "-m", "neurospell", "gui", "--model", str(bad), "--no-calibration"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode != 0 and "--model" in run.stderr and str(bad) in run.stderr, run.stderr
    assert "Traceback" not in run.stderr, run.stderr


def test_the_single_switch_scans_the_options_and_chooses(qtbot, restore_app_look):
    """One switch: the first press scans the options (each highlighted in turn), the next chooses."""
    from neurospell.gui.start_choice import StartChoice

    choice = StartChoice(scan_interval=0.3)
    qtbot.addWidget(choice)
    choice.set_offer("generic", CALIBRATE)
    choice.show()
    qtbot.waitExposed(choice)
    chosen = []
    choice.chosen.connect(chosen.append)
    assert choice.current == CALIBRATE and not choice.scanning
    choice.switch_press()
    assert choice.scanning
    qtbot.waitUntil(lambda: choice.current == START_NOW, timeout=5000)
    choice.switch_press()
    assert chosen == [START_NOW] and not choice.scanning
    # without a model only "calibrate" is offered: 2 does nothing, 1 chooses it
    choice.set_offer(None)
    assert choice.offered == [CALIBRATE] and not choice.buttons[1].isVisible()
    qtbot.keyClick(choice.buttons[0], K.Key_2)
    qtbot.keyClick(choice.buttons[0], K.Key_1)
    assert chosen == [START_NOW, CALIBRATE]
