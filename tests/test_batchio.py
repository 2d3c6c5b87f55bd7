"""One writer and one reader of EpochBatch files: round trips, the CLI's --save-epochs,
older files and bad files."""

import mne
import numpy as np
import pytest
from helpers.pre_signals import make_raw

from neurospell.batchio import BATCH_VERSION, load_batch, save_batch
from neurospell.check import NeurospellError
from neurospell.types import EpochBatch


def _batch(targets=True, trials=True, n=7):
    rng = np.random.default_rng(0)
    return EpochBatch(rng.standard_normal((n, 3, 20)).astype(np.float32), np.arange(n) % 12 + 1,
                      np.linspace(1.0, 4.0, n), -0.1, 100.0, ("Fz", "Cz", "Pz"),
                      (np.arange(n) % 3 == 0) if targets else None,
                      (np.arange(n) // 3) if trials else None)


def _same(a, b):
    for k in ("data", "codes", "onsets"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert (a.tmin, a.sfreq, a.ch_names) == (b.tmin, b.sfreq, b.ch_names)
    for k in ("targets", "trials"):
        x, y = getattr(a, k), getattr(b, k)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)
            assert x.dtype == y.dtype


@pytest.mark.parametrize(("targets", "trials", "n"), [(True, True, 7), (False, True, 7), (True, False, 7),
                                                     (False, False, 7), (True, True, 0)])
def test_round_trip(tmp_path, targets, trials, n):
    b = _batch(targets, trials, n)
    path = save_batch(b, tmp_path / "ep.npz")
    assert path == tmp_path / "ep.npz" and sorted(p.name for p in tmp_path.iterdir()) == ["ep.npz"]
    _same(load_batch(path), b)
    # no ".npz" is appended to another name
    other = save_batch(b, tmp_path / "epochs.bin")
    assert other.exists() and not (tmp_path / "epochs.bin.npz").exists()
    _same(load_batch(other), b)
    with np.load(path) as z:
        assert str(z["format"]) == "neurospell-epochs" and int(z["version"]) == BATCH_VERSION


def test_cli_replay_save_epochs_then_load_and_train(tmp_path, capsys):
    from neurospell.cli import main

    onsets = np.concatenate([1.0 + g * 5.0 + np.arange(36) * 0.1 for g in range(4)])  # 4 characters
    raw = make_raw(duration=22.0, ramp=False, trials=False, flash_onsets=onsets)
    raw.set_annotations(raw.annotations + mne.Annotations([0.7 + g * 5.0 for g in range(4)], 0.0,
                                                          [f"trial/{g}/{'ABCD'[g]}" for g in range(4)]))
    raw.save(tmp_path / "rec_raw.fif")
    out = tmp_path / "ep.npz"
    assert main(["replay", str(tmp_path / "rec_raw.fif"), "--no-progress", "--save-epochs", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"epochs saved to {out}" in text
    back = load_batch(out)
    assert f"epochs: {len(back)} ({int(back.targets.sum())} targets)" in text
    assert len(back) == 144 and sorted(set(back.trials.tolist())) == [0, 1, 2, 3]
    np.testing.assert_array_equal(back.codes, np.arange(144) % 12 + 1)
    assert back.data.shape[1:] == (4, back.n_times) and np.all(np.isfinite(back.data))
    # the saved epochs train a decoder like a recording does
    model = tmp_path / "m.pt"
    assert main(["train", str(out), "--decoder", "lda", "--out", str(model)]) == 0
    assert model.exists()


def test_older_files_still_read(tmp_path):
    b = _batch()
    # replay --save-epochs before the versioned format: no has_* flags, empty arrays for None
    np.savez(tmp_path / "old_replay.npz", data=b.data, codes=b.codes, onsets=b.onsets, tmin=b.tmin,
             sfreq=b.sfreq, ch_names=np.array(b.ch_names), targets=np.array([]), trials=b.trials)
    old = load_batch(tmp_path / "old_replay.npz")
    assert old.targets is None
    np.testing.assert_array_equal(old.trials, b.trials)
    # evaluation.save_batch before the versioned format: has_targets / has_trials
    np.savez(tmp_path / "old_eval.npz", data=b.data, codes=b.codes, onsets=b.onsets, tmin=b.tmin,
             sfreq=b.sfreq, ch_names=np.array(b.ch_names), targets=b.targets, trials=np.array([]),
             has_targets=True, has_trials=False)
    old = load_batch(tmp_path / "old_eval.npz")
    assert old.trials is None
    np.testing.assert_array_equal(old.targets, b.targets)


def test_bad_files(tmp_path):
    b = _batch()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_batch(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(NeurospellError, match=r"junk\.npz' is not a readable neurospell epoch file.*"
                                              r"--save-epochs"):
        load_batch(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(NeurospellError, match=r"other\.npz.*lacks \['data', 'codes'.*it has \['x'\]"):
        load_batch(tmp_path / "other.npz")
    np.savez(tmp_path / "fmt.npz", format=np.array("something-else"), version=np.array(1), x=np.zeros(1))
    with pytest.raises(NeurospellError, match=r"fmt\.npz.*format is 'something-else'"):
        load_batch(tmp_path / "fmt.npz")
    path = save_batch(b, tmp_path / "future.npz")
    with np.load(path) as z:
        arrays = dict(z)
    arrays["version"] = np.array(BATCH_VERSION + 1)
    np.savez(path, **arrays)
    with pytest.raises(NeurospellError, match=rf"future\.npz.*version {BATCH_VERSION + 1}; this neurospell"):
        load_batch(path)
    arrays["version"] = np.array(BATCH_VERSION)
    arrays["codes"] = arrays["codes"][:3]  # inconsistent lengths: EpochBatch's own validation
    np.savez(path, **arrays)
    with pytest.raises(NeurospellError, match=r"future\.npz.*EpochBatch\.codes must be 7 integers"):
        load_batch(path)
    blob = (tmp_path / "ok.npz")
    save_batch(b, blob)
    blob.write_bytes(blob.read_bytes()[:200])  # cut short
    with pytest.raises(NeurospellError, match=r"ok\.npz' is not a readable neurospell epoch file"):
        load_batch(blob)
    with pytest.raises(TypeError, match="batch must be an instance of EpochBatch"):
        save_batch("not a batch", tmp_path / "x.npz")
