"""When a calibration or a model's posteriors cannot be trusted (neurospell.session.quality),
and where the warning shows: the training report in the window, its status line."""

import numpy as np

from neurospell.session.evaluation import auc
from neurospell.session.quality import (
    MAX_ECE,
    WEAK_AUC,
    auc_interval,
    calibration_error_warning,
    calibration_warning,
)

# the default live calibration: 13 characters x 5 repetitions x 12 flashes, 2 of them targets
N_T, N_NT = 130, 650


def test_auc_interval_covers_chance_for_scores_with_no_information():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(N_T, bool), np.zeros(N_NT, bool)]
    covered = 0
    for _ in range(400):
        lo, hi = auc_interval(auc(y, rng.standard_normal(y.size)), N_T, N_NT)
        covered += lo <= 0.5 <= hi
    assert 0.92 <= covered / 400 <= 0.98, covered  # a 95 % interval


def test_calibration_warning_says_what_it_means_and_what_to_try():
    chance = calibration_warning(0.53, N_T, N_NT)
    assert chance is not None and "no response to the flashes" in chance
    assert "marker stream" in chance and "--calibration-repetitions" in chance and "0.53" in chance
    weak = calibration_warning(0.62, N_T, N_NT)  # above chance (interval > 0.5) but weak
    assert weak is not None and "barely distinguishable" in weak
    # few epochs: the same AUC is not told apart from chance
    assert "no response" in calibration_warning(0.62, 10, 50)
    assert calibration_warning(WEAK_AUC, N_T, N_NT) is None
    assert calibration_warning(0.87, N_T, N_NT) is None
    assert calibration_warning(float("nan"), N_T, N_NT) is None


def test_calibration_error_warning_above_the_limit_only():
    assert calibration_error_warning(MAX_ECE) is None and calibration_error_warning(0.03) is None
    msg = calibration_error_warning(0.57)
    assert msg is not None and "cannot be trusted" in msg and "another participant" in msg and "0.570" in msg


def test_window_shows_a_near_chance_calibration(qtbot, tmp_path, restore_app_look):
    from helpers.engine_snapshot import engine_snapshot
    from test_gui_app import _window

    from neurospell.config import load_config
    from neurospell.session.live import LiveSnapshot

    win = _window(qtbot, load_config(), tmp_path)
    eng = engine_snapshot("HE")
    warning = calibration_warning(0.55, N_T, N_NT)
    report = {"heldout_auc": 0.55, "n_epochs": 780, "auc_warning": warning}
    win.show_snapshot(LiveSnapshot("copy", "copy: selecting", engine=eng, training_report=report, text=eng.text))
    assert "Calibration near chance" in win.status.text() and "Training tab" in win.status.text()
    qtbot.waitUntil(lambda: win.report.report is report, timeout=5000)
    summary = win.report.summary.text()
    assert summary.startswith("Warning: calibration AUC 0.550") and "held-out AUC 0.550" in summary, summary
    good = {"heldout_auc": 0.9, "n_epochs": 780, "auc_warning": None}
    win.show_snapshot(LiveSnapshot("copy", "copy: selecting", engine=eng, training_report=good, text=eng.text))
    assert "near chance" not in win.status.text()
    qtbot.waitUntil(lambda: win.report.report is good, timeout=5000)
    assert "Warning" not in win.report.summary.text()
    win.close()


def test_spell_summary_says_a_near_chance_calibration(capsys):
    from neurospell.commands.spell import _print_summary
    from neurospell.session.live import LiveResult

    def summary(auc):
        report = {"n_epochs": 780, "decoder": "xdawncov-ts-lr", "heldout_auc": auc, "lm_alpha": 1.0,
                  "auc_warning": calibration_warning(auc, N_T, N_NT)}
        _print_summary(LiveResult("", "SEE YOU", (), "stopped", 1.0, 0, 0, 0, training_report=report), 36, None)
        return capsys.readouterr().out

    out = summary(0.55)
    assert "held-out AUC 0.550" in out and "WARNING         calibration AUC 0.550" in out and "near chance" in out
    assert "WARNING" not in summary(0.9)
