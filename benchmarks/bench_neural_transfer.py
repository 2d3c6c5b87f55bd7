"""Neural transfer benchmark: a network pretrained across participants, fine-tuned on a few of
the new participant's characters, side by side with ``xdawncov-ts-lr``.

Leave one participant out over the six development participants (as
``bench_cross_subject.py``, whose helpers load, pool, resample and channel-match them: 8
channels at 250 Hz). For each held-out participant P, all conditions are scored on the same
held-out characters, P's last 40 %, by ROC AUC:

- ``own``: trained on P's first 60 % of characters (3 of 5 for g.tec, 6 of 10 for BNCI),
  not aligned (one recording): today's calibration. Neural: the usual nested character
  split (``n_folds=3``).
- ``generic``: trained on the five other participants pooled, each recording aligned on its
  own epochs (Euclidean alignment for the network, Riemannian re-centering for
  ``xdawncov-ts-lr``), then aligned on all of P's unlabelled epochs: no calibration.
- ``k=1,2,3``: P's first k characters with their TRUE labels (the best case of
  self-labelling: a self-labelled character can be wrong). Neural: the generic network
  fine-tuned on them (:func:`neurospell.decoder.fine_tune`; P's epochs aligned on P's own
  unlabelled epochs). Classical: ``xdawncov-ts-lr`` refitted on them alone, as
  ``bench_adaptation_offline.py`` does.

Fine-tuning settings (the default; ``--no-select`` fixes them): per held-out participant,
``freeze`` in {none, early} x learning rate in ``--ft-lrs`` (default {1e-3, 3e-3}) is
chosen by the AUC on P's characters 2..n of the first 60 % after fine-tuning on character
1: validation characters from the calibration part, never the held-out 40 %. (So the k = 1 condition's settings saw the
labels of the other calibration characters; k = 2, 3 use characters among those.)

Architecture: EEGNet-8,2, the smallest and fastest of the registered networks on a CPU
(1,289 parameters; 648 training epochs per second on one loaded core against 221 for
EEG-Inception's 16,375 parameters, measured side by side at 8 channels x 100 samples;
XdawnTSNet trains about as fast, but its Riemannian branch is the classical pipeline it is
compared with, so it would not say whether a network transfers). Pretraining is short
(``--pre-epochs``, early stopping on the last 10 % of the pool's characters, one network):
a fair but not exhaustive budget for a CPU; more passes or a GPU may change the figures.

The 95 % CIs are t intervals over participants (6 at most: wide); paired differences
neural - classical per condition are called noise when their CI holds 0. One seed: seed
variation of the networks is not measured.

    python benchmarks/bench_neural_transfer.py [--participants S1 s6 ...] [--k 1 2 3]
        [--folds N] [--pre-epochs 40] [--own-epochs 60] [--ft-epochs 30] [--no-select]

Measured with the default settings (all six folds in one invocation, 1 process, 1 torch
thread, CPU, 517 s wall on the shared 2-core box): ``NEUROSPELL_SHARED_DATA=../shared/data
python benchmarks/bench_neural_transfer.py``. Held-out AUC, neural (EEGNet) / classical
(``xdawncov-ts-lr``; its ``own`` and ``generic`` equal ``bench_cross_subject.py``'s)::

    P          own nn/cl   generic nn/cl       k=1 nn/cl       k=2 nn/cl       k=3 nn/cl
    S1     0.891/0.978   0.759/0.761   0.943/0.935   0.967/0.968   0.948/0.978
    S2     0.874/0.940   0.583/0.686   0.847/0.904   0.873/0.930   0.881/0.940
    S3     0.777/0.868   0.585/0.661   0.774/0.824   0.820/0.866   0.823/0.868
    s6     0.550/0.624   0.496/0.571   0.515/0.591   0.521/0.565   0.502/0.597
    s7     0.623/0.824   0.621/0.666   0.653/0.730   0.661/0.716   0.670/0.778
    s8     0.813/0.895   0.665/0.739   0.714/0.843   0.761/0.840   0.801/0.876

    condition          neural       classical     neural - classical
    own         0.755+/-0.146   0.855+/-0.131        -0.100+/-0.053  (n=6)
    generic     0.618+/-0.093   0.681+/-0.070        -0.062+/-0.036  (n=6)
    k=1         0.741+/-0.158   0.804+/-0.133        -0.063+/-0.047  (n=6)
    k=2         0.767+/-0.166   0.814+/-0.157        -0.047+/-0.027  (n=6)
    k=3         0.771+/-0.169   0.840+/-0.144        -0.069+/-0.031  (n=6)

Validation chose freeze "none" for four participants, "early" for s6 and s7;
learning rate 3e-3 for S1, S3, s8, 1e-3 for the others.

The network loses to the classical pipeline in every condition, each difference outside the
noise (-0.05 to -0.10 AUC). Fine-tuning helps the network a lot (generic 0.618 -> 0.741
after one character, 0.771 after three: as good as or better than its own calibration on
3-6 characters, 0.755), and on the best participant it matches the classical refit (S1:
0.943 vs 0.935 after one character), but ``xdawncov-ts-lr`` refitted on the same one to
three characters alone does better on average (0.804-0.840). ``xdawncov-ts-lr`` stays the
default decoder.

A smaller budget (``--pre-epochs 12 --own-epochs 25 --ft-epochs 15 --ft-lrs 3e-4 1e-3``, one
invocation, 883 s under heavier load) gave the same verdict with a weaker network: neural
own / generic / k=1 / k=2 / k=3 = 0.742 / 0.604 / 0.705 / 0.715 / 0.719, neural - classical
-0.113 / -0.077 / -0.099 / -0.099 / -0.121, all outside the noise; validation chose 1e-3
over 3e-4 and no freezing for all six participants.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from bench_cross_subject import DEVELOPMENT, _ci, load_participants, loso_split  # noqa: E402

from neurospell.check import shared_data_dir  # noqa: E402
from neurospell.session.evaluation import auc  # noqa: E402

FT_LRS = (1e-3, 3e-3)  # fine-tuning learning rates chosen among (--ft-lrs)


def held_out(batch, names, p, args) -> dict:
    """Every condition, neural and classical, for held-out participant ``p``."""
    from neurospell.decoder import fine_tune, make_decoder

    own, chars, n_train, calib, test, others = loso_split(batch, p)
    y = np.asarray(test.targets, bool)
    res = {"participant": names[p], "auc": {"neural": {}, "classical": {}}, "seconds": {}, "choice": None}
    nn_kw = dict(device="auto", progress=False, seed=args.seed)

    t0 = time.perf_counter()
    cl = make_decoder("xdawncov-ts-lr", fast_covariance=True)
    res["auc"]["classical"]["own"] = auc(y, cl.clone().fit(calib, align=False).decision_function(test))
    gen = cl.clone().fit(others, align=True).align_to(own)
    res["auc"]["classical"]["generic"] = auc(y, gen.decision_function(test))
    for k in args.k:
        if k <= n_train:
            fk = cl.clone().fit(own.subset(np.isin(own.trials, chars[:k])), align=False)
            res["auc"]["classical"][f"k={k}"] = auc(y, fk.decision_function(test))
    res["seconds"]["classical"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    mine = make_decoder("eegnet", max_epochs=args.own_epochs, patience=6, n_folds=3, learning_rate=args.nn_lr, **nn_kw).fit(calib, align=False)
    res["auc"]["neural"]["own"] = auc(y, mine.decision_function(test))
    res["seconds"]["neural own"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pre = make_decoder("eegnet", max_epochs=args.pre_epochs, patience=4, n_folds=1, refit_outer=False,
                       learning_rate=args.nn_lr,
                       validation_fraction=0.1, **nn_kw).fit(others, align=True)
    res["seconds"]["neural pretrain"] = time.perf_counter() - t0
    res["pretrain_epochs"] = pre.history_[-1]["best_epoch"]
    res["auc"]["neural"]["generic"] = auc(y, pre.align_to(own).decision_function(test))

    t0 = time.perf_counter()
    freeze, lr = "none", args.lr
    if args.select and n_train >= 2:
        first, val = own.subset(own.trials == chars[0]), own.subset(np.isin(own.trials, chars[1:n_train]))
        scored = []
        for fz, rate in [(f, r) for f in ("none", "early") for r in args.ft_lrs]:
            d = fine_tune(pre, first, n_epochs=args.ft_epochs, learning_rate=rate, freeze=fz, unlabelled=own,
                          calibration_folds=0, seed=args.seed)
            scored.append((auc(val.targets, d.decision_function(val)), fz, rate))
        _, freeze, lr = max(scored, key=lambda t: t[0])
        res["choice"] = {"freeze": freeze, "learning_rate": lr, "validation": [(round(a, 3), f, r) for a, f, r in scored]}
    for k in args.k:
        if k <= n_train:
            few = own.subset(np.isin(own.trials, chars[:k]))
            d = fine_tune(pre, few, n_epochs=args.ft_epochs, learning_rate=lr, freeze=freeze, unlabelled=own,
                          calibration_folds=0, seed=args.seed)
            res["auc"]["neural"][f"k={k}"] = auc(y, d.decision_function(test))
    res["seconds"]["neural fine-tune"] = time.perf_counter() - t0
    return res


def report(results, conds) -> str:
    lines = [f"{'P':4s} " + " ".join(f"{c + ' nn/cl':>15s}" for c in conds)]
    for r in results:
        a = r["auc"]
        lines.append(f"{r['participant']:4s} " + " ".join(
            f"{a['neural'].get(c, np.nan):7.3f}/{a['classical'].get(c, np.nan):.3f}" for c in conds))
    lines.append("")
    lines.append(f"{'condition':9s} {'neural':>15s} {'classical':>15s} {'neural - classical':>22s}")
    for c in conds:
        rs = [r for r in results if c in r["auc"]["neural"] and c in r["auc"]["classical"]]
        if not rs:
            continue
        mn, hn = _ci([r["auc"]["neural"][c] for r in rs])
        mc, hc = _ci([r["auc"]["classical"][c] for r in rs])
        md, hd = _ci([r["auc"]["neural"][c] - r["auc"]["classical"][c] for r in rs])
        noise = "  noise" if not np.isfinite(hd) or abs(md) <= hd else ""
        lines.append(f"{c:9s} {mn:7.3f}+/-{hn:5.3f} {mc:7.3f}+/-{hc:5.3f} {md:+13.3f}+/-{hd:5.3f}{noise}"
                     + f"  (n={len(rs)})")
    lines.append("(mean AUC on each participant's last 40 % of characters +/- 95 % t half-width over "
                 "participants; 'noise': the paired difference's CI holds 0)")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--participants", nargs="*", help="held-out participants by name (S1 ... s8); default all")
    ap.add_argument("--folds", type=int, default=None, help="only the first N held-out participants")
    ap.add_argument("--k", nargs="+", type=int, default=[1, 2, 3], help="adaptation characters")
    ap.add_argument("--nn-lr", type=float, default=3e-3, help="learning rate of pretraining and own calibration")
    ap.add_argument("--pre-epochs", type=int, default=40, help="pretraining passes at most (early stopping)")
    ap.add_argument("--own-epochs", type=int, default=60, help="own-calibration network passes at most")
    ap.add_argument("--ft-epochs", type=int, default=30, help="fine-tuning passes")
    ap.add_argument("--ft-lrs", type=float, nargs="+", default=list(FT_LRS),
                    help="fine-tuning learning rates to choose among on validation characters")
    ap.add_argument("--lr", type=float, default=1e-3, help="fine-tuning learning rate with --no-select")
    ap.add_argument("--no-select", dest="select", action="store_false",
                    help="fine-tune with freeze none and --lr instead of choosing on validation characters")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    import torch

    from neurospell.config import load_config

    torch.set_num_threads(1)
    root = shared_data_dir()
    if root is None:
        sys.exit("Shared data not found: set NEUROSPELL_SHARED_DATA.")
    t0 = time.perf_counter()
    batch, names = load_participants([str(root / r) for r in DEVELOPMENT], load_config(None).preprocessing)
    ids = [i for i, n in enumerate(names) if not args.participants or n in args.participants][: args.folds]
    print(f"{len(names)} participants, {len(batch)} epochs, {batch.n_channels} channels at {batch.sfreq:g} Hz; "
          f"held out: {', '.join(names[i] for i in ids)}; eegnet vs xdawncov-ts-lr", flush=True)
    results = []
    for p in ids:
        r = held_out(batch, names, p, args)
        results.append(r)
        print(f"  {r['participant']}: " + "; ".join(
            f"{c} nn {r['auc']['neural'][c]:.3f} cl {r['auc']['classical'].get(c, np.nan):.3f}"
            for c in r["auc"]["neural"]) + f"; choice {r['choice']}; pretrain best pass {r['pretrain_epochs']}; "
            + ", ".join(f"{k} {v:.0f} s" for k, v in r["seconds"].items()), flush=True)
    conds = ["own", "generic"] + [f"k={k}" for k in args.k]
    print()
    print(report(results, conds))
    print(f"\nTotal {time.perf_counter() - t0:.0f} s wall, 1 process, 1 torch thread")
    return 0


if __name__ == "__main__":
    sys.exit(main())
