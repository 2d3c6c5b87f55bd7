"""The main job end to end on the shipped sample session (what `make demo` runs)."""

import subprocess
import sys

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.session.demo import SAMPLE_RECORDING, run_demo, split_phrases


def test_sample_session_is_shipped():
    assert SAMPLE_RECORDING.is_file()


def test_split_phrases_covers_every_trial():
    from neurospell.config import Config
    from neurospell.preprocessing import epochs_from_raw, load_recording

    raw = load_recording(SAMPLE_RECORDING)
    _, batch = epochs_from_raw(raw, Config().preprocessing)
    phrases = split_phrases(raw, batch)
    all_trials = np.sort(np.concatenate([p.trials for p in phrases]))
    np.testing.assert_array_equal(all_trials, np.unique(batch.trials))
    # each phrase's trials spell its text, per the trial annotations
    from neurospell.session.spelling import intended_text_from_raw

    intended = intended_text_from_raw(raw)
    for p in phrases:
        assert "".join(intended[int(t)] for t in sorted(p.trials)) == p.text
    raw_no_phrases = raw.copy().set_annotations(
        raw.annotations[[not d.startswith("phrase/") for d in raw.annotations.description]]
    )
    with pytest.raises(NeurospellError, match="no phrase/calibration"):
        split_phrases(raw_no_phrases, batch)


def test_demo_spells_the_test_phrases_and_the_lm_saves_flashes():
    reports, info = run_demo(decoder="lda", lm="ngram")
    assert info["test_auc"] > 0.75  # the sample's SNR gives ~0.84 single-flash AUC
    with_lm = sum(sum(r.with_lm.n_flashes) for r in reports)
    without = sum(sum(r.without_lm.n_flashes) for r in reports)
    n = sum(len(r.with_lm.intended) for r in reports)
    acc = sum(r.with_lm.accuracy * len(r.with_lm.intended) for r in reports) / n
    # with ~10 repetitions available and dynamic stopping at p=0.95, at most one error in 8
    assert acc >= 7 / 8
    assert with_lm < without


def test_demo_command_line_uses_the_configured_decoder(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[decoder]\nname = "lda"\n')
    res = subprocess.run(
        [sys.executable, "-m", "neurospell", "--config", str(cfg), "demo", "--lm", "ngram"],
        capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert "spelling test phrase" in res.stdout and "ITR" in res.stdout
    assert "decoder: lda calibrated" in res.stdout  # [decoder] name, not a built-in default
    assert "weight alpha" in res.stdout


def test_demo_rejects_a_recording_without_phrases(tmp_path, shared_data):
    res = subprocess.run(
        [sys.executable, "-m", "neurospell", "demo", "--decoder", "lda",
         "--recording", str(shared_data / "gtec_p300" / "S1.mat")],
        capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 2
    assert "phrase" in res.stderr and "Traceback" not in res.stderr
