"""Offline preprocessing: epochs_from_raw on real and known signals; causal vs zero-phase."""

import numpy as np
import pytest
from helpers.pre_signals import SAMPLE_FIF, make_raw

from neurospell.check import NeurospellError
from neurospell.config import PreprocessConfig
from neurospell.preprocessing import causal_filter_raw, epochs_from_raw, load_recording
from neurospell.types import EpochBatch


def test_gtec_epochs_for_the_decoder(gtec_files):
    raw = load_recording(gtec_files[0])
    epochs, batch = epochs_from_raw(raw, PreprocessConfig())
    assert isinstance(batch, EpochBatch)
    assert batch.data.shape == (1200, 8, 201) and batch.data.dtype == np.float32
    assert batch.targets.sum() == 150 and set(batch.codes.tolist()) == {0}
    np.testing.assert_array_equal(np.bincount(batch.trials), [240] * 5)
    assert batch.sfreq == 250.0 and batch.tmin == 0.0 and batch.ch_names == tuple(raw.ch_names)
    assert len(epochs) == 1200 and set(epochs.event_id) == {"flash/0/target", "flash/0/nontarget"}
    # every 16-flash sequence holds 2 targets (the README's structure, from the labels we wrote)
    assert np.all(batch.targets.reshape(-1, 16).sum(axis=1) == 2)
    # the target average has a P300-like positivity at Pz-area channels between 250 and 600 ms
    t = batch.times
    win = (t > 0.25) & (t < 0.6)
    diff = batch.data[batch.targets].mean(0) - batch.data[~batch.targets].mean(0)
    assert diff[:, win].max() > 2e-6


def test_ramp_alignment_decimation_baseline_and_rejection():
    sf = 250.0
    raw = make_raw(duration=6.0, sfreq=sf)
    onsets = raw.annotations.onset[1:]  # after the trial marker
    # no filter: the ramp channel shows exactly which samples each epoch holds
    cfg = PreprocessConfig(l_freq=None, h_freq=None, tmin=-0.1, tmax=0.3, resample_sfreq=125.0)
    _, b = epochs_from_raw(raw, cfg, picks=["RAMP"])
    start_in = np.ceil(onsets * sf - 0.5)  # nearest input sample
    first_out = -(-start_in // 2)  # first kept (even) sample at or after it
    np.testing.assert_array_equal(b.data[:, 0, 0], 2 * (first_out + round(-0.1 * 125)))
    np.testing.assert_array_equal(np.diff(b.data[:, 0], axis=1), 2.0)
    assert b.n_times == round(0.3 * 125) - round(-0.1 * 125) + 1 and b.sfreq == 125.0
    # baseline: the ramp's mean over [-0.1, 0] is removed (MNE baselines data channels: EEG)
    raw.set_channel_types({"RAMP": "eeg"}, verbose="error")
    cfg = PreprocessConfig(l_freq=None, h_freq=None, tmin=-0.1, tmax=0.3, baseline=(-0.1, 0.0))
    _, b = epochs_from_raw(raw, cfg, picks=["RAMP"])
    base = b.data[:, 0, : round(0.1 * sf) + 1].mean(axis=1)
    np.testing.assert_allclose(base, 0.0, atol=1e-3)
    # rejection: a 200 µV step in one epoch drops that epoch only
    raw2 = make_raw(duration=6.0, sfreq=sf, ramp=False)
    x = raw2.get_data()
    i = int(round(onsets[5] * sf)) + 20
    x[0, i:i + 10] += 200e-6
    raw2._data[:] = x
    cfg = PreprocessConfig(l_freq=None, h_freq=None, tmax=0.1, reject_uv=100.0)
    _, b = epochs_from_raw(raw2, cfg)
    assert len(b) == len(onsets) - 1
    assert not np.any(np.isclose(b.onsets, onsets[5]))


def test_causal_versus_zero_phase_latency_on_sample_data():
    """Documented difference: the causal band-pass delays the P300; zero-phase does not."""
    raw = load_recording(SAMPLE_FIF).crop(0, 200)
    peaks = {}
    for phase in ("causal", "zero-phase"):
        _, b = epochs_from_raw(raw, PreprocessConfig(phase=phase))
        pz = b.ch_names.index("Pz")
        erp = b.data[b.targets, pz].mean(0) - b.data[~b.targets, pz].mean(0)
        peaks[phase] = b.times[np.argmax(erp)]
    # simulated P300 at 330 ms; a 4th-order 0.5-20 Hz Butterworth delays it by tens of ms
    assert 0.28 < peaks["zero-phase"] < 0.38
    assert 0.005 < peaks["causal"] - peaks["zero-phase"] < 0.1


def test_causal_filter_raw_keeps_annotations_and_rate():
    raw = load_recording(SAMPLE_FIF).crop(0, 30)
    out = causal_filter_raw(raw, PreprocessConfig(resample_sfreq=125.0, reference="average"))
    assert out.info["sfreq"] == 125.0 and out.ch_names == raw.ch_names
    np.testing.assert_allclose(out.get_data().mean(axis=0), 0.0, atol=1e-18)  # average reference
    assert list(out.annotations.description) == list(raw.annotations.description)


def test_epochs_from_raw_errors():
    raw = make_raw(duration=3.0)
    raw.set_annotations(None)
    with pytest.raises(NeurospellError, match="no flash annotations .* its annotations are none"):
        epochs_from_raw(raw, PreprocessConfig())
    raw = make_raw(duration=3.0)
    with pytest.raises(TypeError, match="cfg must be an instance of PreprocessConfig"):
        epochs_from_raw(raw, {"tmin": 0})
    with pytest.raises(TypeError, match="raw must be an instance of BaseRaw"):
        epochs_from_raw(np.zeros((2, 10)), PreprocessConfig())
    with pytest.raises(NeurospellError, match=r"picks names channels \['Oz'\]"):
        epochs_from_raw(raw, PreprocessConfig(), picks=["Oz"])
    with pytest.raises(NeurospellError, match="selects no channel"):
        epochs_from_raw(raw, PreprocessConfig(), picks="eog")
