"""Zero-calibration live spelling with and without online adaptation (real epochs, cross-subject).

For each participant P of ``--data`` (leave one participant out): a model trained with
``neurospell train`` on the OTHER participants (``--models``, one per participant, in the same
order), then two live sessions of ``neurospell spell --no-calibration`` (the simulated
participant process answering with P's real epochs over LSL loopback), copy-spelling the same
phrase, one with ``--adapt`` and one with ``--no-adapt``. The grid has a backspace (``<``): the
participant corrects its errors, which is what the self-labelling reads. Reported per
condition: accuracy (selection == the symbol the participant wanted, backspaces included)
and flashes per selection over the first and the last ``--k`` selections of each session,
pooled over participants, with 95 % intervals over selections (Wilson; normal for
flashes), and the refits each adaptive session made and used.

    python benchmarks/bench_adaptation.py --data S1.mat S2.mat S3.mat \
        --models m23.pkl m13.pkl m12.pkl --json adapt.json       # ~30 min

Figures of that run (one shared 2-core machine; models: ``neurospell train`` xdawncov-ts-lr on
the two other participants; LM ngram; default ``[speller] adapt_*``; inter-trial 1 s, max 8
repetitions, max 45 selections; first/last = the first/last 10 selections of each session,
pooled over S1-S3, 95 % intervals over selections)::

    S1 no-adapt: 'MEET ME AT THE PARK AT NOON' accuracy 0.91 (33 selections), 40.6 flashes/selection
    S1 adapt   : 'MEET ME AT THE PARK AT NOON' accuracy 1.00 (27 selections), 20.5 flashes/selection, 4/4 refits used
    S2 no-adapt: 'MEET ME AT THE PARK AT NOON' accuracy 0.83 (41 selections), 33.9 flashes/selection
    S2 adapt   : 'MEET ME AT THE PARK AT NOON' accuracy 0.97 (29 selections), 20.3 flashes/selection, 3/3 refits used
    S3 no-adapt: 'MEET ME G'                   accuracy 0.58 (45 selections), 35.2 flashes/selection
    S3 adapt   : 'MEET ME AT THE PARK AT NOON' accuracy 0.89 (35 selections), 21.0 flashes/selection, 6/6 refits used

    condition  part    n   accuracy  95% CI         flashes/selection
    adapt      first   30  0.87      [0.70, 0.95]   30.8 ± 6.7
    adapt      last    30  0.97      [0.83, 0.99]   15.2 ± 1.9
    no-adapt   first   30  0.80      [0.63, 0.90]   36.0 ± 8.7
    no-adapt   last    30  0.90      [0.74, 0.97]   35.5 ± 9.9

The first refit came at selections 9-10; before it both conditions spell with the same model,
so their first-10 difference is run-to-run noise. Flashes per selection over the last 10 fall
from 35.5 to 15.2 (intervals apart); the accuracy difference is inside the noise. CAUTION: the
real-epoch participant answers spelling flashes from a pool of only 60 target and 420
non-target epochs per recording (2 characters x 15 repetitions), reused across a session, so a
refit is later scored partly on epochs it was trained on: the live gain above is an upper
bound. ``bench_adaptation_offline.py`` is the fair check (held-out characters, true labels).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

PHRASE = "MEET ME AT THE PARK AT NOON"
CONFIG = """[speller]
symbols = "ABCDEFGHIJKLMNOPQRSTUVWXYZ12345678 <"
"""


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (c - h, c + h)


def run_session(rec: str, model: str, adapt: bool, out: Path, args) -> dict:
    cfg = out.with_suffix(".toml")
    cfg.write_text(CONFIG)
    cmd = [sys.executable, "-m", "neurospell", "--config", str(cfg), "spell", "--headless", "--source", "simulated",
           "--participant-data", rec, "--model", model, "--no-calibration", "--adapt" if adapt else "--no-adapt",
           "--copy", args.phrase, "--lm", args.lm, "--inter-trial", str(args.inter_trial), "--max-repetitions",
           str(args.max_repetitions), "--max-selections", str(args.max_selections), "--seed", str(args.seed),
           "--out", str(out), "--overwrite", "--summary-json", str(out.with_suffix(".json"))]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    log = [json.loads(ln) for ln in (out / "derivatives" / "neurospell" / "decisions.jsonl").read_text().splitlines()
           if ln.strip()]
    decs = [r for r in log if r["type"] == "decision"]
    refits = [r for r in log if r["type"] == "refit"]
    return {"correct": [d["symbol"] == d.get("intended") for d in decs], "flashes": [d["n_flashes"] for d in decs],
            "text": decs[-1]["text"] if decs else "",
            "refits": [{k: r.get(k) for k in ("k", "applied", "cv_auc", "live_auc", "from_selection", "n_epochs")}
                       for r in refits]}


def summarize(runs: list, k: int) -> dict:
    out = {}
    for part, sl in (("first", slice(0, k)), ("last", slice(-k, None)), ("all", slice(None))):
        c = [x for r in runs for x in r["correct"][sl]]
        f = np.array([x for r in runs for x in r["flashes"][sl]], float)
        out[part] = {"n": len(c), "accuracy": float(np.mean(c)) if c else float("nan"), "ci": wilson(sum(c), len(c)),
                     "flashes": float(f.mean()) if f.size else float("nan"),
                     "flashes_hw": float(1.96 * f.std(ddof=1) / math.sqrt(f.size)) if f.size > 1 else float("nan")}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--phrase", default=PHRASE)
    p.add_argument("--lm", default="ngram")
    p.add_argument("--inter-trial", type=float, default=1.0)
    p.add_argument("--max-repetitions", type=int, default=8)
    p.add_argument("--max-selections", type=int, default=45)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="folder for the session folders (default: a temporary one)")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    if len(args.models) != len(args.data):
        p.error("give one --models entry per --data recording (trained on the other participants)")
    root = Path(args.out or tempfile.mkdtemp(prefix="bench-adapt-"))
    root.mkdir(parents=True, exist_ok=True)
    results = {"adapt": [], "no-adapt": []}
    for rec, model in zip(args.data, args.models, strict=True):
        for cond in ("no-adapt", "adapt"):
            r = run_session(rec, model, cond == "adapt", root / f"{Path(rec).stem}-{cond}", args)
            r["recording"] = Path(rec).name
            results[cond].append(r)
            print(f"{Path(rec).stem} {cond:8s}: {r['text']!r} accuracy {np.mean(r['correct']):.2f} "
                  f"({len(r['correct'])} selections), {np.mean(r['flashes']):.1f} flashes/selection, refits "
                  f"{sum(bool(x['applied']) for x in r['refits'])}/{len(r['refits'])} used", flush=True)
    table = {cond: summarize(runs, args.k) for cond, runs in results.items()}
    print("\ncondition  part    n   accuracy  95% CI         flashes/selection")
    for cond, parts in table.items():
        for part, s in parts.items():
            print(f"{cond:9s}  {part:5s}  {s['n']:3d}  {s['accuracy']:.2f}      [{s['ci'][0]:.2f}, {s['ci'][1]:.2f}]"
                  f"   {s['flashes']:.1f} ± {s['flashes_hw']:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "runs": results, "table": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
