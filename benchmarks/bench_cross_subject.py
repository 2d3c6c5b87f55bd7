"""Cross-subject benchmark: leave one participant out, with and without per-recording alignment.

For each held-out participant (one recording file each), ``xdawncov-ts-lr`` is

- (a) ``pooled``: trained on the other participants pooled, no alignment (before issue 20);
- (b) ``aligned``: trained on them with each recording re-centred on its own epochs
  (Riemannian re-centering, no labels), and aligned on the held-out participant's
  unlabelled epochs (all of them, labels unused) before scoring: the zero-calibration model;
- (c) ``own``: the within-subject reference, trained on the participant's own first characters
  (60 %, rounded up: 3 of 5 for g.tec, as its README's baselines).

All three are scored on the same held-out characters (the participant's last 40 %). Figures:
ROC AUC per participant, and character accuracy after 1..15 repetitions simulated through the
speller engine over the real held-out epochs (``neurospell evaluate``'s simulation, with each
model's own calibrated score model), one simulation per held-out character on that character's
epochs, so that the 95 % confidence intervals are over characters (t intervals); differences
are paired (same characters) and called noise when their interval holds 0. Recordings at
different rates are resampled to the lowest one, channels matched by name
(:mod:`neurospell.session.pooling`). The covariances are estimated with
``fast_covariance=True`` (the same Ledoit-Wolf estimate in NumPy: scores equal to the default
pipeline's within 1e-13, a few times faster).

    python benchmarks/bench_cross_subject.py [RECORDING ...] [--jobs 2] [--selections 100]

Default recordings: the six development participants (``../shared/data/gtec_p300/S1-S3.mat``,
``../shared/data/bnci003/s6-s8.mat``); one that cannot be read is left out, saying why.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from neurospell.check import NeurospellError, shared_data_dir  # noqa: E402

DEVELOPMENT = ("gtec_p300/S1.mat", "gtec_p300/S2.mat", "gtec_p300/S3.mat",
               "bnci003/s6.mat", "bnci003/s7.mat", "bnci003/s8.mat")
CONDITIONS = ("pooled", "aligned", "own")
REPS_SHOWN = (1, 2, 3, 4, 5, 8, 10, 15)
_DATA: dict = {}


def loso_split(batch, p):
    """Participant ``p`` held out: ``(own, chars, n_train, calib, test, others)`` -- p's epochs,
    characters and calibration count (the first 60 %, rounded up), p's calibration and held-out
    (last 40 %) epochs, and the other participants' epochs."""
    rec = np.asarray(batch.recording)
    own = batch.subset(rec == p)
    chars = np.unique(own.trials)
    n_train = int(np.ceil(0.6 * len(chars)))
    calib, test = own.subset(np.isin(own.trials, chars[:n_train])), own.subset(np.isin(own.trials, chars[n_train:]))
    return own, chars, n_train, calib, test, batch.subset(rec != p)


def recording_paths(given) -> list[str]:
    """The recordings given, else the six development participants in the shared data folder."""
    if given:
        return list(given)
    root = shared_data_dir()
    if root is None:
        sys.exit("Shared data not found: set NEUROSPELL_SHARED_DATA or give the recordings.")
    return [str(root / r) for r in DEVELOPMENT]


def _ci(x) -> tuple[float, float]:
    """Mean and 95 % t half-width over the items of ``x``."""
    from scipy import stats

    x = np.asarray(x, float)
    if len(x) < 2:
        return float(np.mean(x)), float("nan")
    return float(x.mean()), float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))


def per_character_accuracy(scores, targets, trials, score_model, *, max_repetitions, n_selections, seed):
    """Simulated accuracy vs repetitions, one simulation per character on its own epochs.

    Returns an array (n_characters, max_repetitions).
    """
    from neurospell.session.evaluation import accuracy_curve

    out = []
    for k, c in enumerate(np.unique(trials)):
        m = trials == c
        out.append(accuracy_curve(scores[m], targets[m], score_model, max_repetitions=max_repetitions,
                                  n_selections=n_selections, seed=seed + k))
    return np.array(out)


def _heldout(p: int, n_selections: int, seed: int) -> dict:
    """All three conditions for held-out participant ``p`` (runs in a worker process)."""
    import torch

    from neurospell.decoder import make_decoder
    from neurospell.session.evaluation import auc, recorded_repetitions

    torch.set_num_threads(1)
    batch = _DATA["batch"]
    own, chars, n_train, calib, test, others = loso_split(batch, p)
    max_rep = min(15, recorded_repetitions(test) or 15)
    y = np.asarray(test.targets, bool)
    res = {"participant": _DATA["names"][p], "n_test_characters": len(chars) - n_train, "auc": {}, "acc": {},
           "seconds": {}}
    for cond in CONDITIONS:
        t0 = time.perf_counter()
        if cond == "own":
            dec = make_decoder("xdawncov-ts-lr", fast_covariance=True).fit(calib, align=False)
        else:
            dec = make_decoder("xdawncov-ts-lr", fast_covariance=True).fit(others, align=cond == "aligned")
        if dec.aligns:
            dec.align_to(own, source=res["participant"])  # all its epochs, no labels
        s = dec.decision_function(test)
        res["auc"][cond] = auc(y, s)
        res["acc"][cond] = per_character_accuracy(s, y, np.asarray(test.trials), dec.score_model_,
                                                  max_repetitions=max_rep, n_selections=n_selections, seed=seed)
        res["seconds"][cond] = time.perf_counter() - t0
    return res


def _init(batch, names):
    _DATA.update(batch=batch, names=names)


def load_participants(paths, cfg):
    """One EpochBatch per readable recording (and the names); unreadable ones are reported."""
    from neurospell.preprocessing import epochs_from_raw, load_recording
    from neurospell.session.pooling import pool_batches

    batches, names = [], []
    for p in paths:
        try:
            _, b = epochs_from_raw(load_recording(p), cfg)
            if b.targets is None or b.trials is None:
                raise NeurospellError("no target labels or characters")
        except (NeurospellError, OSError) as err:
            print(f"left out {p}: {err}", flush=True)
            continue
        batches.append(b)
        names.append(Path(p).stem)
    if len(batches) < 2:
        raise NeurospellError(f"leave-one-participant-out needs at least 2 readable recordings, got {len(batches)}.")
    return pool_batches(batches, names), names


def report(results, max_shown=REPS_SHOWN) -> str:
    lines = []
    lines.append(f"{'participant':12s} " + " ".join(f"{'AUC ' + c:>12s}" for c in CONDITIONS)
                 + f" {'aligned-pooled':>15s}")
    for r in results:
        a = r["auc"]
        lines.append(f"{r['participant']:12s} " + " ".join(f"{a[c]:12.3f}" for c in CONDITIONS)
                     + f" {a['aligned'] - a['pooled']:+15.3f}")
    for c in CONDITIONS:
        m, h = _ci([r["auc"][c] for r in results])
        lines.append(f"mean AUC {c:8s}: {m:.3f} +/- {h:.3f} (95 % CI over {len(results)} participants)")
    for a_, b_ in (("aligned", "pooled"), ("own", "aligned")):
        m, h = _ci([r["auc"][a_] - r["auc"][b_] for r in results])
        noise = not np.isfinite(h) or abs(m) <= h
        lines.append(f"AUC {a_} - {b_}: {m:+.3f} +/- {h:.3f}" + ("  (inside the noise)" if noise else ""))
    n_rep = min(r["acc"]["own"].shape[1] for r in results)
    acc = {c: np.concatenate([r["acc"][c][:, :n_rep] for r in results]) for c in CONDITIONS}
    n_char = len(acc["own"])
    lines.append("")
    lines.append(f"Character accuracy vs repetitions (simulated over each held-out character's real epochs; mean "
                 f"+/- 95 % CI over {n_char} characters of {len(results)} participants):")
    lines.append(f"{'repetitions':>11s} " + " ".join(f"{c:>15s}" for c in CONDITIONS) + f" {'aligned-pooled':>17s}")
    for rep in max_shown:
        if rep > n_rep:
            continue
        cells = []
        for c in CONDITIONS:
            m, h = _ci(acc[c][:, rep - 1])
            cells.append(f"{m:7.3f}+/-{h:5.3f}")
        m, h = _ci(acc["aligned"][:, rep - 1] - acc["pooled"][:, rep - 1])
        noise = "" if np.isfinite(h) and abs(m) > h else " ~"
        lines.append(f"{rep:11d} " + " ".join(f"{x:>15s}" for x in cells) + f" {m:+7.3f}+/-{h:5.3f}{noise}")
    lines.append("(~: the paired difference's 95 % CI holds 0, inside the noise)")
    return "\n".join(lines)


def _progress(r: dict) -> dict:
    print(f"  {r['participant']} held out: AUC " + ", ".join(f"{c} {r['auc'][c]:.3f}" for c in CONDITIONS)
          + f" ({sum(r['seconds'].values()):.0f} s)", flush=True)
    return r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("recordings", nargs="*", help="one recording per participant (default: the six)")
    ap.add_argument("--jobs", type=int, default=2, help="held-out participants in parallel (processes)")
    ap.add_argument("--selections", type=int, default=100, help="simulated selections per held-out character")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from neurospell.config import load_config

    paths = recording_paths(args.recordings)
    t0 = time.perf_counter()
    batch, names = load_participants(paths, load_config(None).preprocessing)
    print(f"{len(names)} participants ({', '.join(names)}), {len(batch)} epochs, {batch.n_channels} channels "
          f"({', '.join(batch.ch_names)}) at {batch.sfreq:g} Hz (lowest rate), xdawncov-ts-lr", flush=True)
    ids = list(range(len(names)))
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs, initializer=_init, initargs=(batch, names)) as ex:
            runs = ex.map(_heldout, ids, [args.selections] * len(ids), [args.seed] * len(ids))
            results = [_progress(r) for r in runs]
    else:
        _init(batch, names)
        results = [_progress(_heldout(p, args.selections, args.seed)) for p in ids]
    print()
    print(report(results))
    secs = {c: sum(r["seconds"][c] for r in results) for c in CONDITIONS}
    print(f"\nTotal {time.perf_counter() - t0:.0f} s wall ({args.jobs} processes); fit+score CPU-seconds per "
          "condition: " + ", ".join(f"{c} {s:.0f}" for c, s in secs.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
