"""``neurospell simulate``: real-epoch copy-spelling simulation, with and without the LM."""

from __future__ import annotations

import json
from pathlib import Path

from ..fileio import atomic_path, atomic_write
from . import _args


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="copy-spell phrases with real held-out epochs: accuracy, chars/min, ITR with and without the LM",
        description=(
            "For each recording, calibrate a decoder on its first characters, choose the language-model "
            "weight on the calibration scores, then copy-spell every phrase of --phrases through the "
            "speller engine with a simulated participant answering each flash with the decoder's "
            "score of a real held-out epoch. Prints accuracy (95%% CI over characters), flashes per "
            "character, characters per minute and ITR, without and with the language model."
        ),
    )
    p.add_argument("--data", nargs="+", required=True, metavar="REC",
                   help="labelled recordings (e.g. the g.tec S1.mat S2.mat S3.mat), one participant each, or "
                   "session folders (each calibration and copy-spelling run a recording)")
    p.add_argument("--decoder", default=None, help="decoder registry name (default: [decoder] name)")
    p.add_argument("--phrases", required=True, metavar="FILE", help="text file, one phrase per line")
    p.add_argument("--lm", default=None, metavar="NAME",
                   help="language model (default: [lm] name; 'uniform' for none)")
    p.add_argument("--plot", default=None, metavar="PNG", help="accuracy and ITR plot")
    p.add_argument("--n-calibration", type=int, default=3, metavar="N",
                   help="characters of each recording the decoder is calibrated on (default 3)")
    p.add_argument("--max-phrases", type=int, default=None, metavar="N", help="use the first N phrases")
    p.add_argument("--no-dynamic-stopping", action="store_true",
                   help="flash [speller] max_repetitions repetitions for every character")
    p.add_argument("--strategy", default=None, choices=("row-column", "checkerboard", "adaptive"),
                   help="flash groups (default: [speller] flash_strategy): rows and columns, the checkerboard "
                        "paradigm, or groups chosen from the posterior")
    p.add_argument("--min-flashes", type=int, default=None, metavar="N",
                   help="flashes before the stopping rule may fire (default: [speller] min_flashes)")
    p.add_argument("--word-cells", type=int, default=None, metavar="N",
                   help="spell on the live word grid (A-Z, space, backspace, punctuation) with N word cells "
                        "(0: none): the participant selects a word cell when it offers the word, corrects "
                        "with backspace; adds flashes per character of text, effective chars/min and "
                        "keystroke savings (default: the [speller] grid, one selection per character)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, metavar="FILE", help="write the figures as JSON")
    p.set_defaults(func=_simulate)


def _simulate(args, config) -> int:
    from neurospell.check import NeurospellError, check_fname, check_option
    from neurospell.decoder import DECODERS
    from neurospell.lm_fusion import make_model, read_lines
    from neurospell.session.copyspell import simulate_copy_spelling

    name = args.decoder or config.decoder.name
    check_option("--decoder", name, list(DECODERS))
    data = _args.expand_recordings(args.data)  # session folders: their labelled runs
    for f in data:
        check_fname(f, "--data")
    if args.n_calibration < 1:
        raise NeurospellError(f"--n-calibration must be >= 1, got {args.n_calibration}.")
    if args.max_phrases is not None and args.max_phrases < 1:
        raise NeurospellError(f"--max-phrases must be >= 1, got {args.max_phrases}.")
    if args.plot:
        check_fname(args.plot, "--plot", must_exist=False)
    config = _with_strategy(config, args.strategy, args.min_flashes)
    if args.word_cells is not None:
        import dataclasses

        from neurospell.types import word_grid_symbols

        if not 0 <= args.word_cells <= 8:
            raise NeurospellError(f"--word-cells must be in [0, 8] (a 6x6 grid holds letters, space, backspace "
                                  f"and at most 8 word cells), got {args.word_cells}.")
        n = 36 - args.word_cells
        config = dataclasses.replace(config, speller=dataclasses.replace(
            config.speller, symbols=word_grid_symbols(n), n_rows=6, n_cols=6, word_cells=args.word_cells))
    phrases, dropped = read_lines(args.phrases, tuple(config.speller.symbols))
    phrases = phrases[: args.max_phrases]
    lm_name = args.lm or config.lm.name
    lm = None if lm_name == "uniform" else make_model(lm_name, config.lm)
    print(f"{len(phrases)} phrases ({sum(map(len, phrases))} characters) from {args.phrases}"
          + (f" ({dropped} characters off the grid removed)" if dropped else "")
          + f"; decoder {name}; language model {lm_name}; flash groups {config.speller.flash_strategy}"
          + ("" if config.speller.min_flashes is None else f", min_flashes {config.speller.min_flashes}"),
          flush=True)
    rows = simulate_copy_spelling(
        [Path(f) for f in data], name, phrases, config, lm=lm, lm_name=lm_name,
        n_calibration=args.n_calibration, dynamic_stopping=not args.no_dynamic_stopping,
        seed=args.seed, on_step=lambda s: print(f"- {s}", flush=True))
    print()
    header = (f"{'recording':<12}{'LM':<12}{'alpha':>6}{'accuracy':>9}{'95% CI':>15}{'CER':>7}"
              f"{'flashes/char':>13}{'chars/min':>10}{'ITR bits/min':>13}")
    print(header)
    print("-" * len(header))
    for r in rows:
        lo, hi = r.ci95
        alpha = "-" if r.recording == "all" or r.lm == "none" else f"{r.alpha:g}"
        print(f"{r.recording:<12}{r.lm:<12}{alpha:>6}{r.accuracy:>9.3f}{f'[{lo:.2f}, {hi:.2f}]':>15}"
              f"{r.cer:>7.3f}{r.flashes_per_char:>13.1f}{r.chars_per_minute:>10.2f}{r.itr:>13.1f}")
    if args.word_cells is not None:  # per character of the intended text (95 % CI: bootstrap over phrases)
        print(f"\n{args.word_cells} word cells: {'recording':<12}{'LM':<12}{'flashes/text char':>26}"
              f"{'effective chars/min':>26}{'keystroke savings':>26}")
        for r in rows:
            cells = [f"{v:.2f} [{lo:.2f}, {hi:.2f}]" if v is not None and lo is not None else
                     (f"{v:.2f}" if v is not None else "-") for v, (lo, hi) in
                     ((getattr(r, k), r.phrase_ci(k, seed=args.seed)) for k in
                      ("flashes_per_text_char", "effective_cpm", "keystroke_savings"))]
            print(f"{'':<14}{r.recording:<12}{r.lm:<12}{cells[0]:>26}{cells[1]:>26}{cells[2]:>26}")
    if args.json:
        with atomic_write(args.json) as fid:  # complete or absent, Ctrl-C included
            json.dump({"rows": [r.summary() for r in rows], "phrases": phrases, "decoder": name,
                       "lm": lm_name, "seed": args.seed,
                       "flash_strategy": config.speller.flash_strategy, "min_flashes": config.speller.min_flashes}, fid, indent=1)
        print(f"Wrote {args.json}")
    if args.plot:
        _plot(args.plot, rows, f"copy-spelling, {name}, real held-out epochs")
        print(f"Wrote {args.plot}")
    return 0


def _with_strategy(config, strategy, min_flashes):
    """``config`` with ``--strategy`` / ``--min-flashes`` in ``[speller]`` (validated there)."""
    import dataclasses

    from neurospell.check import NeurospellError

    if min_flashes is not None and min_flashes < 0:
        raise NeurospellError(f"--min-flashes must be >= 0, got {min_flashes}.")
    over = {k: v for k, v in (("flash_strategy", strategy), ("min_flashes", min_flashes)) if v is not None}
    if not over:
        return config
    return dataclasses.replace(config, speller=dataclasses.replace(config.speller, **over))


def _plot(path, rows, title) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    recs = list(dict.fromkeys(r.recording for r in rows))
    lms = list(dict.fromkeys(r.lm for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    w = 0.8 / len(lms)
    x = np.arange(len(recs))
    for j, lm in enumerate(lms):
        sel = [next(r for r in rows if r.recording == rec and r.lm == lm) for rec in recs]
        acc = np.array([r.accuracy for r in sel])
        ci = np.array([r.ci95 for r in sel])
        axes[0].bar(x + j * w, acc, w, yerr=[acc - ci[:, 0], ci[:, 1] - acc], capsize=3, label=lm)
        axes[1].bar(x + j * w, [r.itr for r in sel], w, label=lm)
    for ax, ylab in zip(axes, ("character accuracy (95% CI)", "ITR (bits/min)"), strict=True):
        ax.set_xticks(x + w * (len(lms) - 1) / 2, recs, fontsize=8)
        ax.set_ylabel(ylab)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8, title="LM")
    axes[0].set_ylim(0, 1.05)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
