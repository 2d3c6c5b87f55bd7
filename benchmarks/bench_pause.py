"""The pause after a decision (``[speller] inter_trial``) in the live closed loop, real EEG.

For each recording (one subject each) the real-epoch participant process
(``simulate-participant --data``) is calibrated on once (3 characters x 15 repetitions at the
recording's flash interval, as ``benchmarks/bench_live.py`` does); then every phrase is
copy-spelled with each pause, the phrases in turn and the pauses in turn within a phrase,
each with a fresh participant process intending the phrase and the **same seed for every
pause** (a paired comparison: the pause is the only difference). The default config otherwise
(the default language model, stopping rule and decoder).

Reported per subject and pause: character accuracy (Wilson 95 % CI over characters), flashes
per character, characters per minute with a 95 % bootstrap interval over characters (each
character's time: from the previous decision, or from the start of the run, to its
decision), and the pooled figures over subjects.

    nice -n 5 python benchmarks/bench_pause.py --data ../shared/data/gtec_p300/S1.mat \
        ../shared/data/gtec_p300/S2.mat ../shared/data/gtec_p300/S3.mat --pauses 2.0 1.0 0.5 \
        --json pause.json
    python benchmarks/bench_pause.py --analyse pause.json [pause2.json ...]   # saved runs, pooled
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataclasses  # noqa: E402

import numpy as np  # noqa: E402
from bench_live import run_session  # noqa: E402

from neurospell.config import load_config  # noqa: E402
from neurospell.lm_fusion import make_model  # noqa: E402
from neurospell.logs import set_log_level  # noqa: E402
from neurospell.preprocessing import load_recording  # noqa: E402
from neurospell.session.copyspell import wilson_interval  # noqa: E402
from neurospell.session.simulator import RealEpochGenerator  # noqa: E402


def char_times(result) -> list[float]:
    """Seconds each selection of a run took: from the previous decision (the first: from the
    start of the run, ``duration`` minus the span of the decisions) to its decision."""
    ts = [d.t for d in result.decisions]
    if not ts:
        return []
    first = max(0.0, result.duration - (ts[-1] - ts[0]))
    return [first] + list(np.diff(ts))


def figures(runs, seed=0) -> dict:
    """Accuracy, flashes/char and chars/min (95 % bootstrap CI over characters) of ``runs``."""
    decisions = [d for r in runs for d in r.decisions]
    times = np.array([t for r in runs for t in char_times(r)])
    n = len(decisions)
    hits = sum(bool(d.correct) for d in decisions)
    rng = np.random.default_rng(seed)
    boot = [60.0 / times[rng.integers(0, n, n)].mean() for _ in range(2000)] if n else [np.nan]
    lo, hi = wilson_interval(hits, n) if n else (np.nan, np.nan)
    fl = np.array([d.n_flashes for d in decisions], dtype=float)
    return {"n": n, "accuracy": hits / n if n else np.nan, "accuracy_ci95": [lo, hi],
            "flashes_per_char": float(fl.mean()) if n else np.nan,
            "chars_per_min": 60.0 * n / float(times.sum()) if n else np.nan,
            "chars_per_min_ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
            "seconds_per_char": times.tolist(), "correct": [bool(d.correct) for d in decisions],
            "texts": [r.text for r in runs]}


def paired(out, a: str, b: str, seed=0) -> dict:
    """Pause ``b`` against pause ``a`` over every character of every subject, paired (same
    subject, phrase and seed; copy spelling without backspace makes as many selections as the
    phrase has characters): the change of chars/min and of accuracy, 95 % bootstrap intervals
    over characters."""
    ta, tb, ca, cb = [], [], [], []
    for sub in out["subjects"].values():
        fa, fb = sub["pauses"][a], sub["pauses"][b]
        if len(fa["seconds_per_char"]) != len(fb["seconds_per_char"]):
            continue
        ta += fa["seconds_per_char"]
        tb += fb["seconds_per_char"]
        ca += fa["correct"]
        cb += fb["correct"]
    ta, tb, ca, cb = map(np.asarray, (ta, tb, ca, cb))
    n = ta.size
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, (4000, n))
    d_cpm = 60.0 / tb[idx].mean(1) - 60.0 / ta[idx].mean(1)
    d_acc = cb[idx].mean(1) - ca[idx].mean(1)
    return {"n": int(n), "chars_per_min": float(60.0 / tb.mean() - 60.0 / ta.mean()),
            "chars_per_min_ci95": [float(np.percentile(d_cpm, 2.5)), float(np.percentile(d_cpm, 97.5))],
            "accuracy": float(cb.mean() - ca.mean()),
            "accuracy_ci95": [float(np.percentile(d_acc, 2.5)), float(np.percentile(d_acc, 97.5))]}


def print_paired(out) -> None:
    pauses = list(next(iter(out["subjects"].values()))["pauses"])
    print(f"\n{'pause':<14}{'n':>4}{'d chars/min':>13}{'95% CI':>18}{'d accuracy':>12}{'95% CI':>18}")
    for a in pauses:
        for b in pauses:
            if float(b) < float(a):
                f = paired(out, a, b)
                lo, hi = f["chars_per_min_ci95"]
                alo, ahi = f["accuracy_ci95"]
                print(f"{b + ' vs ' + a:<14}{f['n']:>4}{f['chars_per_min']:>+13.2f}{f'[{lo:+.2f}, {hi:+.2f}]':>18}"
                      f"{f['accuracy']:>+12.3f}{f'[{alo:+.3f}, {ahi:+.3f}]':>18}")


def main(argv=None) -> int:
    if argv is None and len(sys.argv) >= 3 and sys.argv[1] == "--analyse":  # figures of saved runs, pooled
        out = {"subjects": {}}
        for i, path in enumerate(sys.argv[2:]):
            for name, sub in json.loads(Path(path).read_text())["subjects"].items():
                out["subjects"][f"{name} run {i + 1}"] = sub
        pauses = list(next(iter(out["subjects"].values()))["pauses"])
        for label in sorted({k.split()[0] for k in out["subjects"]}) + ["all"]:
            for pause in pauses:
                runs = [sub["pauses"][pause] for k, sub in out["subjects"].items() if label in ("all", k.split()[0])]
                n = sum(len(r["correct"]) for r in runs)
                hits = sum(sum(r["correct"]) for r in runs)
                secs = np.array([t for r in runs for t in r["seconds_per_char"]])
                boot = np.random.default_rng(0).integers(0, secs.size, (2000, secs.size))
                lo, hi = wilson_interval(hits, n)
                c = 60.0 / secs[boot].mean(1)
                print(f"{label:<6}{float(pause):>5.1f} s {n:>4} chars  accuracy {hits / n:.2f} [{lo:.2f}, {hi:.2f}]  "
                      f"chars/min {60.0 / secs.mean():5.2f} [{np.percentile(c, 2.5):.2f}, {np.percentile(c, 97.5):.2f}]")
        print_paired(out)
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--phrases", nargs="+", default=["HELLO", "THANK YOU", "SEE YOU"])
    p.add_argument("--pauses", nargs="+", type=float, default=[2.0, 1.0, 0.5])
    p.add_argument("--calibrate", default="BCI")
    p.add_argument("--core", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    set_log_level("WARNING")
    core = None if args.core < 0 else args.core
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    import torch

    torch.set_num_threads(1)
    soa = RealEpochGenerator(load_recording(args.data[0]), exclude_first_chars=3).soa_
    base = load_config(None, {"speller": {"soa": soa, "flash_duration": min(0.1, soa), "calibration_repetitions": 15,
                                          "max_minutes": 30.0}})
    lm = make_model(base.lm.name, base.lm)
    print(f"bench_pause: SOA {soa:g} s, decoder {base.decoder.name}, LM {base.lm.name}, max_repetitions "
          f"{base.speller.max_repetitions}, pauses {args.pauses}, phrases {args.phrases}", flush=True)
    out = {"setup": vars(args), "soa": soa, "subjects": {}}
    pooled = {pause: [] for pause in args.pauses}
    for data in args.data:
        label = Path(data).stem
        part = ["--seed", args.seed, "--data", data]
        cal = dataclasses.replace(base, speller=dataclasses.replace(base.speller, inter_trial=1.0, max_selections=1))
        res, s, _ = run_session(cal, args.phrases[0], part, core=core, calibration_text=args.calibrate,
                                lm=lm, lm_name=base.lm.name, seed=args.seed)
        tr = res.training_report
        print(f"{label}: calibration {tr['n_epochs']} epochs, held-out AUC {tr['heldout_auc']:.3f}, "
              f"LM weight {tr['lm_alpha']}", flush=True)
        runs = {pause: [] for pause in args.pauses}
        for i, phrase in enumerate(args.phrases):
            for pause in args.pauses:
                cfg = dataclasses.replace(base, speller=dataclasses.replace(base.speller, inter_trial=pause))
                r, _, _ = run_session(cfg, phrase, part, core=core, decoder=s.decoder, lm=lm, lm_name=base.lm.name,
                                      seed=args.seed + 1 + i)
                runs[pause].append(r)
                pooled[pause].append(r)
                print(f"  pause {pause:3.1f} s {phrase!r:<12} -> {r.text!r:<12} acc {r.accuracy:.2f} "
                      f"{r.flashes_per_char:5.1f} flashes/char {r.chars_per_minute:5.2f} chars/min", flush=True)
        out["subjects"][label] = {"heldout_auc": tr["heldout_auc"],
                                  "pauses": {str(pause): figures(rs) for pause, rs in runs.items()}}
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    out["pooled"] = {str(pause): figures(rs) for pause, rs in pooled.items()}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    print(f"\n{'subject':<8}{'pause s':>8}{'n':>4}{'accuracy':>9}{'95% CI':>14}{'flashes/char':>13}"
          f"{'chars/min':>10}{'95% CI':>16}")
    rows = [(k, v["pauses"]) for k, v in out["subjects"].items()] + [("all", out["pooled"])]
    for label, by_pause in rows:
        for pause, f in by_pause.items():
            a_lo, a_hi = f["accuracy_ci95"]
            c_lo, c_hi = f["chars_per_min_ci95"]
            print(f"{label:<8}{float(pause):>8.1f}{f['n']:>4}{f['accuracy']:>9.2f}{f'[{a_lo:.2f}, {a_hi:.2f}]':>14}"
                  f"{f['flashes_per_char']:>13.1f}{f['chars_per_min']:>10.2f}{f'[{c_lo:.1f}, {c_hi:.1f}]':>16}")
    print_paired(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
