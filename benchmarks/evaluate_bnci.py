"""Within-subject figures on BNCI Horizon 2020 003-2015 s6, s7, s8 with the project's own commands.

For each participant and decoder: ``neurospell train sX.mat:train`` (held-out AUC over
character folds of ``train``), ``neurospell evaluate MODEL sX.mat:test`` (AUC on ``test``, the
simulated speller's accuracy vs repetitions, the weak-AUC warning), then the 5 real ``test``
characters decoded flash by flash from their recorded flashes with ``neurospell replay
sX.mat:test --decoder MODEL --lm uniform --no-dynamic-stopping`` and ``[speller]
max_repetitions = r`` (a config file per r): accuracy over the 5 characters with a 95 %
Wilson interval (5 characters: the intervals are wide), and once with the default dynamic
stopping. Prints a Markdown table; ``--plot PNG`` draws the real-character curves.

    python benchmarks/evaluate_bnci.py [--data ../shared/data/bnci003] [--out /tmp/bnci] [--plot docs/bnci_results.png]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from neurospell.check import shared_data_dir
from neurospell.session.copyspell import wilson_interval

SUBJECTS = ("s6", "s7", "s8")
DECODERS = ("xdawncov-ts-lr", "lda")
REPS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15)
EXE = [sys.executable, "-m", "neurospell"]


def _run(args) -> str:
    out = subprocess.run(EXE + args, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def _decoded(out: str) -> tuple[int, int, float]:
    m = re.search(r"\[none\] phrase 1 \(test\) decoded: '([^']*)'\s+intended: '([^']*)'.*?([\d.]+) repetitions/char",
                  out)
    dec, want, reps = m.group(1), m.group(2), float(m.group(3))
    return sum(a == b for a, b in zip(dec, want, strict=False)), len(want), reps


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    base = shared_data_dir()
    p.add_argument("--data", type=Path, default=None if base is None else base / "bnci003")
    p.add_argument("--out", type=Path, default=Path("/tmp/neurospell_bnci"))
    p.add_argument("--plot", type=Path, default=None)
    args = p.parse_args(argv)
    if args.data is None or not args.data.is_dir():
        raise SystemExit("BNCI 003-2015 files not found: pass --data FOLDER (holding s6.mat, s7.mat, s8.mat).")
    args.out.mkdir(parents=True, exist_ok=True)
    cfgs = {}
    for r in REPS:
        cfgs[r] = args.out / f"max_rep_{r}.toml"
        cfgs[r].write_text(f"[speller]\nmax_repetitions = {r}\n")
    results = []
    for s in SUBJECTS:
        for d in DECODERS:
            rec, model = args.data / f"{s}.mat", args.out / f"{s}_{d}.pkl"
            tr = _run(["train", f"{rec}:train", "--decoder", d, "--out", str(model), "--no-progress", "--overwrite"])
            ev = _run(["evaluate", str(model), f"{rec}:test"])
            sim = [float(v) for v in re.findall(r"^\s+\d+\s+([\d.]+)$", ev.split("repetitions  accuracy")[1]
                                                .split("Reliability")[0], re.M)]
            row = {"subject": s, "decoder": d,
                   "cv_auc": float(re.search(r"Held-out AUC .*: ([\d.]+)", tr).group(1)),
                   "train_warning": "WARNING" in tr,
                   "test_auc": float(re.search(r"^AUC: ([\d.]+)", ev, re.M).group(1)),
                   "evaluate_warning": "WARNING: AUC" in ev, "simulated": sim, "real": {}}
            for r in REPS:
                out = _run(["--config", str(cfgs[r]), "replay", f"{rec}:test", "--decoder", str(model),
                            "--lm", "uniform", "--no-dynamic-stopping", "--no-progress"])
                hits, n, _ = _decoded(out)
                row["real"][r] = (hits, n)
            hits, n, reps = _decoded(_run(["replay", f"{rec}:test", "--decoder", str(model), "--lm", "uniform",
                                           "--no-progress"]))
            row["dynamic"] = (hits, n, reps)
            results.append(row)
            print(f"{s} {d}: train CV AUC {row['cv_auc']:.3f}, test AUC {row['test_auc']:.3f}, "
                  f"real {row['real']}, dynamic {row['dynamic']}", file=sys.stderr, flush=True)
    (args.out / "bnci_results.json").write_text(json.dumps(results, indent=1))
    show = (1, 3, 5, 10, 15)
    print("| participant | decoder | train AUC (CV) | test AUC | warned | "
          + " | ".join(f"{r} rep{'s' * (r > 1)}: real [95 % CI] / sim." for r in show)
          + " | dynamic stopping: real, reps/char |")
    print("|---" * (6 + len(show)) + "|")
    for row in results:
        cells = []
        for r in show:
            h, n = row["real"][r]
            lo, hi = wilson_interval(h, n)
            cells.append(f"{h}/{n} [{lo:.2f}, {hi:.2f}] / {row['simulated'][r - 1]:.2f}")
        h, n, reps = row["dynamic"]
        warned = "train + evaluate" if row["train_warning"] and row["evaluate_warning"] else (
            "train" if row["train_warning"] else ("evaluate" if row["evaluate_warning"] else "no"))
        print(f"| {row['subject']} | `{row['decoder']}` | {row['cv_auc']:.3f} | {row['test_auc']:.3f} | {warned} | "
              + " | ".join(cells) + f" | {h}/{n}, {reps:.1f} |")
    if args.plot:
        _plot(results, args.plot)
    return 0


def _plot(results, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(SUBJECTS), figsize=(11, 3.4), sharey=True)
    for ax, s in zip(axes, SUBJECTS, strict=True):
        for k, row in enumerate(r for r in results if r["subject"] == s):
            x = np.array(REPS) + (k - 0.5) * 0.25
            acc = np.array([row["real"][r][0] / row["real"][r][1] for r in REPS])
            ci = np.array([wilson_interval(*row["real"][r]) for r in REPS])
            line = ax.errorbar(x, acc, yerr=[acc - ci[:, 0], ci[:, 1] - acc], marker="o", ms=3, capsize=2,
                               label=f"{row['decoder']} (test AUC {row['test_auc']:.2f})")
            ax.plot(range(1, len(row["simulated"]) + 1), row["simulated"], ls=":", color=line[0].get_color())
        ax.axhline(1 / 36, color="grey", lw=0.8, ls=":")
        ax.set(title=f"{s}: 5 test characters", xlabel="repetitions", ylim=(-0.02, 1.02))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("character accuracy (95 % CI)")
    fig.suptitle("BNCI 003-2015, train on `train`, decode `test` (dotted: simulated from the test scores)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
