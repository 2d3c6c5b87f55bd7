"""The photodiode timing check: a real closed loop whose simulated participant records a
photodiode channel lit D ms after each flash marker, and real FIF files with a flat or
missing photodiode channel."""

from __future__ import annotations

import dataclasses
import time

import mne
import numpy as np
import pytest

from neurospell.acquisition import LslMarkerOutlet, LslSource
from neurospell.check import NeurospellError
from neurospell.cli import main
from neurospell.config import Config
from neurospell.lsl import get_pylsl
from neurospell.preprocessing import load_recording
from neurospell.preprocessing.timing import photodiode_timing
from neurospell.session.headless import HeadlessDisplay
from neurospell.session.live import LiveSession, Start, Stop
from neurospell.session.sessiondir import SessionFolder
from neurospell.session.simulator import ParticipantProcess
from neurospell.session.timing import timing_check

DELAY_MS = 30.0


def test_timing_check_recovers_the_photodiode_delay_of_a_closed_loop_run(tmp_path, capsys):
    get_pylsl()
    base = Config()
    sp = dataclasses.replace(base.speller, soa=0.1, flash_duration=0.05, inter_trial=0.2, calibration_repetitions=2,
                             pause_after=0.5, max_minutes=3.0)
    cfg = dataclasses.replace(base, speller=sp, decoder=dataclasses.replace(base.decoder, name="lda"))
    markers = f"neurospell-test-markers-{time.monotonic_ns()}"
    outlet = LslMarkerOutlet(markers)
    cfg_path = tmp_path / "cfg.toml"
    cfg_path.write_text("[speller]\nflash_duration = 0.05\nsoa = 0.1\n")
    participant = ParticipantProcess("AB", markers, config_path=cfg_path,
                                     args=("--seed", 1, "--photodiode-delay-ms", DELAY_MS))
    source = LslSource(participant.name, marker_name=markers, timeout=30.0)
    display = HeadlessDisplay.from_config(cfg.speller)
    try:
        source.start()
        assert participant.wait_connected(60.0), participant.lines
        assert source.ch_names[-1] == "PD" and source.ch_types[-1] == "misc"
        folder = SessionFolder.create(tmp_path / "sess", config=cfg)
        s = LiveSession(cfg, source, display, marker_outlet=outlet, calibration_text="AB", folder=folder,
                        free=False)
        s.start()
        s.submit(Start())
        deadline = time.monotonic() + 120
        while s.snapshot().phase not in ("training", "stopped", "error"):
            assert time.monotonic() < deadline, s.snapshot()
            time.sleep(0.05)
        s.submit(Stop())
        s.join(120)
    finally:
        display.close()
        source.stop()
        participant.close()
        outlet.close()
    reports = timing_check(folder.root, "PD")
    assert [name for name, _ in reports] == ["task-calibration run-1"]
    rep = reports[0][1]
    sample_ms = 1000.0 / rep.sfreq
    n_flashes = 2 * 2 * cfg.speller.layout().n_groups  # 2 characters x 2 repetitions
    with capsys.disabled():
        print(f"\ntiming check of the closed loop (participant photodiode {DELAY_MS:g} ms after each marker): "
              + " | ".join(rep.lines()))
    # (a flash stamped late can bring two flashes closer than their light lasts: one rise for two
    # markers, the second unmatched; every pair made is right)
    assert rep.n_markers == n_flashes and rep.n_matched >= n_flashes - 2 and rep.n_unmatched_onsets == 0
    # the light starts on the first sample at or after marker + D: D <= offset < D + one sample,
    # give or take the LSL clock correction between the EEG and the marker stream (estimated:
    # off by microseconds to tens of microseconds on one host; 18 us seen)
    tol = 0.1
    assert DELAY_MS - tol <= rep.median_ms < DELAY_MS + sample_ms + tol, rep.summary()
    assert rep.offsets_ms.min() >= DELAY_MS - tol and rep.offsets_ms.max() < DELAY_MS + sample_ms + tol
    assert rep.p1_p99_ms <= sample_ms and rep.sd_ms <= sample_ms and rep.iqr_ms <= sample_ms
    # the command line prints the same report
    assert main(["timing-check", str(folder.root), "--photodiode", "PD", "--json", str(tmp_path / "t.json")]) == 0
    out = capsys.readouterr().out
    assert f"median {rep.median_ms:+.2f} ms" in out and f"{rep.n_matched} matched" in out


def _fif_with_photodiode(path, pd_values, onsets=None):
    """A real FIF: 2 EEG channels and a photodiode channel, 20 flash markers 0.24 s apart."""
    sfreq = 250.0
    n = 2500
    rng = np.random.default_rng(0)
    data = np.vstack([rng.normal(0, 1e-5, (2, n)), pd_values(n, sfreq)])
    info = mne.create_info(["Cz", "Pz", "PD"], sfreq, ["eeg", "eeg", "misc"])
    raw = mne.io.RawArray(data, info, verbose="error")
    onsets = 1.0 + 0.24 * np.arange(20) if onsets is None else np.asarray(onsets)
    raw.set_annotations(mne.Annotations(onsets, 0.0, [f"flash/{1 + i % 12}" for i in range(onsets.size)]))
    raw.save(path, verbose="error")
    return load_recording(path)


def test_photodiode_timing_on_real_files_and_clear_errors(tmp_path, capsys):
    def lit(n, sfreq):  # light 12 ms (3 samples) after each marker for 50 ms, one marker without light
        x = np.zeros(n)
        for i in range(20):
            if i == 7:
                continue
            a = int(round((1.0 + 0.24 * i + 0.012) * sfreq))
            x[a:a + int(0.05 * sfreq)] = 2e-4
        x[2400] = 2e-4  # a lone spike: an onset without a marker
        return x + np.random.default_rng(1).normal(0, 1e-6, n)

    raw = _fif_with_photodiode(tmp_path / "lit_raw.fif", lit)
    rep = photodiode_timing(raw, "PD")
    assert (rep.n_markers, rep.n_onsets, rep.n_matched) == (20, 20, 19)
    assert rep.n_unmatched_markers == 1 and rep.n_unmatched_onsets == 1
    assert rep.median_ms == pytest.approx(12.0) and rep.sd_ms == pytest.approx(0.0, abs=1e-9)
    # a flash stamped 28 ms after the one before (a late frame): their light merges into one rise;
    # that marker stays unmatched and every other pair is right (no cascade of wrong pairs)
    marks = np.r_[1.0 + 0.24 * np.arange(10), 1.0 + 0.24 * 9 + 0.028, 1.0 + 0.24 * np.arange(10, 20)]

    def merged(n, sfreq):
        x = np.zeros(n)
        for m in marks:
            a = int(round((m + 0.012) * sfreq))
            x[a:a + int(0.05 * sfreq)] = 2e-4
        return x

    rep = photodiode_timing(_fif_with_photodiode(tmp_path / "merged_raw.fif", merged, marks), "PD")
    assert (rep.n_markers, rep.n_onsets, rep.n_matched, rep.n_unmatched_markers) == (21, 20, 20, 1)
    assert rep.n_unmatched_onsets == 0 and np.allclose(rep.offsets_ms, 12.0)
    flat = _fif_with_photodiode(tmp_path / "flat_raw.fif", lambda n, sfreq: np.full(n, 3e-5))
    with pytest.raises(NeurospellError, match=r"photodiode: the channel 'PD' is flat"):
        photodiode_timing(flat, "PD")
    with pytest.raises(NeurospellError, match=r"photodiode: the recording has no channel 'PD2'.*'Cz', 'Pz', 'PD'"):
        photodiode_timing(flat, "PD2")
    # on the command line the flag is named
    assert main(["timing-check", str(tmp_path / "flat_raw.fif"), "--photodiode", "PD"]) == 2
    assert "--photodiode: the channel 'PD' is flat" in capsys.readouterr().err
