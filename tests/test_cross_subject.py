"""Pooling recordings of several participants (issue 20, item 2): session/pooling.py, and the
generic model's script and loading path (benchmarks/train_generic.py, decoder/generic.py).

Real files: the g.tec recordings, and FIF copies of them written by MNE resampled to 256 Hz (the
rate of the BNCI 003 recordings) or with channels renamed, dropped or reordered.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from neurospell.check import NeurospellError
from neurospell.fileio import file_sha256
from neurospell.session.evaluation import load_epochs
from neurospell.session.pooling import pool_batches, resample_epochs
from neurospell.types import EpochBatch

ROOT = Path(__file__).resolve().parent.parent


def _sine_batch(sfreq, n_times, f=5.0, ch=("Fz", "Cz")):
    t = np.arange(n_times) / sfreq
    data = np.stack([np.stack([np.sin(2 * np.pi * f * t + k), np.cos(2 * np.pi * f * t)]) for k in range(4)])
    return EpochBatch(data * 1e-5, np.ones(4, int), np.arange(4.0), 0.0, sfreq, ch,
                      np.array([1, 0, 0, 0], bool), np.array([0, 0, 1, 1]))


def test_resample_epochs_keeps_a_band_limited_signal():
    b = _sine_batch(256.0, 205)  # 0-0.8 s at 256 Hz
    r = resample_epochs(b, 250.0)
    assert r.sfreq == 250.0 and r.n_times == 200  # samples 0 .. 0.796 s, within the 256 Hz window
    t = np.arange(r.n_times) / 250.0
    np.testing.assert_allclose(r.data[1, 0], 1e-5 * np.sin(2 * np.pi * 5 * t + 1), atol=1e-5 * 2e-4)


def test_pool_batches_resamples_to_the_lowest_rate_and_keeps_recordings_apart():
    a, b = _sine_batch(250.0, 201), _sine_batch(256.0, 205)
    p = pool_batches([b, a], ["b", "a"])
    assert p.sfreq == 250.0 and p.n_times == 200 and len(p) == 8
    np.testing.assert_array_equal(p.recording, [0] * 4 + [1] * 4)
    assert len(set(p.trials[:4]) & set(p.trials[4:])) == 0
    assert pool_batches([a], ["a"]).recording is None  # one recording: as before
    assert pool_batches([a, b], sfreq=128.0).sfreq == 128.0


def test_pool_batches_matches_channels_by_name():
    a = _sine_batch(250.0, 201)
    swapped = EpochBatch(a.data[:, ::-1], a.codes, a.onsets, a.tmin, a.sfreq, ("Cz", "Fz"), a.targets, a.trials)
    p = pool_batches([a, swapped])
    np.testing.assert_array_equal(p.data[:4], p.data[4:])  # reordered by name, not by position
    other = EpochBatch(a.data, a.codes, a.onsets, a.tmin, a.sfreq, ("Fz", "Pz"), a.targets, a.trials)
    with pytest.raises(NeurospellError) as err:
        pool_batches([a, other], ["S1.mat", "s6.mat"])
    msg = str(err.value)
    for part in ("s6.mat", "S1.mat", "lacks Cz", "it has Fz, Pz", "raw.pick(['Fz'])"):
        assert part in msg, msg


def test_load_epochs_pools_recordings_at_different_rates_by_channel_name(gtec_files, tmp_path):
    from neurospell.preprocessing import load_recording

    raw = load_recording(gtec_files[1])
    raw.resample(256.0, verbose="error")
    order = ["PO8", "Oz", "PO7", "P4", "Pz", "P3", "Cz", "Fz"]
    raw.reorder_channels(order)
    f256 = tmp_path / "S2_256Hz_raw.fif"
    raw.save(f256, verbose="error")
    p = load_epochs([gtec_files[0], f256])
    ref = load_epochs([gtec_files[0]])
    assert p.sfreq == 250.0 and p.ch_names == ref.ch_names and p.n_times == ref.n_times
    np.testing.assert_array_equal(np.unique(p.recording), [0, 1])
    np.testing.assert_array_equal(p.data[p.recording == 0], ref.data)
    # the resampled recording is the same EEG: its epochs match those read at 250 Hz closely
    s2 = load_epochs([gtec_files[1]])
    got = p.data[p.recording == 1]
    assert len(got) == len(s2)
    r = np.corrcoef(got[:, :, 10:].ravel(), s2.data[:, :, 10 : got.shape[2]].ravel())[0, 1]
    assert r > 0.95, r
    # channels that cannot be matched: a clear error naming them and both recordings
    raw.rename_channels({"Oz": "O1"})
    bad = tmp_path / "S2_O1_raw.fif"
    raw.save(bad, verbose="error")
    with pytest.raises(NeurospellError) as err:
        load_epochs([gtec_files[0], bad])
    for part in ("S2_O1_raw.fif", "S1.mat", "lacks Oz", "raw.pick("):
        assert part in str(err.value), str(err.value)


def _train_generic_module():
    spec = importlib.util.spec_from_file_location("train_generic", ROOT / "benchmarks" / "train_generic.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["train_generic"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_generic_model_script_and_loading_path(gtec_files, tmp_path, monkeypatch, capfd):
    from neurospell.cli import main
    from neurospell.decoder import generic, load_decoder
    from neurospell.preprocessing import load_recording

    tiny = []
    for f in gtec_files[:2]:  # tiny input: the first two characters of two participants
        raw = load_recording(f).crop(0, 105)
        tiny.append(tmp_path / f"{f.stem}_tiny_raw.fif")
        raw.save(tiny[-1], verbose="error")
    out_dir = tmp_path / "generic"
    info = _train_generic_module().train_generic(tiny, out_dir, decoder="lda", argv=[])
    meta = json.loads((out_dir / "generic.json").read_text())
    assert meta == json.loads(json.dumps(info))
    assert [i["sha256"] for i in meta["inputs"]] == [file_sha256(f) for f in tiny]
    assert meta["model"]["sha256"] == file_sha256(out_dir / "generic.pt")
    assert meta["aligned"] and meta["alignment"]["n_recordings"] == 2
    assert load_decoder(out_dir / "generic.pt").aligns
    # `neurospell evaluate generic REC` loads the installed model (here: the one just written)
    monkeypatch.setattr(generic, "GENERIC_DIR", out_dir)
    rc = main(["evaluate", "generic", str(gtec_files[2]), "--n-selections", "10", "--max-repetitions", "2"])
    out, err = capfd.readouterr()
    assert rc == 0, err
    assert "generic.pt" in out and f"Aligned the model on {gtec_files[2].name}'s" in out
    monkeypatch.setattr(generic, "GENERIC_DIR", tmp_path / "none")
    rc = main(["evaluate", "generic", str(gtec_files[2])])
    _, err = capfd.readouterr()
    assert rc == 2 and "No generic model is installed" in err and "make generic-model" in err
