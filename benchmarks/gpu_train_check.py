"""GPU check: train the neural decoders with CUDA and automatic mixed precision.

For every neural decoder and each g.tec participant (within subject: characters 1-3 train,
4-5 test) it reports the seconds per training epoch (pass over the data), the number of
epochs run, and the test AUC, next to the same run's shrinkage LDA. Use it on a machine
with a GPU::

    python benchmarks/gpu_train_check.py                 # CUDA + AMP (fails without CUDA)
    python benchmarks/gpu_train_check.py --cpu --max-epochs 3   # smoke test on a CPU

Multi-GPU: the same training runs under DistributedDataParallel with
``torchrun --nproc_per_node N -m neurospell.session.train ... --device cuda``.
"""

import argparse
import sys
import time

import numpy as np
import torch

from neurospell.check import shared_data_dir
from neurospell.decoder import NEURAL_DECODERS, make_decoder
from neurospell.session.evaluation import auc, load_epochs, split_by_trials


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cpu", action="store_true", help="run on the CPU (smoke test)")
    p.add_argument("--max-epochs", type=int, default=None, help="default: the decoder's")
    p.add_argument("--no-amp", action="store_true")
    p.add_argument("--subjects", nargs="*", default=["S1", "S2", "S3"])
    p.add_argument("--decoders", nargs="*", default=list(NEURAL_DECODERS))
    args = p.parse_args(argv)
    if not args.cpu and not torch.cuda.is_available():
        sys.exit("CUDA is not available here; run with --cpu for a smoke test.")
    if args.cpu:
        torch.set_num_threads(1)
    root = shared_data_dir()
    if root is None:
        sys.exit("Shared data not found: set NEUROSPELL_SHARED_DATA.")
    device = "cpu" if args.cpu else "cuda"
    print(f"torch {torch.__version__}, device {device}"
          + ("" if args.cpu else f" ({torch.cuda.get_device_name(0)})")
          + f", AMP {'off' if args.no_amp or args.cpu else 'on'}")
    print(f"{'subject':8s} {'decoder':14s} {'s/epoch':>8s} {'epochs':>7s} {'fit s':>7s} "
          f"{'AUC':>6s} {'LDA AUC':>8s}")
    for s in args.subjects:
        b = load_epochs([root / "gtec_p300" / f"{s}.mat"])
        train, test = split_by_trials(b, np.unique(b.trials)[:3])
        lda = make_decoder("lda").fit(train)
        lda_auc = auc(test.targets, lda.decision_function(test))
        for name in args.decoders:
            params = {"device": device, "amp": not args.no_amp, "progress": False}
            if args.max_epochs:
                params["max_epochs"] = args.max_epochs
            t = time.perf_counter()
            dec = make_decoder(name, **params).fit(train)
            fit_s = time.perf_counter() - t
            h = dec.history_
            spe = sum(x["seconds"] for x in h) / sum(x["epochs"] for x in h)
            a = auc(test.targets, dec.decision_function(test))
            print(f"{s:8s} {name:14s} {spe:8.3f} {sum(x['epochs'] for x in h):7d} "
                  f"{fit_s:7.1f} {a:6.3f} {lda_auc:8.3f}", flush=True)
            want_amp = device == "cuda" and not args.no_amp
            if not h[0]["device"].startswith(device) or h[0]["amp"] != want_amp:
                sys.exit(f"training ran on {h[0]['device']} with AMP {h[0]['amp']}, expected "
                         f"{device} with AMP {want_amp}")


if __name__ == "__main__":
    main()
