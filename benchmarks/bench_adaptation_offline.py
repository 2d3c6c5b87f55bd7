"""The fair offline counterpart of ``bench_adaptation.py``: does refitting on a participant's
own first characters beat the cross-subject model on characters neither has seen?

For each participant P (leave one participant out: ``--models``, one per ``--data``, trained on
the other participants), a fresh decoder is fitted on P's first k characters with their TRUE
labels (the best case of self-labelling) and both it and the cross-subject model are scored
on P's remaining characters (never seen by either): ROC AUC.

    python benchmarks/bench_adaptation_offline.py --data S1.mat S2.mat S3.mat \
        --models m23.pkl m13.pkl m12.pkl                                      # ~2 min

Figures (gtec_p300, 5 characters x 15 repetitions each, xdawncov-ts-lr, models from
``neurospell train`` on the two other participants)::

    P   k  targets  refit AUC  cross-subject AUC   (on the other 5-k characters)
    S1  1  30       0.939      0.858
    S1  2  60       0.962      0.878
    S1  3  90       0.978      0.905
    S2  1  30       0.905      0.788
    S2  2  60       0.915      0.790
    S2  3  90       0.940      0.798
    S3  1  30       0.822      0.738
    S3  2  60       0.848      0.741
    S3  3  90       0.868      0.717
"""

from __future__ import annotations

import argparse

import numpy as np

from neurospell.config import Config
from neurospell.decoder import load_decoder, make_decoder
from neurospell.session.evaluation import auc, load_epochs, split_by_trials


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--decoder", default="xdawncov-ts-lr")
    p.add_argument("--k", nargs="+", type=int, default=[1, 2, 3])
    args = p.parse_args()
    cfg = Config().preprocessing
    print("P   k  targets  refit AUC  cross-subject AUC")
    for rec, model in zip(args.data, args.models, strict=True):
        b = load_epochs([rec], cfg)
        chars = np.unique(b.trials)
        gen = load_decoder(model, preprocess=cfg)
        for k in args.k:
            if k >= len(chars):
                continue
            train, test = split_by_trials(b, chars[:k])
            ref = make_decoder(args.decoder).fit(train, cfg)
            print(f"{rec.split('/')[-1]:4s}{k:2d}  {int(train.targets.sum()):7d}  "
                  f"{auc(test.targets, ref.decision_function(test)):.3f}      "
                  f"{auc(test.targets, gen.decision_function(test)):.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
