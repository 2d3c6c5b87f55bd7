"""Copy-spelling of held-out English phrases with the real-epoch speller simulator, on the
g.tec P300 recordings S1-S3: character error rate, characters per minute, ITR and flashes
per character for several language-model priors, with and without dynamic stopping.

Per subject: the decoder is calibrated on characters 1-3; the simulated participant answers
flashes with the decoder's scores of real epochs of characters 4-5 (never seen in training).
Everything tuned is tuned on calibration data only: the LM weight alpha (on characters 1-2 ->
scores of character 3, spelling phrases of the corpus' *validation* split), and the fixed
number of repetitions of the no-stopping condition (smallest giving >= 90 % simulated
accuracy without LM on the same calibration scores). Test phrases come from the corpus'
*test* split. Every condition uses the same random seeds.

    python benchmarks/evaluate_lm_speller.py [--phrases 12] [--decoder xdawncov-ts-lr]
        [--lms uniform,ngram,transformer,mixture] [--json OUT] [--md OUT] [--png OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phrases", type=int, default=12, help="test phrases per subject")
    ap.add_argument("--max-len", type=int, default=30, help="longest phrase (characters)")
    ap.add_argument("--decoder", default="xdawncov-ts-lr")
    ap.add_argument("--lms", default="uniform,ngram,transformer,mixture")
    ap.add_argument("--subjects", default="S1,S2,S3")
    ap.add_argument("--threshold", type=float, default=None, help="stop threshold (default [speller])")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None)
    ap.add_argument("--png", default=None)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from neurospell.check import shared_data_dir
    from neurospell.config import Config
    from neurospell.decoder import make_decoder
    from neurospell.evaluation import accuracy_curve, load_epochs, split_by_trials
    from neurospell.lm_fusion import make_model
    from neurospell.lm_fusion.text import heldout_lines
    from neurospell.simulation import SimulatedParticipant
    from neurospell.speller import SelectionLoop, copy_spell
    from neurospell.spelling import calibrate_alpha, itr_bits, levenshtein

    cfg = Config()
    layout = cfg.speller.layout()
    symbols = layout.symbols
    threshold = args.threshold if args.threshold is not None else cfg.speller.stop_threshold
    data = shared_data_dir()
    if data is None:
        print("shared data not found (../shared/data or $NEUROSPELL_SHARED_DATA)", file=sys.stderr)
        return 2

    def phrases(split, n, seed):
        lines = [t for t in heldout_lines(split, alphabet=symbols) if 8 <= len(t) <= args.max_len]
        rng = np.random.default_rng(seed)
        return [lines[i] for i in rng.choice(len(lines), n, replace=False)]

    test_phrases = phrases("test", args.phrases, args.seed)
    calib_phrases = phrases("valid", 8, args.seed + 1)
    lm_names = args.lms.split(",")
    t_load = time.perf_counter()
    lms = {n: (None if n == "uniform" else make_model(n, cfg.lm)) for n in lm_names}
    print(f"models loaded in {time.perf_counter() - t_load:.1f} s; {len(test_phrases)} test phrases "
          f"({sum(map(len, test_phrases))} characters) per subject")

    rows = []
    for subj in args.subjects.split(","):
        t0 = time.perf_counter()
        batch = load_epochs(data / "gtec_p300" / f"{subj}.mat", cfg.preprocessing)
        trials = np.unique(batch.trials)
        train, test = split_by_trials(batch, trials[:3])
        dec = make_decoder(args.decoder).fit(train, cfg.preprocessing)
        s_test = dec.decision_function(test)
        y_test = np.asarray(test.targets, bool)
        # calibration-only participant: decoder on chars 1-2, scores of char 3
        c12, c3 = split_by_trials(train, trials[:2])
        dec_c = make_decoder(args.decoder).fit(c12, cfg.preprocessing)
        s_c3 = dec_c.decision_function(c3)
        y_c3 = np.asarray(c3.targets, bool)
        acc = accuracy_curve(s_c3, y_c3, dec.score_model_, layout=layout,
                             max_repetitions=cfg.speller.max_repetitions, n_selections=300, seed=args.seed)
        fixed_reps = int(np.argmax(acc >= 0.9) + 1) if np.any(acc >= 0.9) else cfg.speller.max_repetitions
        from neurospell.evaluation import auc

        print(f"{subj}: test AUC {auc(y_test, s_test):.3f}, calibration accuracy by repetition "
              f"{np.round(acc[:5], 2).tolist()} -> fixed {fixed_reps} repetitions")
        for name in lm_names:
            lm = lms[name]
            alpha = 0.0
            if lm is not None:  # choose alpha on calibration phrases and calibration scores
                alpha, _ = calibrate_alpha(lm, layout, dec.score_model_, s_c3[y_c3], s_c3[~y_c3],
                                           phrases=calib_phrases, floor=cfg.lm.floor, seed=args.seed + 7)
            for ds in (True, False):
                dec_count = 0
                flashes, correct, n_sel, errs, errs_corr, n_chars, secs = 0, 0, 0, 0, 0, 0, 0.0
                for k, ph in enumerate(test_phrases):
                    seed = [args.seed, k, int("".join(c for c in subj if c.isdigit()) or 0)]
                    who = SimulatedParticipant(s_test[y_test], s_test[~y_test], np.random.default_rng(seed))
                    loop = SelectionLoop(
                        layout, dec.score_model_, lm, alpha=alpha, floor=cfg.lm.floor,
                        stop_threshold=threshold if ds else 1.0, min_repetitions=1,
                        max_repetitions=cfg.speller.max_repetitions if ds else fixed_reps,
                        beam_width=cfg.lm.beam_width if lm is not None else 0,
                    )
                    outs = copy_spell(loop, ph, who.respond_flashes, np.random.default_rng(seed + [1]))
                    dec_count += len(outs)
                    flashes += sum(o.n_flashes for o in outs)
                    correct += sum(o.decision.symbol == s for o, s in zip(outs, ph, strict=True))
                    n_sel += len(outs)
                    errs += levenshtein(loop.text, ph)
                    errs_corr += levenshtein(loop.candidates.best.text, ph)
                    n_chars += len(ph)
                    secs += sum(o.n_flashes for o in outs) * cfg.speller.soa + len(outs) * cfg.speller.inter_trial
                accuracy = correct / n_sel
                cpm = 60 * n_sel / secs
                row = dict(subject=subj, lm=name, dynamic_stopping=ds, alpha=alpha,
                           repetitions=("DS" if ds else fixed_reps), accuracy=accuracy,
                           cer=errs / n_chars, cer_corrected=errs_corr / n_chars,
                           flashes_per_char=flashes / n_sel, chars_per_min=cpm,
                           itr=itr_bits(len(symbols), accuracy) * cpm)
                rows.append(row)
                print(f"  {name:12s} DS={'on ' if ds else 'off'} alpha={alpha:.1f} acc={accuracy:.3f} "
                      f"CER={row['cer']:.3f} (beam {row['cer_corrected']:.3f}) flashes/char={row['flashes_per_char']:.1f} "
                      f"cpm={cpm:.2f} ITR={row['itr']:.1f} bits/min")
        print(f"  ({time.perf_counter() - t0:.0f} s)")

    # pooled over subjects
    pooled = []
    for name in lm_names:
        for ds in (True, False):
            rs = [r for r in rows if r["lm"] == name and r["dynamic_stopping"] == ds]
            pooled.append(dict(lm=name, dynamic_stopping=ds,
                               **{k: float(np.mean([r[k] for r in rs])) for k in
                                  ("accuracy", "cer", "cer_corrected", "flashes_per_char", "chars_per_min", "itr")}))
    base = next(p for p in pooled if p["lm"] == "uniform" and not p["dynamic_stopping"])
    base_ds = next(p for p in pooled if p["lm"] == "uniform" and p["dynamic_stopping"])
    lines = ["| prior | dynamic stopping | accuracy | CER | CER (beam) | flashes/char | chars/min | ITR bits/min | flashes vs no LM fixed | vs no LM + DS |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for p in pooled:
        lines.append(
            f"| {p['lm']} | {'yes' if p['dynamic_stopping'] else 'no (fixed)'} | {p['accuracy']:.3f} | {p['cer']:.3f} | "
            f"{p['cer_corrected']:.3f} | {p['flashes_per_char']:.1f} | {p['chars_per_min']:.2f} | {p['itr']:.1f} | "
            f"{100 * (p['flashes_per_char'] / base['flashes_per_char'] - 1):+.0f}% | "
            f"{100 * (p['flashes_per_char'] / base_ds['flashes_per_char'] - 1):+.0f}% |")
    table = "\n".join(lines)
    print("\nMean over subjects:\n" + table)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fid:
            json.dump({"rows": rows, "pooled": pooled, "test_phrases": test_phrases,
                       "calibration_phrases": calib_phrases, "args": vars(args)}, fid, indent=1)
    if args.md:
        with open(args.md, "w") as fid:
            fid.write(table + "\n")
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ds, marker in ((True, "o"), (False, "s")):
            ps = [p for p in pooled if p["dynamic_stopping"] == ds]
            axes[0].scatter([p["flashes_per_char"] for p in ps], [p["accuracy"] for p in ps], marker=marker)
            for p in ps:
                axes[0].annotate(f"{p['lm']}{' DS' if ds else ''}", (p["flashes_per_char"], p["accuracy"]), fontsize=8)
        axes[0].set_xlabel("flashes per character")
        axes[0].set_ylabel("character accuracy")
        x = np.arange(len(pooled))
        axes[1].bar(x, [p["itr"] for p in pooled], color=["C0" if p["dynamic_stopping"] else "C7" for p in pooled])
        axes[1].set_xticks(x, [f"{p['lm']}\n{'DS' if p['dynamic_stopping'] else 'fixed'}" for p in pooled], fontsize=7)
        axes[1].set_ylabel("ITR (bits/min)")
        fig.suptitle("Copy-spelling, g.tec S1-S3 (mean), real-epoch simulation")
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
