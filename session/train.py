"""Training entry point, single process or distributed (one code path).

Single process::

    python -m neurospell.session.train DATA... --decoder eegnet --out model.pt

DistributedDataParallel (NCCL on GPUs, Gloo on CPUs; each process takes its share of every
mini-batch and gradients are averaged, so N processes train like one)::

    torchrun --nproc_per_node N -m neurospell.session.train DATA... --decoder eegnet --out model.pt

``DATA`` are recordings (any format the readers support, several pool) or ``.npz`` epoch
files written by :func:`neurospell.session.evaluation.save_batch`. Results go to the log and, with
``--report FILE``, to a JSON file (written by process 0, like the model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from neurospell.check import NeurospellError
from neurospell.config import load_config
from neurospell.decoder import DECODERS, make_decoder
from neurospell.logs import logger, set_log_level

from .evaluation import auc, load_epochs
from .pooling import aligned_scores


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m neurospell.session.train",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("data", nargs="+", help="recordings or .npz epoch files (pooled)")
    p.add_argument("--decoder", default="xdawnts-net",
                   help="registry name (default xdawnts-net)")
    p.add_argument("--out", required=True, help="output model file")
    p.add_argument("--test", nargs="*", default=(), help="held-out recordings/.npz to report AUC on")
    p.add_argument("--config", default=None, help="TOML config ([preprocessing], [decoder])")
    p.add_argument("--max-epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--patience", type=int, default=None)
    p.add_argument("--n-folds", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-align", dest="align", action="store_false", default="auto",
                   help="do not align each pooled recording on its own epochs")
    p.add_argument("--report", default=None, help="write a JSON summary here (process 0)")
    p.add_argument("-v", "--verbose", action="count", default=1)
    return p


def decoder_params(name: str, dcfg, args=None) -> dict:
    """Constructor parameters for registry decoder ``name`` from a ``[decoder]`` config section
    (and command-line overrides); only parameters the decoder accepts are passed."""
    allowed = DECODERS[name]._param_names()
    cand = {"max_epochs": dcfg.max_epochs, "batch_size": dcfg.batch_size,
            "learning_rate": dcfg.learning_rate, "patience": dcfg.patience,
            "validation_fraction": dcfg.validation_fraction, "seed": dcfg.seed,
            "device": dcfg.device, "n_folds": dcfg.n_folds}
    if args is not None:
        for key in ("max_epochs", "batch_size", "learning_rate", "patience", "n_folds", "seed",
                    "device"):
            v = getattr(args, key, None)
            if v is not None:
                cand[key] = v
        if getattr(args, "no_augment", False):
            cand["augment"] = False
        if getattr(args, "no_progress", False):
            cand["progress"] = False
    return {k: v for k, v in cand.items() if k in allowed}


def _init_distributed(device: str):
    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return True


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    set_log_level({0: "WARNING", 1: "INFO"}.get(args.verbose, "DEBUG"))
    import torch

    if os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    try:
        cfg = load_config(args.config)
        params = decoder_params(args.decoder, cfg.decoder, args)
        device = params.get("device", "auto")
        distributed = _init_distributed(device)
        rank = torch.distributed.get_rank() if distributed else 0
        world = torch.distributed.get_world_size() if distributed else 1
        batch = load_epochs(args.data, cfg.preprocessing)
        t0 = time.perf_counter()
        dec = make_decoder(args.decoder, **params).fit(batch, cfg.preprocessing,
                                                       sources=args.data, align=args.align)
        train_s = time.perf_counter() - t0
        report = {"decoder": args.decoder, "world_size": world, "train_seconds": train_s,
                  "n_epochs": len(batch), "heldout_auc": dec.heldout_auc_}
        if args.test:
            test = load_epochs(args.test, cfg.preprocessing, sfreq=batch.sfreq)
            report["test_auc"] = auc(test.targets, aligned_scores(dec, test, args.test)[0])
        if rank == 0:
            dec.save(args.out)
            logger.info("training report: %s", report)
            if args.report:
                with open(args.report, "w") as fid:
                    json.dump(report, fid, indent=2, default=float)
    except NeurospellError as err:
        logger.error("%s", err)
        return 2
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
