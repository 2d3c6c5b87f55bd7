"""Online preprocessing: the causal filter on known signals, the epocher's marker timing,
stream loss, and equivalence with the offline causal path."""

import logging

import numpy as np
import pytest
from helpers.pre_signals import SAMPLE_FIF, make_raw
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from neurospell.check import NeurospellError
from neurospell.config import PreprocessConfig
from neurospell.logs import logger
from neurospell.preprocessing import (
    OnlineEpocher,
    OnlineFilter,
    causal_filter_raw,
    design_sos,
    epochs_from_raw,
    flash_table,
    load_recording,
)
from neurospell.types import EpochBatch, MarkerEvent, SampleChunk

SF = 250.0


def _chunks(rng, n, lo=1, hi=40):
    i = 0
    while i < n:
        k = int(rng.integers(lo, hi))
        yield i, min(i + k, n)
        i += k


def _filter_in_chunks(flt, x, rng):
    outs = []
    for a, b in _chunks(rng, x.shape[1]):
        outs.append(flt.process(x[:, a:b])[0])
    return np.concatenate(outs, axis=1)


# ------------------------------------------------------------------ known signals


def test_design_matches_scipy_butterworth():
    cfg = PreprocessConfig(l_freq=1.0, h_freq=30.0, filter_order=3, notch=50.0)
    sos = design_sos(cfg, SF)
    bp = signal.butter(3, [1.0, 30.0], "bandpass", fs=SF, output="sos")
    np.testing.assert_array_equal(sos[: len(bp)], bp)
    assert sos.shape == (len(bp) + 1, 6)  # + one notch section


def test_impulse_response_equals_scipy_sosfilt():
    cfg = PreprocessConfig()
    flt = OnlineFilter(cfg, SF, ["a", "b"])
    x = np.zeros((2, 2000))
    x[0, 1] = 1.0  # x[:, 0] == 0, so the steady-state start is the zero state here
    x[1, 700] = 1.0
    y = _filter_in_chunks(flt, x, np.random.default_rng(1))
    ref = signal.sosfilt(design_sos(cfg, SF), x, axis=-1)
    # Same recursion, same operation order: chunking only changes where state is handed
    # over, so results agree to float64 rounding.
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-15)
    assert np.abs(ref[0]).max() > 1e-3  # the impulse did pass through


@pytest.mark.parametrize("freq, expect_gain", [(10.0, None), (45.0, None), (50.0, "notch")])
def test_sinusoid_gain_matches_frequency_response(freq, expect_gain):
    cfg = PreprocessConfig(l_freq=0.5, h_freq=20.0, notch=50.0)
    sos = design_sos(cfg, SF)
    t = np.arange(int(20 * SF)) / SF
    x = np.sin(2 * np.pi * freq * t)[None, :]
    y = _filter_in_chunks(OnlineFilter(cfg, SF, ["c"]), x, np.random.default_rng(2))
    _, h = signal.sosfreqz(sos, worN=[freq], fs=SF)
    steady = y[0, int(10 * SF):]  # after the transients have died out (10 s >> 1/0.5 Hz)
    gain = np.sqrt(2) * steady.std()
    # sosfreqz gives the exact steady-state gain of the same filter; 1 % for the finite
    # window's leakage of the decaying transient.
    assert gain == pytest.approx(abs(h[0]), rel=0.01, abs=1e-4)
    if freq == 10.0:
        assert gain > 0.95  # passband
    else:
        assert gain < 0.1  # stop band / notch: > 20 dB down


def test_chunking_invariance_and_steady_state_start():
    rng = np.random.default_rng(3)
    cfg = PreprocessConfig(reference="average", notch=50.0)
    x = rng.standard_normal((3, 5000)) * 1e-5 + 1e-3  # 1 mV electrode offset
    whole = OnlineFilter(cfg, SF, ["a", "b", "c"]).process(x)[0]
    chunked = _filter_in_chunks(OnlineFilter(cfg, SF, ["a", "b", "c"]), x, rng)
    # bit for bit: the re-reference is summed sample by sample (a matrix product's blocking,
    # and so its last-bit rounding, would depend on the chunk width: a live session reads
    # chunks of any size, its replay fixed ones)
    np.testing.assert_array_equal(chunked, whole)
    for ref in ("average", ("b", "c")):
        c = PreprocessConfig(reference=ref)
        whole = OnlineFilter(c, SF, ["a", "b", "c"]).process(x)[0]
        for size in (1, 3, 7, 64):
            flt = OnlineFilter(c, SF, ["a", "b", "c"])
            parts = [flt.process(x[:, i:i + size])[0] for i in range(0, x.shape[1], size)]
            np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
    # The steady-state start means the offset does not ring through the high-pass:
    # the output stays at the noise level from the first sample on.
    assert np.abs(whole[:, :50]).max() < 10 * x.std()


def test_decimation_follows_the_absolute_sample_index():
    cfg = PreprocessConfig(l_freq=None, h_freq=None, resample_sfreq=125.0)
    flt = OnlineFilter(cfg, SF, ["ramp"], picks="all")
    ramp = np.arange(21, dtype=float)[None, :]
    out1, _ = flt.process(ramp[:, :5], first_index=0)
    out2, _ = flt.process(ramp[:, 8:21], first_index=8)  # samples 5-7 were lost
    np.testing.assert_array_equal(out1[0], [0, 2, 4])
    np.testing.assert_array_equal(out2[0], [8, 10, 12, 14, 16, 18, 20])


def test_online_filter_bad_input():
    with pytest.raises(NeurospellError, match="resample_sfreq .* must divide"):
        OnlineFilter(PreprocessConfig(resample_sfreq=100.0), SF, ["a"])
    with pytest.raises(NeurospellError, match="Nyquist"):
        OnlineFilter(PreprocessConfig(h_freq=40.0), 64.0, ["a"])
    with pytest.raises(NeurospellError, match="reference names channels"):
        OnlineFilter(PreprocessConfig(reference=("Cz",)), SF, ["a"])
    flt = OnlineFilter(PreprocessConfig(), SF, ["a", "b"])
    with pytest.raises(NeurospellError, match=r"shape \(2, n_samples\)"):
        flt.process(np.zeros((3, 10)))
    with pytest.raises(TypeError, match="cfg must be an instance of PreprocessConfig"):
        OnlineFilter({"l_freq": 1}, SF, ["a"])


# ------------------------------------------------------------------ epocher


def _markers_for(raw, t0):
    onsets, codes, targets, trials, _ = flash_table(raw)
    ms = [MarkerEvent(t0 + o, int(c), f"flash:{int(c)}:{'target' if t else 'nontarget'}")
          for o, c, t in zip(onsets, codes, targets, strict=True)]
    ann = raw.annotations
    ms += [MarkerEvent(t0 + o, 200, d.replace("/", ":")) for o, d in zip(ann.onset, ann.description, strict=True)
           if d.startswith("trial/")]
    return sorted(ms, key=lambda m: m.timestamp)


def _run_online(raw, cfg, *, t0=500.0, latency=(-0.3, 0.5), seed=0, use_index=True, picks="eeg",
                sample_filter=None, **kw):
    """Stream ``raw`` in random chunks; markers arrive with random latency."""
    rng = np.random.default_rng(seed)
    x = raw.get_data()
    sf = raw.info["sfreq"]
    ts = t0 + np.arange(x.shape[1]) / sf
    ep = OnlineEpocher(cfg, sf, raw.ch_names, raw.get_channel_types(), picks=picks, **kw)
    marks = _markers_for(raw, t0)
    outs, mi = [], 0
    for a, b in _chunks(rng, x.shape[1], 1, 60):
        if sample_filter is None or sample_filter(a, b):
            chunk = SampleChunk(x[:, a:b], ts[a:b], raw.ch_names, raw.get_channel_types(), sf,
                                first_index=a if use_index else None)
            outs.append(ep.update(chunk))
        now = ts[b - 1] + rng.uniform(*latency)
        due = [m for m in marks[mi:] if m.timestamp <= now]
        mi += len(due)
        outs.append(ep.update(markers=due))
    outs.append(ep.update(markers=marks[mi:]))
    outs.append(ep.flush())
    return EpochBatch.concatenate(outs), ep


@pytest.mark.parametrize(
    "cfg",
    [
        PreprocessConfig(),
        PreprocessConfig(reference="average", notch=50.0, resample_sfreq=125.0, baseline=(0.0, 0.1),
                         tmin=-0.1, tmax=0.6),
    ],
    ids=["default", "ref-notch-decim-baseline"],
)
def test_online_epochs_equal_offline_causal_epochs(cfg):
    raw = load_recording(SAMPLE_FIF)
    raw.crop(0, 60)
    _, off = epochs_from_raw(raw, cfg)
    on, ep = _run_online(raw, cfg)
    assert len(on) == len(off) > 250
    np.testing.assert_array_equal(on.codes, off.codes)
    np.testing.assert_array_equal(on.targets, off.targets)
    np.testing.assert_array_equal(on.trials, off.trials)
    np.testing.assert_allclose(on.onsets - 500.0, off.onsets, atol=1e-9)
    assert on.tmin == pytest.approx(off.tmin) and on.sfreq == off.sfreq
    # Both paths run the same float64 filter on the same samples (the online one in chunks)
    # and store float32: they agree to float32 rounding of the largest value.
    scale = np.abs(off.data).max()
    np.testing.assert_allclose(on.data, off.data, rtol=0, atol=2e-6 * scale)
    # the crop cut the last flashes' windows: offline drops them (TOO_SHORT), online at the end
    n_cut = len(flash_table(raw)[0]) - len(off)
    assert ep.n_emitted_ == len(on) and dict(ep.n_dropped_) == ({"stream end": n_cut} if n_cut else {})


def test_ramp_channel_proves_epoch_alignment():
    raw = make_raw(duration=6.0)
    cfg = PreprocessConfig(l_freq=None, h_freq=None, tmin=-0.1, tmax=0.5)
    on, _ = _run_online(raw, cfg, picks=["RAMP"])
    onsets, *_ = flash_table(raw)
    first = np.ceil(onsets * SF - 0.5) + round(-0.1 * SF)  # nearest sample, then tmin
    np.testing.assert_array_equal(on.data[:, 0, 0], first)
    np.testing.assert_array_equal(np.diff(on.data[:, 0, :], axis=1), 1.0)


@pytest.mark.parametrize("latency", [(-5.0, -4.0), (2.0, 4.0)], ids=["markers-early", "markers-late"])
def test_markers_before_or_after_their_samples(latency):
    raw = make_raw(duration=8.0)
    cfg = PreprocessConfig(tmax=0.5)
    ref, _ = _run_online(raw, cfg, latency=(0.0, 0.0))
    got, ep = _run_online(raw, cfg, latency=latency)
    assert len(got) == len(ref) > 20 and not ep.n_dropped_
    np.testing.assert_array_equal(got.data, ref.data)
    np.testing.assert_array_equal(got.onsets, ref.onsets)


def test_markers_later_than_the_buffer_are_dropped_and_counted():
    raw = make_raw(duration=10.0)
    cfg = PreprocessConfig(tmax=0.5)
    x, sf = raw.get_data(), raw.info["sfreq"]
    ts = 100.0 + np.arange(x.shape[1]) / sf
    ep = OnlineEpocher(cfg, sf, raw.ch_names, raw.get_channel_types(), buffer_seconds=2.0)
    ep.push_samples(SampleChunk(x, ts, raw.ch_names, raw.get_channel_types(), sf, first_index=0))
    marks = _markers_for(raw, 100.0)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        ep.push_markers(marks)
    finally:
        logger.removeHandler(handler)
    got = ep.flush()
    n_flash = sum(m.label.startswith("flash") for m in marks)
    # kept: flashes whose whole window is in the last 2 s of signal
    expect = sum(1 for m in marks if m.label.startswith("flash") and m.timestamp >= ts[-1] - 2.0 + 1e-9
                 and m.timestamp + 0.5 <= ts[-1])
    assert len(got) == expect > 0
    assert ep.n_dropped_["no data"] == n_flash - expect
    assert any("no data" in r.getMessage() for r in records)


def test_stream_loss_drops_epochs_over_the_gap_once():
    raw = make_raw(duration=8.0)
    cfg = PreprocessConfig(tmax=0.5)
    sf = raw.info["sfreq"]
    lost = (int(3.0 * sf), int(3.6 * sf))

    def keep(a, b):  # chunks overlapping the lost stretch never arrive
        return b <= lost[0] or a >= lost[1]

    for use_index in (True, False):
        got, ep = _run_online(raw, cfg, sample_filter=keep, use_index=use_index)
        full, _ = _run_online(raw, cfg)
        onsets = full.onsets - 500.0
        # flashes whose window [t, t + 0.5] touches the lost span (widened to chunk edges)
        assert ep.n_dropped_["gap"] + ep.n_dropped_["no data"] >= np.sum(
            (onsets + 0.5 > lost[0] / sf) & (onsets < lost[1] / sf))
        assert len(got) + sum(ep.n_dropped_.values()) == len(full)
        assert len(np.unique(got.onsets)) == len(got)  # nothing emitted twice
        ok = np.isin(full.onsets, got.onsets)
        kept_before = ok & (onsets + 0.5 < lost[0] / sf - 1)
        # epochs before the loss are untouched
        np.testing.assert_array_equal(got.data[: kept_before.sum()], full.data[kept_before])


def test_duplicate_markers_are_emitted_once_and_stream_end_is_counted():
    raw = make_raw(duration=5.0)
    cfg = PreprocessConfig(tmax=0.5)
    x, sf = raw.get_data(), raw.info["sfreq"]
    ts = np.arange(x.shape[1]) / sf
    ep = OnlineEpocher(cfg, sf, raw.ch_names, raw.get_channel_types())
    marks = _markers_for(raw, 0.0)
    ep.push_markers(marks)
    half = x.shape[1] // 2
    first = ep.update(SampleChunk(x[:, :half], ts[:half], raw.ch_names, raw.get_channel_types(), sf))
    ep.push_markers(marks)  # re-sent (e.g. a reconnecting inlet)
    second = ep.update(SampleChunk(x[:, half:], ts[half:], raw.ch_names, raw.get_channel_types(), sf))
    ep.push_markers(marks + [MarkerEvent(ts[-1] + 1.0, 3, "flash:3")])  # data never comes
    rest = ep.flush()
    n_flash = sum(m.label.startswith("flash") for m in marks)
    assert len(rest) == 0
    assert len(first) + len(second) == n_flash
    assert ep.n_dropped_ == {"stream end": 1}
    assert first.targets is not None and first.trials.tolist() == [0] * len(first)


def test_epocher_bad_input():
    ep = OnlineEpocher(PreprocessConfig(), SF, ["a", "b"])
    with pytest.raises(NeurospellError, match="differ from the configured"):
        ep.push_samples(SampleChunk(np.zeros((2, 3)), np.arange(3.0), ("x", "y"), ("eeg", "eeg"), SF))
    with pytest.raises(NeurospellError, match="sampling rate 500 Hz differs"):
        ep.push_samples(SampleChunk(np.zeros((2, 3)), np.arange(3.0), ("a", "b"), ("eeg", "eeg"), 500.0))
    with pytest.raises(NeurospellError, match="expects MarkerEvent"):
        ep.push_markers(["flash:1"])
    with pytest.raises(NeurospellError, match="buffer_seconds"):
        OnlineEpocher(PreprocessConfig(), SF, ["a"], buffer_seconds=0.1)
    with pytest.raises(NeurospellError, match="baseline"):
        OnlineEpocher(PreprocessConfig(baseline=(-0.5, -0.2)), SF, ["a"])


def test_causal_filter_raw_equals_online_filter_on_whole_signal():
    raw = make_raw(duration=4.0, ramp=False)
    cfg = PreprocessConfig(notch=50.0)
    off = causal_filter_raw(raw, cfg).get_data()
    on = OnlineFilter(cfg, SF, raw.ch_names).process(raw.get_data())[0]
    np.testing.assert_allclose(off, on, rtol=0, atol=1e-12 * np.abs(raw.get_data()).max())


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), lo=st.floats(-2.0, 0.0), hi=st.floats(0.0, 2.0),
       use_index=st.booleans())
def test_property_any_chunking_and_latency_gives_offline_epochs(seed, lo, hi, use_index):
    raw = make_raw(duration=5.0, seed=seed % 7)
    cfg = PreprocessConfig(reference="average", resample_sfreq=125.0, tmax=0.5)
    _, off = epochs_from_raw(raw, cfg)
    on, ep = _run_online(raw, cfg, latency=(lo, hi), seed=seed, use_index=use_index)
    assert len(on) == len(off) and not ep.n_dropped_
    np.testing.assert_allclose(on.data, off.data, rtol=0, atol=2e-6 * np.abs(off.data).max())
