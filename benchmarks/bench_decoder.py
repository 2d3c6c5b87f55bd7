"""Decoder benchmark: CPU training time for one subject's calibration and inference latency.

For every registered decoder: the time to fit on one participant's calibration (g.tec S1,
characters 1-3: 720 epochs, 8 channels, 0.8 s at 250 Hz) with the default parameters, and
the latency of ``decision_function`` for one flash epoch and for a 12-flash sequence (one
6x6 row/column repetition), all on ONE CPU thread and measured as process CPU time (what it costs on an idle
core, robust to other jobs on a shared machine), as ratios against the shrinkage LDA
measured in the same run. Target: <= 2 ms per epoch.

    python benchmarks/bench_decoder.py [--decoders eegnet lda ...] [--repeats 200]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from neurospell.check import shared_data_dir  # noqa: E402
from neurospell.decoder import DECODERS, NEURAL_DECODERS, make_decoder  # noqa: E402
from neurospell.session.evaluation import auc, load_epochs, split_by_trials  # noqa: E402


def _latency(dec, X, repeats):
    """Median CPU time (process clock) and wall time of one call, seconds.

    The CPU time is what the call costs on an idle core; wall time on a shared machine also
    counts the time the process waited for a core.
    """
    dec.decision_function(X)  # warm-up (lazy network construction)
    cpu, wall = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        dec.decision_function(X)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    return float(np.median(cpu)), float(np.median(wall))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--decoders", nargs="*", default=None, help="default: all registered")
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--data", default=None, help="a g.tec .mat file (default shared S1.mat)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    data = args.data
    if data is None:
        root = shared_data_dir()
        if root is None:
            sys.exit("Shared data not found: set NEUROSPELL_SHARED_DATA or pass --data FILE.")
        data = root / "gtec_p300" / "S1.mat"
    batch = load_epochs([data])
    train, test = split_by_trials(batch, np.unique(batch.trials)[:3])
    names = args.decoders or list(DECODERS)
    if "lda" not in names:
        names = ["lda", *names]
    rows = {}
    for name in names:
        params = {"progress": False, "device": "cpu"} if name in NEURAL_DECODERS else {}
        t, c = time.perf_counter(), time.process_time()
        dec = make_decoder(name, **params).fit(train)
        fit_s, fit_wall = time.process_time() - c, time.perf_counter() - t
        one, one_wall = _latency(dec, test.data[:1], args.repeats)
        seq, _ = _latency(dec, test.data[:12], max(20, args.repeats // 4))
        rows[name] = (fit_s, one * 1e3, seq * 1e3, auc(test.targets, dec.decision_function(test)))
        print(f"  {name}: fit {fit_s:.1f} s CPU ({fit_wall:.1f} s wall), {one * 1e3:.3f} ms CPU "
              f"({one_wall * 1e3:.3f} ms wall) per epoch", flush=True)
    base = rows["lda"]
    print(f"\nOne CPU thread, {len(train)} training epochs ({os.path.basename(str(data))}, chars 1-3); "
          f"CPU time of the process (robust to other load); latency = median of {args.repeats} "
          "calls\n")
    print(f"{'decoder':16s} {'fit s':>8s} {'x LDA':>7s} {'ms/epoch':>9s} {'x LDA':>7s} "
          f"{'ms/12 flashes':>14s} {'x LDA':>7s} {'AUC':>6s} {'<=2ms':>6s}")
    for name, (f, e, s, a) in rows.items():
        print(f"{name:16s} {f:8.2f} {f / base[0]:7.1f} {e:9.3f} {e / base[1]:7.1f} {s:14.3f} "
              f"{s / base[2]:7.1f} {a:6.3f} {'yes' if e <= 2.0 else 'NO':>6s}")


if __name__ == "__main__":
    main()
