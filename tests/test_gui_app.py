"""The speller window: the whole workflow against the simulated participant, keyboard only.

A real :class:`~neurospell.session.live.LiveSession` drives the window's grid; the
parametric participant runs in its own process (``neurospell simulate-participant``) and
answers the flash markers over LSL on loopback. Screenshots go to ``tmp_path`` and are also
copied to ``/tmp/gui_shots/`` for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.engine_snapshot import engine_snapshot
from helpers.system_deps import require_xvfb
from PySide6 import QtCore, QtGui, QtWidgets

from neurospell.check import NeurospellError
from neurospell.commands.gui import Connector
from neurospell.config import load_config
from neurospell.gui.app import SpellerWindow, display_available
from neurospell.gui.panels import choice_for_candidate, spoken_symbol
from neurospell.gui.probe import LatenessProbe
from neurospell.gui.settings import GuiSettings, load_settings
from neurospell.gui.theme import HIGH_CONTRAST
from neurospell.session.engine import Completion
from neurospell.session.live import LiveSnapshot
from neurospell.types import Candidate, CandidateList

SHOTS = Path("/tmp/gui_shots")
K = QtCore.Qt.Key

def _window(qtbot, config, tmp_path, connector=None, **kw) -> SpellerWindow:
    settings = kw.pop("settings", GuiSettings(single_switch=True, scan_interval=0.3))
    win = SpellerWindow(config, connector, settings=settings, settings_path=tmp_path / "gui.toml",
                        config_path=tmp_path / "config.toml", refresh_rate=60.0, **kw)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)  # window shortcuts need an active window
    return win


def _shot(win, tmp_path, name) -> Path:
    path = win.save_screenshot(tmp_path / "shots" / f"{name}.png")
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(path, SHOTS / path.name)
    return path


def _tab_to(qtbot, win, widget, limit=80) -> None:
    """Press Tab until ``widget`` has the keyboard focus (fails if Tab never reaches it)."""
    for _ in range(limit):
        if QtWidgets.QApplication.focusWidget() is widget:
            return
        qtbot.keyClick(QtWidgets.QApplication.focusWidget() or win, K.Key_Tab)
    raise AssertionError(f"Tab never reached {widget.accessibleName()!r}")


def _unnamed(win) -> list[str]:
    return [f"{type(w).__name__} {w.objectName()!r}" for w in win.focusable_widgets() if not w.accessibleName().strip()]


def _probe(win) -> tuple[LatenessProbe, list[tuple]]:
    """A lateness probe on the window's phases, and the (phase, text, number of completions)
    of the session's snapshots in copy and free spelling, read on each tick."""
    completions: list[tuple] = []

    def phase():
        return win.snapshot.phase if win.snapshot is not None else "none"

    def observe():
        if win.session is not None:
            snap = win.session.snapshot()
            if snap.engine is not None and snap.phase in ("copy", "free"):
                completions.append((snap.phase, snap.engine.text, len(snap.engine.completions)))

    return LatenessProbe(phase, observe), completions


def _cpu_share(start) -> tuple[float, float]:
    """(GUI thread, whole process) CPU time over wall time since ``start = _cpu_clock()``."""
    thread0, wall0, process0 = start
    wall = time.perf_counter() - wall0
    return (time.thread_time() - thread0) / wall, (time.process_time() - process0) / wall


def _cpu_clock() -> tuple[float, float, float]:
    return time.thread_time(), time.perf_counter(), time.process_time()


def test_keyboard_only_workflow_with_the_simulated_participant(qtbot, fast_config, tmp_path, restore_app_look):
    cfg_path, config = fast_config
    # A clear P300 (30 µV, little latency jitter) and no blinks: this test is about the window and
    # the loop, not the decoder's margin (at 15 µV "HI" failed about one run in ten on a loaded
    # machine, at 20 µV about one in twenty; at 30 µV with blinks, two runs in eight chose O for
    # I at p >= 0.99 -- likely a blink in a flash's epoch, with the sharp score model a clear
    # P300 gives; 3/3 passed without blinks).
    connector = Connector(folder=tmp_path / "sessions", lm_name="ngram", decoder_name="xdawncov-ts-lr",
                          config_path=cfg_path, participant_args=("--amplitude", 30, "--jitter-ms", 10, "--blink-rate", 0))
    win = _window(qtbot, config, tmp_path, connector, calibration_text="HELO W", copy_text="HI")
    assert not _unnamed(win)
    _shot(win, tmp_path, "01-start")
    # 1. connect: Tab to the source (simulated participant is the default) and the Connect button
    win.grid.setFocus()
    qtbot.waitUntil(win.grid.hasFocus, timeout=5000)
    _tab_to(qtbot, win, win.source_box)
    assert win.source_box.currentData() == "simulated"
    _tab_to(qtbot, win, win.connect_button)
    qtbot.keyClick(win.connect_button, K.Key_Space)
    qtbot.waitUntil(lambda: win.connection is not None, timeout=60_000)
    qtbot.waitUntil(lambda: win.scope.n_redraws > 3, timeout=10_000)
    assert len(win.scope.ch_names) == len(win.connection.ch_names) and win.folder_button.isEnabled()
    assert not _unnamed(win)  # the scope's controls too
    _shot(win, tmp_path, "02-connected")
    # 2. calibrate: type the text with the keyboard, then the Calibrate button
    _tab_to(qtbot, win, win.calibration_edit)
    qtbot.keyClick(win.calibration_edit, K.Key_A, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(win.calibration_edit, "HELO W")
    _tab_to(qtbot, win, win.calibrate_button)
    probe, completions = _probe(win)
    probe.start()
    qtbot.keyClick(win.calibrate_button, K.Key_Space)
    qtbot.waitUntil(lambda: win.snapshot is not None and win.snapshot.phase == "calibration"
                    and win.grid.cued_symbol is not None, timeout=30_000)
    qtbot.waitUntil(lambda: win.grid.n_flashes > 5, timeout=10_000)
    probe.pause()  # (the screenshot is the test's own work on the GUI thread)
    _shot(win, tmp_path, "03-calibration")
    probe.resume()
    # 3. train: the report arrives in the Training tab
    qtbot.waitUntil(lambda: win.snapshot.training_report is not None, timeout=90_000)
    qtbot.wait(300)
    rep = win.snapshot.training_report
    assert "held-out AUC" in win.report.summary.text() and rep["heldout_auc"] > 0.6, win.report.summary.text()
    assert win.tabs.currentWidget() is win.report and win.progress.value() == 100
    probe.pause()  # (the screenshot is the test's own work on the GUI thread)
    _shot(win, tmp_path, "04-trained")
    probe.resume()
    # 4. copy spelling "HI" (decisions by the BCI)
    cpu0 = _cpu_clock()
    qtbot.waitUntil(lambda: win.snapshot.n_decisions >= 2, timeout=60_000)
    gui_share, process_share = _cpu_share(cpu0)
    print(f"\nGUI thread CPU {100 * gui_share:.1f} % of one core, whole process {100 * process_share:.1f} % "
          f"while spelling; grid: {win.grid.n_flashes} flashes, {win.grid.dropped_frames} dropped frames")
    lateness = probe.summary()
    print("10 ms probe lateness per phase, ms:", lateness)
    _shot(win, tmp_path, "05-spelling")
    qtbot.waitUntil(lambda: win.snapshot.phase == "free", timeout=30_000)  # the copy phrase is done
    copy = [d for d in win.snapshot.decisions if d.phase == "copy"]
    assert copy[-1].text == "HI", [(d.symbol, d.intended, round(d.posterior, 2), d.n_flashes) for d in copy]
    assert win.announcements.count("Phase: copy") == 1
    for d in copy:  # every typed character was announced
        assert spoken_symbol(d.symbol) in win.announcements
    # The GUI thread keeps its timers while the session trains and decodes. What this test
    # asserts is gross: work on the GUI thread (a garbage collection, an import, a format
    # conversion, a fit: 50 to 300 ms, or a few ms on every tick) -- the median tick on time,
    # 99 % of ticks within a frame and a half and none later than six frames, not counting
    # the time the OS kept the thread waiting for a CPU (read from its schedstat). The finer
    # figures are performance, measured in benchmarks/bench_gui_latency.py (on this 2-core
    # machine, unloaded: p99 9-15 ms, with one to three ticks per phase at 20-40 ms -- a turn
    # of the event loop painting the scope and the grid, or the GIL; the CI run of stop 25
    # failed an earlier, one-tick bound of 25 ms on one such tick).
    # What makes this hold: training runs whole in a lower-priority training process started
    # before the session flashes (fit, LM weight, model file, ERP averages), which also
    # converts each phase's recording to BIDS; the libraries the phases need are imported
    # before flashing, with no garbage collection meanwhile, and what is then alive is frozen
    # for the collector; the GIL switch interval is 0.1 ms while the window is open; the
    # training report is shown in steps (data, then the tab); the scope's traces are bare
    # PlotCurveItems; the Training tab is first laid out when the window opens. Before this:
    # training max 16-264 ms, copy max 50-80 ms.
    frame = 1000 / 60
    for phase in ("calibration", "training", "copy"):
        f = lateness[phase]
        assert f.p50 <= 1 and f.blocked_p99 <= 1.5 * frame and f.blocked_max <= 6 * frame, (phase, lateness)
    # Word completions: every snapshot of the session in copy spelling carries those of its text
    # (they are published with the decision that changed the text and kept until it changes).
    copy_snaps = [(text, n) for phase, text, n in completions if phase == "copy"]
    assert copy_snaps and all(n > 0 for _, n in copy_snaps), copy_snaps[:20]
    # Single switch: F8 pauses the BCI; then scans rows, the row's cells, types the cell, and
    # hands control back to the BCI on its "resume" step. (The session applies a symbol chosen
    # directly once it runs again.)
    qtbot.waitUntil(lambda: win.snapshot.phase == "free", timeout=10_000)  # the copy phrase is done
    win.grid.setFocus()
    qtbot.keyClick(win.grid, K.Key_F8)
    qtbot.waitUntil(lambda: win.snapshot.phase == "paused", timeout=10_000)
    text0 = win.snapshot.text
    qtbot.keyClick(win.grid, K.Key_F8)  # start scanning
    qtbot.waitUntil(lambda: win.scanner.step == ("row", 1), timeout=5000)  # G..L
    assert win.grid.highlighted_cells == frozenset(range(6, 12))
    _shot(win, tmp_path, "06-scanning")
    qtbot.keyClick(win.grid, K.Key_F8)
    qtbot.waitUntil(lambda: win.scanner.step == ("cell", 7), timeout=5000)  # H
    qtbot.keyClick(win.grid, K.Key_F8)
    qtbot.waitUntil(lambda: win.scanner.step == ("resume", -1), timeout=10_000)
    qtbot.keyClick(win.grid, K.Key_F8)
    qtbot.waitUntil(lambda: win.snapshot.phase == "free" and win.snapshot.text.startswith(text0 + "H"),
                    timeout=10_000)
    assert not win.scanner.active and not win.grid.highlighted_cells
    # Ctrl+Z undoes it; a completion chosen from the list with Enter replaces the word.
    qtbot.keyClick(win.grid, K.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: win.snapshot.text == text0, timeout=10_000)
    qtbot.keyClick(win.grid, K.Key_L, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert QtWidgets.QApplication.focusWidget() is win.text_panel.choices
    qtbot.waitUntil(lambda: win.text_panel.choices.count() > 0, timeout=10_000)
    comp = win.text_panel.completion(win.text_panel.choices.currentRow())
    qtbot.keyClick(win.text_panel.choices, K.Key_Return)
    cut = text0.rfind(" ") + 1
    qtbot.waitUntil(lambda: win.snapshot.text.startswith(text0[:cut] + comp.word + " "), timeout=10_000)
    # The stream is lost (the participant's process ends): the scope and the status say so.
    win.connection.participant.kill()
    qtbot.waitUntil(lambda: not win.snapshot.source_ok, timeout=20_000)
    qtbot.waitUntil(lambda: win.scope.stream_lost and win.status.text().startswith("Stream lost"), timeout=5000)
    _shot(win, tmp_path, "07-stream-lost")
    # Stop from the keyboard.
    qtbot.keyClick(win.grid, K.Key_S, QtCore.Qt.KeyboardModifier.ControlModifier | QtCore.Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: win.snapshot.phase == "stopped", timeout=10_000)
    folder = win.connection.folder
    assert (folder / "derivatives").is_dir()
    win.close()
    assert win.connection is None and win.session is None





def test_window_shows_snapshots(qtbot, tmp_path, restore_app_look, monkeypatch):
    config = load_config()
    # the bundled voice plays into ALSA's file device (no sound card here)
    monkeypatch.setenv("NEUROSPELL_ALSA_DEVICE", f"file:'{tmp_path / 'spoken.wav'}',wav")
    win = _window(qtbot, config, tmp_path, settings=GuiSettings(speak_words=True))
    assert not _unnamed(win)
    # Keyboard only: Tab reaches every focusable control from the grid.
    win.grid.setFocus()
    qtbot.waitUntil(win.grid.hasFocus, timeout=5000)
    reached = set()
    for _ in range(len(win.focusable_widgets()) + 5):
        reached.add(QtWidgets.QApplication.focusWidget())
        qtbot.keyClick(QtWidgets.QApplication.focusWidget() or win, K.Key_Tab)
    assert set(win.focusable_widgets()) <= reached
    # Visible focus: a thick outline in the theme's focus colour on every kind of control.
    assert ":focus" in QtWidgets.QApplication.instance().styleSheet() and HIGH_CONTRAST.focus in \
        QtWidgets.QApplication.instance().styleSheet()
    # Speech with no system package: the bundled voice (eSpeak NG from its wheel).
    assert win.speech is not None and win.speech.engine == "espeak-ng" and "No speech engine" not in win.status.text()
    # Snapshots: typed text, completions and candidates, cue, training report.
    eng = engine_snapshot("HELLO WO")
    snap = LiveSnapshot("copy", "copy: selecting", engine=eng, target_text="HELLO WORLD", text=eng.text)
    win.show_snapshot(snap)
    assert win.text_panel.text == "HELLO WO" and "HELLO WORLD" in win.text_panel.target_label.text()
    words = [win.text_panel.completion(i).word for i in range(win.text_panel.choices.count())]
    assert words and all(w.startswith("WO") for w in words[:len(eng.completions)])
    assert [a for a in win.announcements if len(a) <= 5][:8] == ["H", "E", "L", "L", "O", "space", "W", "O"]
    times = np.linspace(0, 0.8, 201)
    erp = np.exp(-((times - 0.3) / 0.05) ** 2) * 5e-6
    report = {"heldout_auc": 0.91, "n_epochs": 288, "erp_target": np.vstack([erp, erp / 2]),
              "erp_nontarget": np.zeros((2, times.size)), "times": times, "ch_names": ["Cz", "Pz"],
              "accuracy_vs_repetitions": [0.5, 0.75, 1.0], "lm_alpha": 0.5}
    win.show_snapshot(LiveSnapshot("copy", "trained", engine=eng, training_report=report, text=eng.text))
    # shown in steps, each in its own turn of the event loop (data, then the tab)
    qtbot.waitUntil(lambda: win.tabs.currentWidget() is win.report and win.report.report is report, timeout=5000)
    summary = win.report.summary.text()
    assert "held-out AUC 0.910" in summary and "ERP (Pz)" in summary and "1: 50%" in summary, summary
    _shot(win, tmp_path, "snapshot-report")
    # A word finished: spoken (when an engine exists) and announced.
    win.show_snapshot(LiveSnapshot("copy", "ok", engine=engine_snapshot("HELLO WORLD "), text="HELLO WORLD "))
    assert win.announcements[-4:] == ["R", "L", "D", "space"]
    assert win.speech.spoken == ["WORLD"] and win.speech.wait_until_spoken(20.0)
    samples, rate = win.speech.last_audio  # synthesised on the speech thread, not the GUI's
    assert win.speech.synth_thread == "neurospell-speech" and 0.2 < samples.size / rate < 1.5
    assert np.sqrt(np.mean(samples.astype(float) ** 2)) > 500
    QtWidgets.QApplication.processEvents()  # a "no sound output" status (no libasound) is shown before the next
    win.show_snapshot(LiveSnapshot("paused", "paused", source_ok=False, source_problem="no samples for 1.2 s",
                                   text="HELLO WORLD "))
    assert win.status.text().startswith("Stream lost: no samples for 1.2 s")
    win.close()


def test_candidate_choice_replaces_only_the_current_word():
    assert choice_for_candidate("HELLO WORLF", "HELLO WORLD") == Completion("WORLD")
    assert choice_for_candidate("HELLO WORLF", "HALLO WORLD") is None  # an earlier word differs
    assert choice_for_candidate("HELLO ", "HELLO ") is None
    cands = CandidateList((Candidate("HELLO WORLD", -1.0), Candidate("HELLO WORLF", -2.0)))
    assert [choice_for_candidate("HELLO WORLF", c.text) for c in cands] == [Completion("WORLD"), None]


def test_settings_round_trip_and_bad_values(qtbot, tmp_path, restore_app_look):
    win = _window(qtbot, load_config(), tmp_path)
    win.soa_spin.setValue(200.0)
    win.flash_spin.setValue(100.0)
    win.font_spin.setValue(1.5)
    qtbot.keyClick(win.grid, K.Key_S, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert "Settings saved" in win.status.text()
    back = load_config(tmp_path / "config.toml")
    assert back.speller.soa == 0.2 and back.speller.flash_duration == 0.1 and back == win.config
    assert load_settings(tmp_path / "gui.toml") == win.settings and win.settings.font_scale == 1.5
    assert (win.grid.flash_frames, win.grid.gap_frames) == (6, 6)
    win.soa_spin.setValue(205.0)  # 12.3 frames at 60 Hz: refused, nothing written
    win.save_all_settings()
    assert "Settings not saved" in win.status.text() and "[speller] soa" in win.status.text()
    assert load_config(tmp_path / "config.toml").speller.soa == 0.2
    (tmp_path / "bad.toml").write_text("[gui]\nscan_interval = 50\n")
    with pytest.raises(NeurospellError, match="scan_interval"):
        load_settings(tmp_path / "bad.toml")
    (tmp_path / "bad.toml").write_text("[gui]\nswitch_key = 'NoSuchKey'\n")
    with pytest.raises(NeurospellError, match="switch_key"):
        load_settings(tmp_path / "bad.toml")
    win.close()


def test_display_check_and_real_windows_under_xvfb(tmp_path, fast_config, monkeypatch):
    """Under Xvfb: a real window; the demo's stages as screenshots (``--stage-screenshots``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    assert display_available() == (False, "QT_QPA_PLATFORM=offscreen draws no window")
    xvfb = require_xvfb()
    cmd = [xvfb, "-a", sys.executable, "-m", "neurospell"]
    out = subprocess.run(cmd + ["gui", "--check-display"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "a window can be shown" in out.stdout, out.stdout + out.stderr
    for var in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(var, raising=False)
    if sys.platform.startswith("linux"):
        assert display_available() == (False, "no $DISPLAY or $WAYLAND_DISPLAY")
    cfg_path, _ = fast_config
    stages = tmp_path / "stages"
    final = tmp_path / "final.png"
    out = subprocess.run(cmd + ["--config", str(cfg_path), "gui", "--demo", "--phrase", "HI", "--calibration-text",
                                "HELO W", "--lm", "uniform", "--folder", str(tmp_path / "sessions"),
                                "--quit-after-selections", "1", "--quit-after", "90", "--screenshot", str(final), "--stage-screenshots", str(stages),
                                "--settings", str(tmp_path / "gui.toml")],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    names = sorted(p.name for p in stages.glob("*.png"))
    for stage in ("start", "connected", "calibration", "trained", "copy"):
        assert any(stage in n for n in names), (stage, names, out.stdout)
    SHOTS.mkdir(exist_ok=True)
    for p in [*stages.glob("*.png"), final]:
        img = QtGui.QImage(str(p))
        assert img.width() >= 800 and img.height() >= 500, p
        shutil.copy(p, SHOTS / f"xvfb-{p.name}")
    assert "screenshot written" in out.stdout and "typed" in out.stdout, out.stdout


def test_timing_check_mode_reports_the_photodiode_delay(qtbot, fast_config, tmp_path, restore_app_look):
    """Timing-check mode: the photodiode square is shown; when the calibration ends the Timing
    tab reports the offset of the simulated participant's photodiode (lit 20 ms after each
    marker) within one sample, and no jitter beyond one sample."""
    import re

    cfg_path, config = fast_config
    connector = Connector(folder=tmp_path / "sessions", lm_name="uniform", decoder_name="lda", config_path=cfg_path,
                          participant_args=("--photodiode-delay-ms", 20))
    settings = GuiSettings(timing_check=True, photodiode_channel="PD")
    win = _window(qtbot, config, tmp_path, connector, settings=settings, calibration_text="AB", copy_text="HI")
    assert win.grid.photodiode and win.grid.photodiode_rect() is not None
    assert not _unnamed(win)
    reports = []
    win.timingReport.connect(reports.append)
    win.connect_source(win.connect_request())
    qtbot.waitUntil(lambda: win.connection is not None, timeout=60_000)
    assert win.connection.ch_names[-1] == "PD"
    win.calibrate()
    qtbot.waitUntil(lambda: bool(reports), timeout=120_000)
    text = reports[0]
    assert win.tabs.currentWidget() is win.timing_label and win.timing_label.text() == text
    print(f"\nGUI timing-check mode (participant photodiode 20 ms after each marker): {text!r}")
    n_flashes = 2 * config.speller.calibration_repetitions * config.speller.layout().n_groups
    counts = re.search(r"(\d+) onsets, (\d+) flash markers; (\d+) matched, (\d+) markers without an onset, "
                       r"(\d+) onsets without a marker", text)
    assert "task-calibration run-1" in text and counts, text
    n_on, n_mark, n_match, n_um, n_uo = map(int, counts.groups())
    # (a frame shown late can bring two flashes closer than their light lasts: one rise for two
    # markers, the second marker unmatched -- as with a real screen)
    assert n_mark == n_flashes and n_match >= n_flashes - 2 and n_uo == 0, text
    median = float(re.search(r"median ([+-][\d.]+) ms", text).group(1))
    sample = float(re.search(r"one sample = ([\d.]+) ms", text).group(1))
    iqr = float(re.search(r"IQR ([\d.]+) ms", text).group(1))
    assert 20.0 - 0.01 <= median < 20.0 + sample + 0.01 and iqr <= sample + 0.01, text
    _shot(win, tmp_path, "08-timing-check")
    win.close()
