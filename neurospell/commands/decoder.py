"""Command-line subcommands: ``neurospell train`` and ``neurospell evaluate`` (decoders)."""

from __future__ import annotations

import sys
from pathlib import Path

from . import _args, _runtime


def register(subparsers) -> None:
    """Add this module's subcommands to the ``neurospell`` parser."""
    p = subparsers.add_parser(
        "train",
        help="train a decoder on calibration recordings and save it with its provenance",
        description="Train a decoder on labelled recordings (several pool), print its "
        "held-out AUC (outer character folds: characters the scoring model never saw) and "
        "write the model.",
    )
    p.add_argument("recordings", nargs="+", metavar="RECORDING", type=_args.recording_file,
                   help="calibration recordings (any supported format, or .npz epoch files) or session folders "
                   "(their calibration and copy-spelling runs)")
    p.add_argument("--decoder", default=None,
                   help="registry name (default: [decoder] name of the config): eegnet, eeginception, xdawnts-net, "
                   "lda, xdawn-lda or xdawncov-ts-lr")
    p.add_argument("--out", required=True, metavar="MODEL", help="output model file (e.g. model.pt)")
    p.add_argument("--max-epochs", type=_args.number(int, min=1), default=None, help="neural: max training epochs")
    p.add_argument("--n-folds", type=_args.number(int, min=1), default=None, help="neural: outer character folds, one network each (the ensemble is deployed; "
                   "the number of characters = leave one character out)")
    p.add_argument("--seed", type=_args.number(int, min=0), default=None)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--overwrite", action="store_true", help="replace MODEL if it exists")
    p.add_argument("--no-align", dest="align", action="store_false", default="auto",
                   help="do not align each recording on its own epochs (by default several recordings are aligned: "
                   "Riemannian re-centering for xdawncov-ts-lr, Euclidean alignment for the others; no labels used)")
    p.add_argument("--align", dest="align", action="store_const", const=True, default="auto",
                   help="align even a single recording (the model then aligns every recording it scores)")
    p.set_defaults(func=_train, check=_args.check_train)

    e = subparsers.add_parser(
        "evaluate",
        help="AUC and simulated accuracy vs repetitions of a saved decoder on recordings",
        description="Score held-out recordings with a saved decoder: ROC AUC and the character "
        "accuracy of a simulated 6x6 row/column speller after 1..N repetitions (tables; a PNG with --plot).",
    )
    e.add_argument("model", metavar="MODEL", type=_args.model_file,
                   help="a model written by `neurospell train`, or `generic` (the cross-subject model shipped "
                   "with the package)")
    e.add_argument("recordings", nargs="+", metavar="RECORDING", type=_args.recording_file, help="held-out labelled recordings or session folders (their calibration and copy-spelling runs)")
    e.add_argument("--plot", default=None, metavar="PNG",
                   help="also save the accuracy-vs-repetitions plot and the reliability diagram to this PNG")
    e.add_argument("--max-repetitions", type=_args.number(int, min=1), default=None,
                   help="repetitions of the simulated curve (default 15); at most what the recordings hold per character")
    e.add_argument("--n-selections", type=_args.number(int, min=1), default=500, help="simulated selections")
    e.add_argument("--seed", type=_args.number(int, min=0), default=0)
    e.set_defaults(func=_evaluate, check=_args.check_evaluate)


def _train(args, config) -> int:
    from neurospell.check import NeurospellError, check_fname, check_option
    from neurospell.decoder import DECODERS, make_decoder
    from neurospell.session.evaluation import load_epochs
    from neurospell.session.train import decoder_params

    name = args.decoder or config.decoder.name
    check_option("--decoder", name, list(DECODERS))
    out = check_fname(args.out, "--out", must_exist=False, overwrite=args.overwrite)
    args.recordings = _args.expand_recordings(args.recordings)  # session folders: their labelled runs
    batch = load_epochs(args.recordings, config.preprocessing)
    if batch.targets is None:
        raise NeurospellError(
            "The recordings carry no target labels (flash/<code>/target markers); training "
            "needs calibration recordings."
        )
    n_chars = len(set(batch.trials.tolist())) if batch.trials is not None else None
    if args.n_folds is not None and n_chars is not None and args.n_folds > n_chars:
        raise NeurospellError(
            f"--n-folds: the recordings hold {n_chars} characters, and each fold holds out at least one, so at "
            f"most {n_chars} folds (leave one character out); got {args.n_folds}. Pass --n-folds {n_chars} or fewer.")
    params = decoder_params(name, config.decoder, args)
    dec = make_decoder(name, **params)
    print(f"Training {name} on {len(batch)} epochs ({int(batch.targets.sum())} targets, "
          f"{len(set(batch.trials.tolist()))} characters, {batch.n_channels} channels at "
          f"{batch.sfreq:g} Hz)...", flush=True)
    with _runtime.heartbeat(f"training {name}"):  # neural decoders also show a bar per epoch
        dec.fit(batch, config.preprocessing, sources=args.recordings, align=args.align)
    if dec.aligns:
        n_rec = dec.provenance_["alignment"]["n_recordings"]
        print(f"Aligned each of the {n_rec} recording(s) on its own epochs ({dec.alignment_method} "
              "alignment, no labels used); the model aligns every recording it scores the same way "
              "(--no-align: off).")
    cal = dec.provenance_["training"]["calibration"]
    print(f"Held-out AUC (outer folds, {len(cal['folds'])} folds: characters the scoring model "
          f"never saw, for training or early stopping): {dec.heldout_auc_:.3f}")
    sm = dec.score_model_
    print(f"Score calibration: {sm.kind}, d' = {sm.separation():.2f}")
    from neurospell.session.quality import calibration_warning

    weak = calibration_warning(dec.heldout_auc_, int(batch.targets.sum()), int((~batch.targets).sum()),
                               what="held-out AUC")
    if weak:
        print(f"WARNING: {weak}")
    if config.lm.name != "uniform":
        from neurospell.lm_fusion import make_model
        from neurospell.session.calibration import calibrate_model_alpha

        alpha = calibrate_model_alpha(dec, make_model(config.lm.name, config.lm), config,
                                      lm_name=config.lm.name, seed=args.seed or 0)
        print(f"Language-model weight alpha = {alpha:g} for {config.lm.name!r}, chosen on the "
              "held-out calibration scores (stored with the model; [lm] alpha overrides it)")
    dec.save(out)
    print(f"Wrote {out}")
    return 0


def _evaluate(args, config) -> int:
    import numpy as np

    from neurospell.check import NeurospellError, check_fname
    from neurospell.decoder import load_decoder, training_overlap
    from neurospell.logs import logger
    from neurospell.session.evaluation import (
        accuracy_curve,
        auc,
        load_epochs,
        recorded_repetitions,
        reliability,
    )

    max_rep = 15 if args.max_repetitions is None else args.max_repetitions
    if max_rep < 1 or args.n_selections < 1:
        raise NeurospellError(
            f"--max-repetitions and --n-selections must be >= 1, got {args.max_repetitions} "
            f"and {args.n_selections}."
        )
    plot = Path(args.plot) if args.plot else None
    if plot is not None:
        check_fname(plot, "--plot", must_exist=False)
    dec = load_decoder(args.model, preprocess=config.preprocessing)
    args.recordings = _args.expand_recordings(args.recordings)  # session folders: their labelled runs
    seen = training_overlap(dec, args.recordings)
    if seen:
        msg = (f"{', '.join(str(p) for p in seen)} {'was' if len(seen) == 1 else 'were'} used "
               f"to train {args.model}: the AUC and accuracy below are in-sample (optimistic). "
               "Evaluate on recordings the model was not trained on.")
        logger.warning(msg)
    from neurospell.session.pooling import aligned_scores, conform_batch

    prov = dec.provenance_
    batch = load_epochs(args.recordings, config.preprocessing, sfreq=prov["sfreq"])
    batch = conform_batch(batch, prov["ch_names"], prov["sfreq"], prov["n_times"],
                          name=", ".join(Path(p).name for p in args.recordings))
    if batch.targets is None or batch.targets.all() or not batch.targets.any():
        raise NeurospellError("evaluate needs recordings with both target and non-target flashes.")
    have = recorded_repetitions(batch)
    if args.max_repetitions is not None and have is not None and args.max_repetitions > have:
        raise NeurospellError(
            f"--max-repetitions: the recordings hold at most {have} repetitions per character (target flashes "
            f"of a character / 2 per row/column repetition), got {args.max_repetitions}; a longer curve would "
            f"extrapolate from flashes never recorded. Pass --max-repetitions {have} or fewer.")
    dec.check_compatible(batch)
    scores, notes = aligned_scores(dec, batch, args.recordings)
    for note in notes:
        print(note)
    y = np.asarray(batch.targets, bool)
    a = auc(y, scores)
    with _runtime.heartbeat(f"simulating {args.n_selections} selections x {max_rep} repetitions"):
        acc = accuracy_curve(scores, y, dec.score_model_, max_repetitions=max_rep,
                             n_selections=args.n_selections, seed=args.seed)
    print(f"Model: {args.model} ({dec.provenance_['decoder']}); {len(batch)} epochs, "
          f"{int(y.sum())} targets")
    print(f"AUC: {a:.3f}" + (" (IN-SAMPLE: recordings used for training, see the warning)"
                             if seen else ""))
    from neurospell.session.quality import calibration_warning

    weak = None if seen else calibration_warning(a, int(y.sum()), int((~y).sum()), what="AUC")
    if weak:
        print(f"WARNING: {weak}")
    print("Simulated 6x6 row/column speller, character accuracy "
          f"({args.n_selections} selections):")
    print("repetitions  accuracy")
    for r, v in enumerate(acc, 1):
        print(f"{r:11d}  {v:8.3f}")
    with _runtime.heartbeat(f"simulating {args.n_selections} selections with dynamic stopping"):
        rel = reliability(scores, y, dec.score_model_, config, n_selections=args.n_selections,
                          seed=args.seed)
    print(f"Reliability of the decided symbols' posteriors (dynamic stopping at "
          f"{config.speller.stop_threshold:g}, no LM, {args.n_selections} selections; "
          f"ECE {rel['ece']:.3f}):")
    print("posterior bin  decisions  mean posterior  accuracy")
    for lo, hi, n, mp, ac in zip(rel["edges"][:-1], rel["edges"][1:], rel["count"],
                                 rel["mean_posterior"], rel["accuracy"], strict=True):
        if n:
            print(f"  {lo:.1f}-{hi:.1f}    {n:9d}  {mp:14.3f}  {ac:8.3f}")
    from neurospell.session.quality import calibration_error_warning

    untrusted = calibration_error_warning(rel["ece"])
    if untrusted:
        print(f"WARNING: {untrusted} Here the decisions' mean posterior is {np.mean(rel['posterior']):.2f}, their "
              f"accuracy {np.mean(rel['correct']):.2f}.")
    if plot is not None:
        _plot_accuracy(plot, {dec.provenance_["decoder"]: acc}, title=f"AUC {a:.3f}", reliability=rel)
        print(f"Wrote {plot}")
    sys.stdout.flush()
    return 0


def _plot_accuracy(path, curves: dict, title: str = "", reliability: dict | None = None) -> None:
    """Accuracy-vs-repetitions curves (one per decoder) to a PNG, and a reliability diagram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if reliability is not None:
        fig, (ax, rax) = plt.subplots(1, 2, figsize=(9, 3.5))
        ok = reliability["count"] > 0
        rax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":", label="perfect calibration")
        rax.plot(reliability["mean_posterior"][ok], reliability["accuracy"][ok], marker="o", label="decisions")
        rax.set(xlabel="mean posterior of the decided symbol", ylabel="accuracy", xlim=(0, 1),
                ylim=(0, 1.02), title=f"reliability (ECE {reliability['ece']:.3f})")
        rax.grid(alpha=0.3)
        rax.legend(fontsize=8)
    else:
        fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, acc in curves.items():
        ax.plot(range(1, len(acc) + 1), acc, marker="o", ms=3, label=name)
    ax.axhline(1 / 36, color="grey", lw=0.8, ls=":", label="chance (1/36)")
    ax.set(xlabel="repetitions", ylabel="character accuracy", ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
