"""The simulated participant as a real process over real LSL (loopback): P300s locked to marker timestamps."""

import re
import threading
import uuid

import numpy as np
from helpers.participant_proc import ParticipantCommand, collect, erp_kernels

from neurospell.acquisition import LslMarkerOutlet, LslSource
from neurospell.lsl import get_pylsl
from neurospell.markers import flash_to_str, format_select
from neurospell.preprocessing import load_recording
from neurospell.session.simulator import RealEpochGenerator, ScheduledFlash
from neurospell.types import SpellerLayout

SFREQ = 250.0
SOA_MIN, SOA_MAX = 0.1, 0.15


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _schedule(n_reps, start, seed=0, n_groups=12):
    """Random-order repetitions of every flash group, 100-150 ms apart: (onsets, codes).

    The flash interval varies so that the overlapping responses can be told apart (and
    the 10 Hz alpha is not locked to the flashes).
    """
    rng = np.random.default_rng(seed)
    codes = np.concatenate([rng.permutation(n_groups) + 1 for _ in range(n_reps)])
    steps = rng.uniform(SOA_MIN, SOA_MAX, codes.size - 1)
    return start + np.r_[0.0, np.cumsum(steps)], codes


def _fit_p300(kernel, times, width=0.06):
    """Least-squares fit of ``a * gauss(t - lat) + c`` over 0-0.7 s: (a, lat)."""
    sel = (times >= 0.0) & (times <= 0.7)
    t, y = times[sel], kernel[sel]
    best = (-np.inf, 0.0, 0.0)
    for lat in np.arange(0.15, 0.55, 0.001):
        g = np.exp(-0.5 * ((t - lat) / width) ** 2)
        x = np.column_stack([g, np.ones_like(g)])
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        score = -np.sum((y - x @ coef) ** 2)
        if score > best[0]:
            best = (score, coef[0], lat)
    return best[1], best[2]


def _baselined(kernels, times):
    return kernels - kernels[..., times < 0].mean(axis=-1, keepdims=True)


def _start(markers_name, *names_and_args, config=None):
    """Start one participant per (name, args); wait until each streams and reads the markers."""
    procs = [ParticipantCommand("--name", name, "--marker-stream", markers_name, "--seed", 7, *args,
                                config=config) for name, args in names_and_args]
    for p in procs:
        p.wait_for("reading markers from", timeout=30)
    return procs


def _connected(mk):
    assert mk.wait_for_consumers(10), "no participant connected to the marker stream"


def test_p300_locked_to_marker_timestamps_and_amplitude_zero():
    """(b) a target P300 of the configured amplitude at Pz, none for non-targets, markers
    arriving seconds early or after their onset alike; (d) amplitude 0: no target/non-target difference."""
    pylsl = get_pylsl()
    uid = _uid()
    common = ("--phrase", "A", "--jitter-ms", 0, "--hit-prob", 1, "--background-uv", 2, "--blink-rate", 0,
              "--latency-ms", 300, "--lookahead-ms", 300)
    with LslMarkerOutlet(f"mk-{uid}") as mk:
        procs = _start(mk.name, (f"p10-{uid}", (*common, "--amplitude", 10)),
                       (f"p0-{uid}", (*common, "--amplitude", 0)))
        _connected(mk)
        try:
            sources = [LslSource(name=f"p10-{uid}", timeout=10.0).start(),
                       LslSource(name=f"p0-{uid}", timeout=10.0).start()]
            readers = [s.reader() for s in sources]
            onsets, codes = _schedule(7, pylsl.local_clock() + 0.5)
            half = onsets.size // 2
            for t, c in zip(onsets[:half], codes[:half], strict=True):  # seconds early
                mk.push(flash_to_str(int(c)), timestamp=float(t))
            # the rest sent late: the first 50 ms after its onset (within the 300 ms lookahead)
            _wait_clock(pylsl, onsets[half] + 0.05)
            for t, c in zip(onsets[half:], codes[half:], strict=True):
                mk.push(flash_to_str(int(c)), timestamp=float(t))
            got = [collect(r, onsets[-1] + 1.0, pylsl.local_clock) for r in readers]
            for s in sources:
                s.stop()
        finally:
            mk.close()  # the marker stream ends: each participant stops on its own
        for p in procs:
            assert p.wait_exit(20) == 0
            assert "0 late markers" in p.wait_for("flashes answered", timeout=5)
    a_groups = {g + 1 for g in SpellerLayout.row_column().groups_containing("A")}
    classes = np.isin(codes, list(a_groups)).astype(int)
    (x10, ts10), (x0, ts0) = got
    times, k10 = erp_kernels(x10 * 1e6, ts10, onsets, classes, SFREQ)
    k10 = _baselined(k10, times)
    pz = 0
    amp, lat = _fit_p300(k10[1, pz], times)
    assert 7.5 <= amp <= 12.5 and abs(lat - 0.30) <= 0.02, (amp, lat)
    amp_nt, _ = _fit_p300(k10[0, pz], times)
    assert abs(amp_nt) < 2.5, amp_nt  # non-target: no P300
    diff, _ = _fit_p300(k10[1, pz] - k10[0, pz], times)
    assert 8.0 <= diff <= 12.0, diff
    _, k0 = erp_kernels(x0 * 1e6, ts0, onsets, classes, SFREQ)
    k0 = _baselined(k0, times)
    amp0, _ = _fit_p300(k0[1, pz] - k0[0, pz], times)
    assert abs(amp0) < 2.5, amp0  # within noise (the amplitude-10 difference is ~10)


def _wait_clock(pylsl, t):
    """Block until the LSL clock passes ``t`` (a deadline of the schedule, not a fixed sleep)."""
    ev = threading.Event()
    while pylsl.local_clock() < t:
        ev.wait(min(0.02, max(0.0, t - pylsl.local_clock())))


def _peak_shift(ref, other, max_lag):
    """Lag (samples, sub-sample by parabolic fit) that best aligns ``other`` to ``ref``."""
    lags = np.arange(-max_lag, max_lag + 1)
    xc = np.array([np.dot(ref[max_lag:-max_lag], other[max_lag + lag:other.size - max_lag + lag]) for lag in lags])
    i = int(np.argmax(xc))
    if 0 < i < lags.size - 1:
        y0, y1, y2 = xc[i - 1:i + 2]
        return lags[i] + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
    return float(lags[i])


def test_delay_ms_shifts_the_averaged_p300():
    """(c) --delay-ms 40 shifts the averaged P300 by 40 ms (10 samples at 250 Hz) within one sample."""
    pylsl = get_pylsl()
    uid = _uid()
    common = ("--phrase", "A", "--jitter-ms", 0, "--hit-prob", 1, "--background-uv", 1, "--blink-rate", 0,
              "--amplitude", 10)
    with LslMarkerOutlet(f"mk-{uid}") as mk:
        procs = _start(mk.name, (f"d0-{uid}", common), (f"d40-{uid}", (*common, "--delay-ms", 40)))
        _connected(mk)
        try:
            sources = [LslSource(name=f"d0-{uid}", timeout=10.0).start(),
                       LslSource(name=f"d40-{uid}", timeout=10.0).start()]
            readers = [s.reader() for s in sources]
            onsets, codes = _schedule(7, pylsl.local_clock() + 0.5, seed=1)
            for t, c in zip(onsets, codes, strict=True):
                mk.push(flash_to_str(int(c)), timestamp=float(t))
            got = [collect(r, onsets[-1] + 1.0, pylsl.local_clock) for r in readers]
            for s in sources:
                s.stop()
        finally:
            for p in procs:
                p.kill()
    a_groups = {g + 1 for g in SpellerLayout.row_column().groups_containing("A")}
    classes = np.isin(codes, list(a_groups)).astype(int)
    diffs = []
    for x, ts in got:
        times, k = erp_kernels(x * 1e6, ts, onsets, classes, SFREQ)
        k = _baselined(k, times)
        diffs.append(k[1, 0] - k[0, 0])
    shift = _peak_shift(diffs[0], diffs[1], 25)
    assert abs(shift - 10.0) <= 1.0, shift
    lat = [_fit_p300(d, times)[1] for d in diffs]
    assert abs((lat[1] - lat[0]) - 0.040) <= 1.0 / SFREQ + 1e-9, lat


def test_decision_markers_make_the_participant_correct_with_backspace(tmp_path):
    """(e) after a wrong select:C the participant answers the flashes of '<' as targets; after
    select:< (typed text empty again) it answers those of 'A'."""
    pylsl = get_pylsl()
    uid = _uid()
    symbols = "ABCDEFGHIJKLMNOPQRSTUVWXYZ12345678 <"
    cfg = tmp_path / "grid.toml"
    cfg.write_text(f'[speller]\nsymbols = "{symbols}"\nn_rows = 6\nn_cols = 6\n')
    layout = SpellerLayout.row_column(symbols)
    args = ("--phrase", "AB", "--jitter-ms", 0, "--hit-prob", 1, "--background-uv", 2, "--blink-rate", 0,
            "--amplitude", 12)
    with LslMarkerOutlet(f"mk-{uid}") as mk:
        (proc,) = _start(mk.name, (f"e-{uid}", args), config=cfg)
        _connected(mk)
        try:
            src = LslSource(name=f"e-{uid}", timeout=10.0).start()
            reader = src.reader()
            onsets, codes = _schedule(7, pylsl.local_clock() + 0.5, seed=2)
            half = onsets.size // 2
            mk.push(format_select("C"), timestamp=pylsl.local_clock())  # a mistake: typed "C"
            for t, c in zip(onsets[:half], codes[:half], strict=True):
                mk.push(flash_to_str(int(c)), timestamp=float(t))
            mk.push(format_select("<"))  # corrected: typed "" again
            for t, c in zip(onsets[half:], codes[half:], strict=True):
                mk.push(flash_to_str(int(c)), timestamp=float(t))
            x, ts = collect(reader, onsets[-1] + 1.0, pylsl.local_clock)
            src.stop()
        finally:
            mk.close()
        assert proc.wait_exit(20) == 0
        assert "typed ''" in proc.wait_for("flashes answered", timeout=5)
    back = np.isin(codes, [g + 1 for g in layout.groups_containing("<")])
    a = np.isin(codes, [g + 1 for g in layout.groups_containing("A")])
    phase1 = np.arange(codes.size) < half
    # classes: 0 other, 1 '<' in phase 1, 2 'A' in phase 1, 3 '<' in phase 2, 4 'A' in phase 2
    classes = np.zeros(codes.size, dtype=int)
    classes[back & phase1], classes[a & phase1] = 1, 2
    classes[back & ~phase1], classes[a & ~phase1] = 3, 4
    times, k = erp_kernels(x * 1e6, ts, onsets, classes, SFREQ)
    k = _baselined(k, times)
    p300 = [_fit_p300(k[c, 0] - k[0, 0], times)[0] for c in range(5)]
    assert p300[1] > 8.0 and p300[4] > 8.0, p300  # '<' then 'A' are the targets
    assert abs(p300[2]) < 3.0 and abs(p300[3]) < 3.0, p300  # not 'A' before the correction, not '<' after


def test_real_mode_process_streams_exactly_the_pure_synthesis(gtec_files):
    """--data: the published stream is the recording generator's output for the flashes it
    received (sample for sample), with the recording's channels and rate."""
    pylsl = get_pylsl()
    uid = _uid()
    with LslMarkerOutlet(f"mk-{uid}") as mk:
        (proc,) = _start(mk.name, (f"r-{uid}", ("--data", gtec_files[0], "--exclude-first-chars", 3,
                                                "--phrase", "A")))
        _connected(mk)
        t0 = float(re.search(r"t0=([0-9.e+-]+)", proc.wait_for("t0=")).group(1))
        try:
            info = pylsl.resolve_bypred(f"name='r-{uid}'", 1, 10.0)
            assert info
            inlet = pylsl.StreamInlet(info[0], recover=False)  # the sender's own timestamps
            inlet.open_stream(5.0)
            assert inlet.info().channel_count() == 8 and inlet.info().nominal_srate() == 250.0
            onsets, codes = _schedule(2, pylsl.local_clock() + 0.6, seed=3)
            # each onset a quarter of a sample after a sample: 1 ms from where the generator
            # rounds (whole and half samples), so that the marker inlet's clock-sync offset
            # (microseconds) can never move a flash to another sample (one run had an onset
            # within microseconds of one: that flash's response was played a sample off)
            onsets = t0 + (np.floor((onsets - t0) * SFREQ) + 0.25) / SFREQ
            for t, c in zip(onsets, codes, strict=True):
                mk.push(flash_to_str(int(c)), timestamp=float(t))
            chunks, stamps = [], []
            while not stamps or stamps[-1][-1] < onsets[-1] + 1.0:
                data, ts = inlet.pull_chunk(timeout=1.0)
                assert ts or proc.proc.poll() is None
                if ts:
                    chunks.append(np.asarray(data, dtype=np.float32))
                    stamps.append(np.asarray(ts))
            inlet.close_stream()
        finally:
            proc.kill()
    x = np.concatenate(chunks).T
    ts = np.concatenate(stamps)
    idx = np.round((ts - t0) * SFREQ).astype(np.int64)
    np.testing.assert_allclose(ts, t0 + idx / SFREQ, atol=1e-6)
    assert np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size))  # no sample lost or repeated
    gen = RealEpochGenerator(load_recording(gtec_files[0]), exclude_first_chars=3, seed=7)  # _start: --seed 7
    a_groups = {g + 1 for g in SpellerLayout.row_column().groups_containing("A")}
    flashes = [ScheduledFlash((t - t0) * SFREQ, int(c), int(c) in a_groups) for t, c in zip(onsets, codes, strict=True)]
    expected = gen.synthesize(int(idx[0]), idx.size, flashes).astype(np.float32)
    # equal up to the marker inlet's clock-sync offset on loopback (microseconds of onset,
    # hundredths of a microvolt on the interpolated responses)
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-7)
    assert np.abs(expected - gen.synthesize(int(idx[0]), idx.size, []).astype(np.float32)).max() > 1e-6
