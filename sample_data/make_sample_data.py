"""Generate neurospell's sample recording: a synthetic P300 row/column speller session.

Run ``python sample_data/make_sample_data.py`` (from the project root) to regenerate
``sample_data/neurospell_sample_raw.fif`` and ``sample_data/neurospell_sample.xdf``
byte-identically (fixed seed, no wall-clock or machine data in the files).

The session
-----------
- 8 EEG channels (Fz Cz P3 Pz P4 PO7 Oz PO8), 250 Hz, the default 6x6 grid
  (``SpellerLayout.row_column()``: codes 1-6 are rows, 7-12 columns).
- A calibration phrase, then short test phrases of ordinary English (:data:`PHRASES`).
  Each character is one trial: a ``trial/<i>/<symbol>`` marker, 0.75 s later 10 repetitions of
  the 12 row/column flashes in random order (SOA 0.175 s, the same group never twice in a
  row), then a 0.75 s pause. Every flash is marked ``flash/<code>/target`` or
  ``flash/<code>/nontarget`` (the test phrases too, so accuracy can be scored), and each
  phrase starts with a ``phrase/<calibration|test>/<text>`` marker.

The signal (microvolts before conversion to volts)
--------------------------------------------------
- Background EEG: 1/f ("pink") noise, spatially correlated between neighbouring electrodes
  (correlation ``exp(-distance / 0.6)`` on a flat head map), ~6 µV RMS per channel (~9 µV in 0.5-20 Hz with everything below), plus a
  constant electrode offset (±30 µV) and a slow random-walk drift.
- Alpha: 9.5-11 Hz band-limited noise, amplitude-modulated over seconds, strongest over
  parieto-occipital channels (~6 µV RMS there).
- Blinks: Poisson (0.2/s), 80-150 µV, ~300 ms wide, frontal (Fz) falling off backwards.
- Line noise: 50 Hz, 1-4 µV per channel with its own phase.
- Every flash evokes a small visual response (P1 ~100 ms, N1 ~170 ms, occipital, ~1-2 µV).
- Target flashes add an N200 (~220 ms, -2 µV, posterior) and a P300 (~330 ms, ~60 ms wide,
  maximal at Pz/Cz) whose amplitude varies from flash to flash (log-normal, median 7 µV)
  and whose latency jitters (SD 30 ms). Responses to successive flashes overlap (SOA 175 ms).

With these settings a shrinkage-LDA on single band-passed epochs separates targets from
non-targets with an AUC of about 0.85 (trained on the first 12 characters, tested on the
rest): good, not trivial.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

SEED = 20240611
SFREQ = 250.0
CH_NAMES = ("Fz", "Cz", "P3", "Pz", "P4", "PO7", "Oz", "PO8")
POS = np.array([
    [0.0, 0.5], [0.0, 0.0], [-0.4, -0.4], [0.0, -0.45], [0.4, -0.4],
    [-0.55, -0.7], [0.0, -0.9], [0.55, -0.7],
])
PHRASES = (("calibration", "THE QUICK BROWN FOX"), ("test", "HELLO"), ("test", "YES"))
N_REPETITIONS = 10
SOA = 0.175
P300_UV = 7.0  # median P300 amplitude at Pz, µV
LEAD_IN = 0.75  # trial marker -> first flash, s
PAUSE = 0.75  # last flash -> next trial marker, s
START = 2.0  # silence before the first trial, s
XDF_T0 = 1000.0  # LSL-clock time of the first sample in the XDF file
FIF_NAME = "neurospell_sample_raw.fif"
XDF_NAME = "neurospell_sample.xdf"


def _pink(rng, n_ch, n, sfreq):
    """1/f noise, unit variance per channel, shape (n_ch, n)."""
    white = rng.standard_normal((n_ch, n))
    spec = np.fft.rfft(white, axis=1)
    f = np.fft.rfftfreq(n, 1 / sfreq)
    spec *= 1.0 / np.sqrt(np.maximum(f, 0.5))[None, :]
    x = np.fft.irfft(spec, n=n, axis=1)
    return x / x.std(axis=1, keepdims=True)


def _bandnoise(rng, n, sfreq, lo, hi):
    white = rng.standard_normal(n)
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1 / sfreq)
    spec[(f < lo) | (f > hi)] = 0
    x = np.fft.irfft(spec, n=n)
    return x / x.std()


def _bump(t, mu, sigma):
    return np.exp(-0.5 * ((t - mu) / sigma) ** 2)


def schedule(rng, layout):
    """Flash and marker times of the session.

    Returns
    -------
    flashes : list of (onset_s, code, is_target, trial)
    markers : list of (onset_s, description) for trials and phrases
    duration : float, s
    """
    from neurospell.markers import phrase_to_annotation, trial_to_annotation

    flashes, markers = [], []
    t = START
    trial = 0
    n_groups = layout.n_groups
    for kind, text in PHRASES:
        markers.append((t, phrase_to_annotation(kind, text)))
        for sym in text:
            markers.append((t, trial_to_annotation(trial, sym)))
            targets = set(g + 1 for g in layout.groups_containing(sym))
            t += LEAD_IN
            prev = None
            for _ in range(N_REPETITIONS):
                order = rng.permutation(n_groups) + 1
                while prev is not None and order[0] == prev:
                    order = rng.permutation(n_groups) + 1
                for code in order:
                    onset = round(t * SFREQ) / SFREQ  # flashes on the sample grid
                    flashes.append((onset, int(code), int(code) in targets, trial))
                    t += SOA
                prev = order[-1]
            t += PAUSE
            trial += 1
    return flashes, markers, t + 1.0


def simulate(seed=SEED):
    """Simulate the session.

    Returns
    -------
    data_uv : array, shape (8, n_samples), float64, microvolts
    flashes, markers : see :func:`schedule`
    """
    from neurospell.types import SpellerLayout

    rng = np.random.default_rng(seed)
    layout = SpellerLayout.row_column()
    flashes, markers, duration = schedule(rng, layout)
    n = int(round(duration * SFREQ))
    n_ch = len(CH_NAMES)
    t = np.arange(n) / SFREQ

    d = np.linalg.norm(POS[:, None, :] - POS[None, :, :], axis=-1)
    mix = np.linalg.cholesky(np.exp(-d / 0.6))
    x = 6.0 * (mix @ _pink(rng, n_ch, n, SFREQ))

    x += rng.uniform(-30, 30, n_ch)[:, None]
    drift = np.cumsum(rng.standard_normal((n_ch, n)), axis=1) * 0.02
    x += drift - drift.mean(axis=1, keepdims=True)

    alpha_w = np.array([0.3, 0.4, 0.7, 0.8, 0.7, 1.0, 1.0, 1.0])
    envelope = 1.0 + 0.6 * _bandnoise(rng, n, SFREQ, 0.05, 0.3)
    alpha = _bandnoise(rng, n, SFREQ, 9.5, 11.0) * np.clip(envelope, 0.1, None)
    x += 6.0 * alpha_w[:, None] * alpha[None, :]

    blink_w = np.array([1.0, 0.55, 0.25, 0.25, 0.25, 0.1, 0.08, 0.1])
    n_blinks = rng.poisson(0.2 * duration)
    for tb in np.sort(rng.uniform(0, duration, n_blinks)):
        amp = rng.uniform(80, 150)
        sig = rng.uniform(0.05, 0.08)
        lo, hi = int((tb - 4 * sig) * SFREQ), int((tb + 4 * sig) * SFREQ)
        lo, hi = max(lo, 0), min(hi, n)
        x[:, lo:hi] += amp * blink_w[:, None] * _bump(t[lo:hi], tb, sig)[None, :]

    line_amp = rng.uniform(1, 4, n_ch)
    line_ph = rng.uniform(0, 2 * np.pi, n_ch)
    x += line_amp[:, None] * np.sin(2 * np.pi * 50.0 * t[None, :] + line_ph[:, None])

    vis_w = np.array([0.1, 0.2, 0.5, 0.4, 0.5, 1.0, 1.0, 1.0])
    n200_w = np.array([0.2, 0.4, 0.6, 0.6, 0.6, 1.0, 0.8, 1.0])
    p300_w = np.array([0.5, 0.85, 0.8, 1.0, 0.8, 0.6, 0.5, 0.6])
    win = np.arange(int(0.8 * SFREQ)) / SFREQ
    for onset, _code, is_target, _trial in flashes:
        i0 = int(round(onset * SFREQ))
        i1 = min(i0 + win.size, n)
        tt = win[: i1 - i0]
        erp = vis_w[:, None] * (1.5 * _bump(tt, 0.10, 0.02) - 2.0 * _bump(tt, 0.17, 0.025))[None, :]
        erp = erp * rng.uniform(0.6, 1.4)
        if is_target:
            jit = rng.normal(0.0, 0.03)
            a300 = P300_UV * rng.lognormal(0.0, 0.4)
            a200 = 2.0 * rng.lognormal(0.0, 0.4)
            erp = erp - a200 * n200_w[:, None] * _bump(tt, 0.22 + jit / 2, 0.03)[None, :]
            erp = erp + a300 * p300_w[:, None] * _bump(tt, 0.33 + jit, 0.06)[None, :]
        x[:, i0:i1] += erp
    return x, flashes, markers


def _annotations(flashes, markers):
    from neurospell.markers import flash_to_annotation

    items = [(on, flash_to_annotation(code, tg)) for on, code, tg, _ in flashes]
    items += list(markers)
    items.sort(key=lambda it: it[0])  # stable: trial/phrase markers keep their order
    return [i[0] for i in items], [i[1] for i in items]


def _zero_machine_id(path: Path) -> None:
    """MNE stamps FIF ids with this machine's id; zero it so the bytes do not depend on it."""
    from mne._fiff.write import get_machid

    machid = np.asarray(get_machid(), dtype=">i4").tobytes()
    if machid == bytes(8):
        return
    blob = path.read_bytes()
    path.write_bytes(blob.replace(machid, bytes(8)))


def write_fif(path: Path, data_uv, flashes, markers) -> Path:
    import datetime

    import mne

    info = mne.create_info(list(CH_NAMES), SFREQ, "eeg")
    info.set_montage("standard_1020", on_missing="ignore", verbose="error")
    info.set_meas_date(datetime.datetime(2024, 6, 11, 12, 0, 0, tzinfo=datetime.timezone.utc))
    info["description"] = "neurospell synthetic P300 speller session (sample_data/make_sample_data.py)"
    raw = mne.io.RawArray((data_uv * 1e-6).astype(np.float32).astype(np.float64), info, verbose="error")
    onsets, descs = _annotations(flashes, markers)
    raw.set_annotations(mne.Annotations(onsets, 0.0, descs, orig_time=info["meas_date"]))
    raw.save(path, fmt="single", overwrite=True, verbose="error")
    _zero_machine_id(path)
    return path


def write_xdf_file(path: Path, data_uv, flashes, markers) -> Path:
    from neurospell.markers import flash_to_str
    from neurospell.preprocessing.xdf import XdfStream, write_xdf

    n = data_uv.shape[1]
    eeg = XdfStream(
        name="neurospell-sample-EEG", stype="EEG",
        time_series=data_uv.T.astype(np.float32), time_stamps=XDF_T0 + np.arange(n) / SFREQ,
        nominal_srate=SFREQ, channel_format="float32",
        channels=[{"label": c, "type": "EEG", "unit": "microvolts"} for c in CH_NAMES],
        source_id="neurospell-sample-eeg", chunk_size=1000, stamp_all=False,
    )
    items = [(on, flash_to_str(code, tg)) for on, code, tg, _ in flashes]
    items += [(on, d.replace("/", ":", 2)) for on, d in markers]
    items.sort(key=lambda it: it[0])
    mk = XdfStream(
        name="neurospell-sample-markers", stype="Markers",
        time_series=[i[1] for i in items], time_stamps=XDF_T0 + np.array([i[0] for i in items]),
        nominal_srate=0.0, channel_format="string", source_id="neurospell-sample-markers",
    )
    return write_xdf(path, [eeg, mk], overwrite=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent), help="output folder")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data, flashes, markers = simulate()
    write_fif(out / FIF_NAME, data, flashes, markers)
    write_xdf_file(out / XDF_NAME, data, flashes, markers)
    sys.stdout.write(
        f"wrote {out / FIF_NAME} and {out / XDF_NAME}: {data.shape[1] / SFREQ:.0f} s, "
        f"{len(flashes)} flashes ({sum(f[2] for f in flashes)} targets)\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
