"""The simulated participant without LSL: pure signal generation, intention, markers, CLI checks."""

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt, welch

from neurospell.check import NeurospellError
from neurospell.cli import main
from neurospell.markers import (
    apply_selection,
    format_select,
    format_text,
    intended_symbol,
    parse_flash,
    parse_select,
    parse_text,
)
from neurospell.preprocessing import load_recording
from neurospell.preprocessing.offline import flash_table
from neurospell.session.simulator import (
    Intention,
    ParametricGenerator,
    RealEpochGenerator,
    RecordingGenerator,
    ScheduledFlash,
    StreamingParticipant,
    channel_names,
)
from neurospell.types import SpellerLayout

SF = 250.0


def _schedule(n=60, seed=0, soa=0.15, start=40.3):
    rng = np.random.default_rng(seed)
    codes = rng.integers(1, 13, n)
    onsets = start + np.arange(n) * soa * SF + rng.uniform(0, 5, n)
    return [ScheduledFlash(float(o), int(c), bool(c in (1, 7))) for o, c in zip(onsets, codes, strict=True)]


# ----------------------------------------------------------------------------- determinism
def test_same_seed_and_schedule_give_byte_identical_streams_whatever_the_chunking():
    """(a) generation is a pure function of seed, sample index and flash schedule."""
    flashes = _schedule()
    n = 3000
    whole = ParametricGenerator(seed=11).synthesize(0, n, flashes)
    gen = ParametricGenerator(seed=11)  # a fresh object, fed random chunks and a shuffled schedule
    rng = np.random.default_rng(5)
    parts, i = [], 0
    while i < n:
        k = int(min(n - i, rng.integers(1, 900)))
        shuffled = [flashes[j] for j in rng.permutation(len(flashes))]
        parts.append(gen.synthesize(i, k, shuffled))
        i += k
    chunked = np.concatenate(parts, axis=1)
    assert whole.tobytes() == chunked.tobytes()
    # a later stretch asked for on its own equals the same stretch of the whole
    assert ParametricGenerator(seed=11).synthesize(1234, 500, flashes).tobytes() == whole[:, 1234:1734].tobytes()
    assert not np.array_equal(ParametricGenerator(seed=12).synthesize(0, n, flashes), whole)
    # a flash only touches its response window
    far = ScheduledFlash(5000.0, 3, True)
    assert ParametricGenerator(seed=11).synthesize(0, n, [*flashes, far]).tobytes() == whole.tobytes()


def test_p300_template_amplitude_latency_delay_and_hit_probability():
    quiet = dict(background_uv=0.0, blink_rate=0.0, vep_uv=0.0, jitter_ms=0.0)
    fl = [ScheduledFlash(100.0, 1, True)]
    x = ParametricGenerator(amplitude=7.0, latency_ms=320.0, hit_prob=1.0, **quiet).synthesize(0, 400, fl)
    pz = channel_names(8).index("Pz")
    assert np.argmax(x[pz]) == 100 + 80  # 320 ms at 250 Hz
    assert x[pz].max() == pytest.approx(7e-6, rel=1e-9)
    assert np.all(x[:, :100] == 0.0)  # nothing before the flash
    xd = ParametricGenerator(amplitude=7.0, latency_ms=320.0, hit_prob=1.0, delay_ms=40.0, **quiet).synthesize(0, 400, fl)
    assert np.argmax(xd[pz]) == 100 + 80 + 10
    np.testing.assert_allclose(xd[:, 10:], x[:, :-10], atol=1e-18)
    # a non-target flash and a missed target evoke no P300
    nt = ParametricGenerator(amplitude=7.0, hit_prob=1.0, **quiet).synthesize(0, 400, [ScheduledFlash(100.0, 2, False)])
    assert np.all(nt == 0.0)
    miss = ParametricGenerator(amplitude=7.0, hit_prob=0.0, **quiet).synthesize(0, 400, fl)
    assert np.all(miss == 0.0)
    # hit probability: about that share of targets answered
    many = [ScheduledFlash(100.0 + 300 * k, 1, True) for k in range(200)]
    g = ParametricGenerator(amplitude=7.0, hit_prob=0.7, **quiet)
    y = g.synthesize(0, 100 + 300 * 200, many)
    peaks = np.array([y[pz, 100 + 300 * k + 75] for k in range(200)])
    assert 0.6 < np.mean(peaks > 3e-6) < 0.8
    # latency jitter spreads the single-trial peaks with about the configured SD
    gj = ParametricGenerator(amplitude=7.0, hit_prob=1.0, **{**quiet, "jitter_ms": 30.0})
    yj = gj.synthesize(0, 100 + 300 * 200, many)
    lat = np.array([np.argmax(yj[pz, 100 + 300 * k:100 + 300 * k + 250]) / SF for k in range(200)])
    assert 0.3 - 0.01 < lat.mean() < 0.3 + 0.01 and 0.022 < lat.std() < 0.038


def test_background_looks_like_eeg():
    """1/f spectrum, an alpha peak strongest at occipital channels, blinks at frontal ones."""
    g = ParametricGenerator(n_channels=16, background_uv=10.0, blink_rate=30.0, seed=3)
    x = g.synthesize(0, int(120 * SF))
    names = g.ch_names
    f, p = welch(x, fs=SF, nperseg=1024, axis=1)
    oz, pz, fp1 = names.index("Oz"), names.index("Pz"), names.index("Fp1")
    band = lambda lo, hi, ch: p[ch, (f >= lo) & (f < hi)].mean()  # noqa: E731
    assert band(2, 4, pz) > 3 * band(25, 35, pz)  # 1/f: more power at low frequencies
    assert band(9, 11, oz) > 2 * band(6, 8, oz) and band(9, 11, oz) > 2 * band(12, 14, oz)  # alpha
    assert band(9, 11, oz) > band(9, 11, fp1)
    rms = x.std(axis=1) * 1e6
    assert 8 < rms[pz] < 25
    assert np.abs(x[fp1]).max() > 60e-6 > np.abs(x[pz]).max()  # blinks: frontal, not parietal
    assert ParametricGenerator(background_uv=0.0, blink_rate=0.0).synthesize(0, 500).max() == 0.0


def test_generator_parameters_are_validated():
    for kwargs in ({"n_channels": 0}, {"sfreq": 10.0}, {"amplitude": -1.0}, {"hit_prob": 1.5},
                   {"jitter_ms": float("nan")}, {"delay_ms": -5.0}, {"seed": -1}):
        with pytest.raises(NeurospellError, match=next(iter(kwargs))):
            ParametricGenerator(**kwargs)
    with pytest.raises(TypeError, match="n_channels"):
        ParametricGenerator(n_channels=2.5)
    with pytest.raises(NeurospellError, match="start"):
        ParametricGenerator().synthesize(-1, 10)


# ----------------------------------------------------------------------------- the person
def test_intended_symbol_follows_typed_text_and_wants_backspace_after_a_mistake():
    assert intended_symbol("AB", "") == "A"
    assert intended_symbol("AB", "A") == "B"
    assert intended_symbol("AB", "AB") is None
    assert intended_symbol("AB", "C") == "<"
    assert intended_symbol("AB", "AC") == "<"
    assert intended_symbol("AB", "ABX") == "<"


def test_intention_reads_decision_markers_and_answers_flashes_of_the_wanted_symbol():
    layout = SpellerLayout.row_column("ABCDEFGHIJKLMNOPQRSTUVWXYZ12345678 <")
    person = Intention("AB", layout)
    a_codes = {g + 1 for g in layout.groups_containing("A")}
    back_codes = {g + 1 for g in layout.groups_containing("<")}
    assert {c for c in range(1, 13) if person.is_target(c)} == a_codes
    assert person.on_marker(format_select("C")) and person.typed == "C"
    assert {c for c in range(1, 13) if person.is_target(c)} == back_codes
    assert person.on_marker(format_select("<")) and person.typed == ""
    assert person.on_marker(format_select("A")) and person.symbol == "B"
    assert person.on_marker(format_text("AB")) and person.symbol is None
    assert not any(person.is_target(c) for c in range(1, 13))
    assert not person.on_marker("flash:3")
    # labelled flashes (calibration cues) are answered as labelled unless told otherwise
    assert person.is_target(5, True) and not person.is_target(1, False)
    assert not Intention("AB", layout, follow_labels=False).is_target(5, True)
    assert not person.is_target(0) and not person.is_target(40)  # unknown group / beyond the grid


def test_intention_without_backspace_on_the_grid_keeps_wanting_the_phrase():
    person = Intention("AB", SpellerLayout.row_column(), typed="C")
    assert person.symbol == "B"


def test_intention_rejects_a_phrase_off_the_grid():
    with pytest.raises(NeurospellError, match="not on the speller grid"):
        Intention("hello", SpellerLayout.row_column())


def test_decision_and_text_markers():
    assert format_select("A") == "select:A" and parse_select("select:A") == "A"
    assert parse_select(format_select(" ")) == " " and parse_select("select::") == ":"
    assert parse_select("select/<") == "<"
    assert parse_select("select:") is None and parse_select("flash:3") is None and parse_select(3) is None
    assert parse_text(format_text("")) == "" and parse_text("text:HI THERE") == "HI THERE"
    assert parse_text("select:A") is None
    assert apply_selection("AB", "<") == "A" and apply_selection("", "<") == "" and apply_selection("A", "B") == "AB"
    assert parse_flash("select:5") is None and parse_flash("text:3") is None
    with pytest.raises(NeurospellError, match="symbol"):
        format_select("")
    with pytest.raises(NeurospellError, match="text"):
        format_text(None)


# ----------------------------------------------------------------------------- real recording
def test_recording_generator_uses_held_out_characters_of_a_real_recording(gtec_files):
    raw = load_recording(gtec_files[0])
    gen = RecordingGenerator(raw, exclude_first_chars=3, seed=1)
    assert gen.n_chars_used_ == 2 and gen.n_flashes_used_ == 480
    assert gen.sfreq == 250.0 and len(gen.ch_names) == 8
    resp = gen.responses_ * 1e6
    t = np.arange(resp.shape[2]) / gen.sfreq
    win = (t > 0.2) & (t < 0.5)
    # the target response carries a positive P300-like wave larger than the non-target's
    assert (resp[1][:, win].max(axis=1) - resp[0][:, win].max(axis=1)).mean() > 2.0
    assert np.all(resp[:, :, 0] == 0.0) and np.all(resp[:, :, -1] == 0.0)  # faded in and out
    flashes = [ScheduledFlash(100.0 + 44 * k, k % 12 + 1, k % 6 == 0) for k in range(30)]
    x = gen.synthesize(0, 2000, flashes)
    assert x.shape == (8, 2000) and np.all(np.isfinite(x))
    assert 3e-6 < x.std() < 60e-6  # real EEG scale
    again = RecordingGenerator(raw, exclude_first_chars=3, seed=1).synthesize(0, 2000, flashes)
    assert again.tobytes() == x.tobytes()
    with pytest.raises(NeurospellError, match="exclude_first_chars"):
        RecordingGenerator(raw, exclude_first_chars=5)


def test_real_epoch_generator_answers_each_flash_with_a_real_single_trial_epoch_of_its_kind(gtec_files):
    """Each flash plays the (high-passed) recording from a real flash of the same kind:
    labelled (calibration) flashes from the first characters, the others from the held-out
    ones; chunked synthesis from a pruned schedule equals synthesis at once."""
    raw = load_recording(gtec_files[0])
    gen = RealEpochGenerator(raw, exclude_first_chars=3, seed=2)
    assert abs(gen.soa_ - 0.175) < 0.005
    assert gen.pool_sizes_ == {"calibration": (90, 630), "spelling": (60, 420)}
    rng = np.random.default_rng(4)
    flashes, start = [], 300
    for labelled in (True, False):
        for _rep in range(25):
            targets = set(rng.choice(12, 2, replace=False).tolist())
            for j, g in enumerate(rng.permutation(12)):
                flashes.append(ScheduledFlash(float(start + 44 * j), int(g + 1), int(g) in targets, labelled))
            start += 44 * 12
        start += 500
    n = start + 500
    x = gen.synthesize(0, n, flashes)
    assert x.shape == (8, n) and 3e-6 < x.std() < 60e-6
    # the recording as the generator plays it, and its flashes
    hp = sosfiltfilt(butter(2, 0.3, "highpass", fs=250.0, output="sos"), raw.get_data(picks="eeg"), axis=1)
    onsets, _codes, rec_targets, trials, _ = flash_table(raw)
    rec_s = np.round(onsets * 250.0).astype(np.int64)
    first_chars = np.isin(trials, np.unique(trials)[:3])
    ok = rec_s + 40 <= hp.shape[1]
    rec_s, rec_targets, first_chars = rec_s[ok], rec_targets[ok], first_chars[ok]
    windows = {d: hp[:, rec_s[:, None] + d + np.arange(5, 35)] for d in (0, -1, 1)}  # (8, n_rec, 30)
    for fl in flashes:  # 30 samples after the 20 ms cross-fade: verbatim recording after a real flash
        u = int(fl.onset)
        piece = x[:, None, u + 5:u + 35]
        hits = np.flatnonzero(np.abs(windows[0] - piece).max(axis=(0, 2)) < 1e-12)
        if not hits.size:  # the stretch playing went on (the recording's next flash is 1 sample off)
            hits = np.flatnonzero(np.minimum(np.abs(windows[-1] - piece).max(axis=(0, 2)),
                                             np.abs(windows[1] - piece).max(axis=(0, 2))) < 1e-12)
        assert hits.size == 1, (fl, hits)
        (k,) = hits
        assert bool(rec_targets[k]) == fl.target, fl
        assert bool(first_chars[k]) == fl.labelled, fl
    # the target - non-target difference of the epochs is the recording's (0-800 ms, every channel)
    def difference(sig, onsets, targets):
        ep = np.stack([sig[:, o:o + 200] for o in onsets])
        ep -= ep[:, :, :10].mean(axis=2, keepdims=True)
        return (ep[targets].mean(0) - ep[~targets].mean(0)).ravel()

    sim = difference(x, [int(f.onset) for f in flashes], np.array([f.target for f in flashes]))
    real = difference(hp, rec_s[rec_s + 200 <= hp.shape[1]], rec_targets[rec_s + 200 <= hp.shape[1]])
    r = np.corrcoef(sim, real)[0, 1]
    ratio = np.std(sim) / np.std(real)
    print(f"target - non-target difference: correlation with the recording's {r:.2f}, size ratio {ratio:.2f}")
    assert r > 0.6 and 0.5 < ratio < 2.0, (r, ratio)
    # a pure function of the schedule: chunk by chunk, pruned as the live loop prunes, from a fresh generator
    gen2 = RealEpochGenerator(raw, exclude_first_chars=3, seed=2)
    span = gen2.response_span()[1]
    parts = []
    for a in range(0, n, 8):
        known = [f for f in flashes if a - span - 1 <= f.onset < a + 40]
        parts.append(gen2.synthesize(a, min(8, n - a), known))
    assert np.concatenate(parts, axis=1).tobytes() == x.tobytes()
    other = RealEpochGenerator(raw, exclude_first_chars=3, seed=3).synthesize(0, n, flashes)
    assert not np.array_equal(other, x)


# ----------------------------------------------------------------------------- command line
@pytest.mark.parametrize("argv, flag", [
    (["--n-channels", "0"], "--n-channels"),
    (["--sfreq", "5"], "--sfreq"),
    (["--amplitude", "-2"], "--amplitude"),
    (["--latency-ms", "2000"], "--latency-ms"),
    (["--jitter-ms", "nan"], "--jitter-ms"),
    (["--hit-prob", "1.2"], "--hit-prob"),
    (["--delay-ms", "-1"], "--delay-ms"),
    (["--seed", "-3"], "--seed"),
    (["--background-uv", "-1"], "--background-uv"),
    (["--blink-rate", "500"], "--blink-rate"),
    (["--lookahead-ms", "-5"], "--lookahead-ms"),
    (["--duration", "0"], "--duration"),
    (["--name", ""], "--name"),
    (["--marker-stream", "a'b"], "--marker-stream"),
    (["--phrase", "hello"], "--phrase"),
    (["--mode", "real"], "--mode real needs --data"),
    (["--mode", "average"], "--mode average needs --data"),
    (["--exclude-first-chars", "2"], "--exclude-first-chars"),
    (["--data", "/nonexistent/S1.mat"], "--data"),
    (["--data", "/nonexistent/S1.mat", "--amplitude", "5"], "--amplitude"),
    (["--data", "/nonexistent/S1.mat", "--mode", "parametric"], "--mode parametric"),
])
def test_cli_rejects_bad_options_naming_the_flag(argv, flag, capsys):
    assert main(["simulate-participant", *argv]) == 2
    err = capsys.readouterr().err
    assert flag in err, err


def test_a_late_marker_is_still_answered_from_the_first_unpublished_sample():
    gen = ParametricGenerator(background_uv=0.0, blink_rate=0.0, vep_uv=0.0, jitter_ms=0.0, hit_prob=1.0,
                              amplitude=5.0)
    person = Intention("A", SpellerLayout.row_column())
    sim = StreamingParticipant(gen, person, lookahead=0.1)
    t0 = 1000.0
    sim._handle("flash:1", t0 + 1.0, t0, pushed=int(0.9 * SF))  # in time: onset not yet published
    sim._handle("flash:7", t0 + 2.0, t0, pushed=int(2.1 * SF))  # late: 100 ms of its response already out
    sim._handle("flash:2", t0 + 3.0, t0, pushed=int(2.9 * SF))
    sim._handle(format_select("B"), t0 + 3.1, t0, pushed=int(2.9 * SF))
    assert sim.n_flashes == 3 and sim.n_targets == 2 and sim.n_late == 1
    assert person.typed == "B"
    assert [f.onset for f in sim.flashes] == [SF * 1.0, SF * 2.0, SF * 3.0]
    # the late flash's response is still placed at its true onset in the samples to come
    x = gen.synthesize(int(2.1 * SF), 200, sim.flashes)
    assert np.argmax(x[0]) == int(2.3 * SF) - int(2.1 * SF)
