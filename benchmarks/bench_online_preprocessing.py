"""Online preprocessing throughput: causal filter + epocher on 64 channels at 1000 Hz.

Streams synthetic EEG (64 channels, 1000 Hz, flashes every 175 ms) through
:class:`~neurospell.preprocessing.OnlineEpocher` in 20 ms chunks (a live acquisition's
rate of delivery) and reports multiples of real time on one core; the baseline, measured in
the same run on the same data, is MNE's offline ``raw.filter`` (FIR, zero-phase) followed
by ``mne.Epochs``. Target: >= 200x real time.

Run: ``python benchmarks/bench_online_preprocessing.py [--seconds 120] [--chunk-ms 20]``
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def make_data(seconds, sfreq, n_ch, seed=0):
    import mne

    rng = np.random.default_rng(seed)
    n = int(seconds * sfreq)
    x = rng.standard_normal((n_ch, n)) * 10e-6
    raw = mne.io.RawArray(x, mne.create_info([f"EEG{i:02d}" for i in range(n_ch)], sfreq, "eeg"), verbose="error")
    onsets = np.arange(1.0, seconds - 1.0, 0.175)
    codes = (np.arange(onsets.size) % 12) + 1
    raw.set_annotations(mne.Annotations(onsets, 0.0, [f"flash/{c}/nontarget" for c in codes]))
    return raw, onsets, codes


def bench_online(raw, onsets, codes, cfg, chunk_ms):
    from neurospell.preprocessing import OnlineEpocher
    from neurospell.types import MarkerEvent

    sf = raw.info["sfreq"]
    x = raw.get_data()
    ts = np.arange(x.shape[1]) / sf
    step = int(round(chunk_ms * 1e-3 * sf))
    markers = [MarkerEvent(t, int(c), f"flash:{int(c)}") for t, c in zip(onsets, codes, strict=True)]
    ep = OnlineEpocher(cfg, sf, raw.ch_names, ["eeg"] * len(raw.ch_names))
    n_out, mi = 0, 0
    t0 = time.process_time()
    for a in range(0, x.shape[1], step):
        b = min(a + step, x.shape[1])
        due = []
        while mi < len(markers) and markers[mi].timestamp <= ts[b - 1]:
            due.append(markers[mi])
            mi += 1
        ep.push_markers(due)
        ep.push_samples(x[:, a:b], ts[a:b])
        n_out += len(ep.pop_epochs())
    n_out += len(ep.flush())
    return time.process_time() - t0, n_out


def bench_mne(raw, cfg):
    import mne

    t0 = time.process_time()
    r = raw.copy().filter(cfg.l_freq, cfg.h_freq, picks="eeg", n_jobs=1, verbose="error")
    events, ids = mne.events_from_annotations(r, verbose="error")
    ep = mne.Epochs(r, events, ids, tmin=cfg.tmin, tmax=cfg.tmax, baseline=None, preload=True, verbose="error")
    return time.process_time() - t0, len(ep)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--sfreq", type=float, default=1000.0)
    parser.add_argument("--chunk-ms", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from neurospell.config import PreprocessConfig

    cfg = PreprocessConfig()
    cfg_dec = PreprocessConfig(resample_sfreq=250.0)
    raw, onsets, codes = make_data(args.seconds, args.sfreq, args.channels)
    dur = args.seconds
    print(f"data: {args.channels} ch x {dur:g} s at {args.sfreq:g} Hz, {len(onsets)} flashes, "
          f"chunks of {args.chunk_ms:g} ms, band-pass {cfg.l_freq}-{cfg.h_freq} Hz, window {cfg.tmin}-{cfg.tmax} s")
    res = {}
    for name, fn in (
        ("online causal (neurospell)", lambda: bench_online(raw, onsets, codes, cfg, args.chunk_ms)),
        ("online causal + decimate to 250 Hz", lambda: bench_online(raw, onsets, codes, cfg_dec, args.chunk_ms)),
        ("MNE offline filter + Epochs (baseline)", lambda: bench_mne(raw, cfg)),
    ):
        times = []
        for _ in range(args.repeats):
            t, n = fn()
            times.append(t)
        best = min(times)
        res[name] = best
        print(f"{name:40s} {best:7.3f} s CPU  {dur / best:8.0f}x real time  ({n} epochs)")
    base = res["MNE offline filter + Epochs (baseline)"]
    for name in list(res)[:2]:
        print(f"{name:40s} {base / res[name]:6.2f}x the speed of the MNE baseline")
    ok = dur / res["online causal (neurospell)"] >= 200
    print(f"target >= 200x real time: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
