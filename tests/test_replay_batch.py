"""Batch replay (the live preprocessing path, as fast as possible) and the CLI commands."""

import numpy as np
import pytest
from helpers.pre_signals import SAMPLE_FIF, SAMPLE_XDF

from neurospell.cli import main
from neurospell.config import PreprocessConfig
from neurospell.preprocessing import epochs_from_raw, load_recording
from neurospell.session.replay import replay_batch


def test_replay_batch_equals_offline_causal_epochs():
    cfg = PreprocessConfig(resample_sfreq=125.0, baseline=(0.0, 0.05))
    raw = load_recording(SAMPLE_FIF)
    _, off = epochs_from_raw(raw, cfg)
    seen = []
    res = replay_batch(raw, cfg, progress=False, on_batch=seen.append)
    b = res.batch
    assert len(b) == len(off) == 3240 and sum(len(s) for s in seen) == len(b)
    np.testing.assert_array_equal(b.codes, off.codes)
    np.testing.assert_array_equal(b.targets, off.targets)
    np.testing.assert_array_equal(b.trials, off.trials)
    # same causal filter in chunks vs at once, stored as float32 (see test_preprocessing_online)
    np.testing.assert_allclose(b.data, off.data, rtol=0, atol=2e-6 * np.abs(off.data).max())
    s = res.summary
    assert s["n_flashes"] == 3240 and s["n_targets"] == 540 and s["n_trials"] == 27 and s["dropped"] == {}
    assert s["speed"] > 20  # "as fast as possible": far faster than real time even on a busy CI core


def test_cli_replay_batch_and_save_epochs(tmp_path, capsys):
    out = tmp_path / "ep.npz"
    assert main(["replay", str(SAMPLE_XDF), "--no-progress", "--save-epochs", str(out)]) == 0
    text = capsys.readouterr().out
    assert "epochs: 3240 (540 targets)" in text and "trials:    27" in text
    z = np.load(out)
    assert z["data"].shape == (3240, 8, 201) and z["targets"].sum() == 540


def test_cli_inspect_writes_erp_plot(tmp_path, capsys, gtec_files):
    import matplotlib.image as mpimg

    png = tmp_path / "erp.png"
    assert main(["inspect", str(gtec_files[0]), "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "8 (8 eeg)" in text and "flashes:    1200 (targets 150, non-targets 1050" in text
    assert "trials:     5" in text
    img = mpimg.imread(png)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100


def test_cli_inspect_without_flashes(tmp_path, capsys, shared_data):
    png = tmp_path / "e.png"
    assert main(["inspect", str(shared_data / "eeglab_sample" / "eeglab_data.set"), "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "'square': 80" in text and "'rt': 74" in text and png.stat().st_size > 1000


@pytest.mark.parametrize("argv, match", [
    (["replay", "nope.fif"], "does not exist"),
    (["replay", str(SAMPLE_FIF), "--speed", "2"], "--speed applies to --as-lsl"),
    (["inspect", str(SAMPLE_FIF), "--fmt", "xdf"], "Could not read .* as xdf"),
])
def test_cli_errors_are_one_line(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    import re

    assert re.search(match, err), err
