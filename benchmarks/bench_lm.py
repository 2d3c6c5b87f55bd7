"""Language-model latency and memory on one CPU core, with ratios against the n-gram.

For each model (each in a fresh subprocess, so resident memory is its own): load time,
resident-memory increase once loaded, per-character latency while "typing" held-out phrases
one character at a time (the model's cache used as in the speller), batched string scoring,
and the full fusion step of one selection (LM prior + EEG evidence of 12 flashes + fusion +
stopping check + decision + candidate-beam update).

    python benchmarks/bench_lm.py [--models uniform,ngram,transformer,mixture] [--smollm2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

PHRASES = [
    "HOW ARE YOU DOING TODAY",
    "I THINK I WILL GO TO THE STORE LATER",
    "WHAT DID YOU HAVE FOR DINNER",
    "THAT SOUNDS LIKE A LOT OF FUN",
    "MY FAVORITE MOVIE IS THE LION KING",
]


def _rss_mb() -> float:
    with open("/proc/self/status") as fid:
        for line in fid:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(name: str) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    import neurospell.lm_fusion.models  # noqa: F401  (import cost outside the measurement)
    from neurospell.decoder import ScoreModel
    from neurospell.lm_fusion import make_model
    from neurospell.session import SpellerEngine
    from neurospell.types import SpellerLayout
    if name in ("hf", "smollm2"):
        import transformers  # noqa: F401
    layout = SpellerLayout.row_column()
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    lm = None if name == "none" else make_model(name)
    load = time.perf_counter() - t0
    rss1 = _rss_mb()
    out = {"model": name, "load_s": load, "rss_mb": rss1 - rss0}
    if lm is not None:
        lm.distribution("", layout.symbols)  # warm-up
        times = []
        phrases = PHRASES[:2] if name == "smollm2" else PHRASES
        for ph in phrases:
            lm.reset()
            for i in range(len(ph) + 1):
                t = time.perf_counter()
                lm.distribution(ph[:i], layout.symbols)
                times.append(time.perf_counter() - t)
        times = np.array(times[1:])
        out.update(ms_per_char_mean=1e3 * times.mean(), ms_per_char_median=1e3 * np.median(times),
                   ms_per_char_p95=1e3 * np.percentile(times, 95))
        t = time.perf_counter()
        lm.score(PHRASES)
        out["score_ms_per_phrase"] = 1e3 * (time.perf_counter() - t) / len(PHRASES)
    rng = np.random.default_rng(0)
    sm = ScoreModel().fit(np.r_[rng.normal(1, 1, 200), rng.normal(-1, 1, 200)], np.r_[np.ones(200), np.zeros(200)])
    engine = SpellerEngine(layout, sm, lm, stop_threshold=1.0, max_repetitions=1, beam_width=8)
    steps = []
    n_sel = 6 if name == "smollm2" else 40
    for _ in range(n_sel):
        groups = rng.permutation(12)
        scores = rng.normal(-1, 1, 12)
        t = time.perf_counter()
        engine.on_flashes(groups, scores)
        steps.append(time.perf_counter() - t)
    out["fusion_step_ms"] = 1e3 * float(np.median(steps))
    out["rss_after_mb"] = _rss_mb() - rss0
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="none,uniform,ngram,transformer,mixture")
    ap.add_argument("--smollm2", action="store_true", help="also SmolLM2-135M (slow to load)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return 0
    models = args.models.split(",") + (["smollm2"] if args.smollm2 else [])
    results = []
    for m in models:
        proc = subprocess.run([sys.executable, __file__, "--worker", m], capture_output=True, text=True,
                              env=dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1"))
        if proc.returncode:
            print(f"{m}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    ref = next((r for r in results if r["model"] == "ngram"), None)
    print(f"{'model':12s} {'load s':>7s} {'RSS MB':>7s} {'ms/char':>8s} {'p95':>7s} {'x ngram':>8s} "
          f"{'score ms':>9s} {'fusion ms':>9s} {'x ngram':>8s}")
    for r in results:
        mpc = r.get("ms_per_char_mean", float("nan"))
        ratio = mpc / ref["ms_per_char_mean"] if ref and "ms_per_char_mean" in r else float("nan")
        fr = r["fusion_step_ms"] / ref["fusion_step_ms"] if ref else float("nan")
        print(f"{r['model']:12s} {r['load_s']:7.2f} {r['rss_after_mb']:7.1f} {mpc:8.3f} "
              f"{r.get('ms_per_char_p95', float('nan')):7.3f} {ratio:8.2f} "
              f"{r.get('score_ms_per_phrase', float('nan')):9.2f} {r['fusion_step_ms']:9.2f} {fr:8.2f}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fid:
            json.dump(results, fid, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
