"""Live closed loop in real time over LSL (loopback) with a simulated participant process.

One calibration (the participant answering labelled flashes), then copy spelling of each
phrase with and without the language model, each with a fresh participant process intending
that phrase. Reported per condition: character accuracy, characters per minute, ITR,
flashes per character; decision latency after the last epoch of a selection closed (from
pushing the samples that completed the deciding epoch to the decision: filter, epocher,
decoder, engine; median and p99); CPU share of the session process (user + system time
over wall time; the participant runs in its own process, pinned to the other cores).

The session process is pinned to one core (``--core``) with one torch thread.

With ``--data`` (one or more recordings, one subject each) the participant answers every
flash with a real single-trial epoch of the recording (``simulate-participant --data``:
calibration flashes from its first ``--n-calibration`` characters, spelling flashes from
the others), the session calibrates on three characters x 15 repetitions at the
recording's flash interval, and ``neurospell simulate`` (score level, the function the
command calls) runs on the same recording, phrases, config and seed; the table shows both,
with 95 % intervals over characters (Wilson for accuracy, normal for flashes/char).

    python benchmarks/bench_live.py                       # parametric participant
    nice -n 5 python benchmarks/bench_live.py --data ../shared/data/gtec_p300/S1.mat \
        ../shared/data/gtec_p300/S2.mat ../shared/data/gtec_p300/S3.mat \
        --phrases HELLO "THANK YOU" "SEE YOU" --json live_vs_simulate.json   # ~22 min

Figures of that run (one shared 2-core machine; 21 characters per subject and condition)::

    recording  condition  path       n  accuracy  95% CI        flashes/char  chars/min  ITR    lat. med  p99 ms  CPU %
    S1         without LM live      21  0.90      [0.71, 0.97]  21.6 ± 3.8    12.1       51.1   2.4       3.4     6.9
    S1         without LM simulate  21  1.00      [0.85, 1.00]  18.5 ± 2.1    16.4       84.9
    S1         with LM    live      21  1.00      [0.85, 1.00]  13.3 ± 1.3    16.0       82.6   2.4       3.5     10.6
    S1         with LM    simulate  21  1.00      [0.85, 1.00]  13.4 ± 1.3    21.8       112.6
    S2         without LM live      21  1.00      [0.85, 1.00]  26.1 ± 4.9    10.4       54.0   2.6       15.0    7.2
    S2         without LM simulate  21  1.00      [0.85, 1.00]  22.4 ± 2.5    13.8       71.4
    S2         with LM    live      21  1.00      [0.85, 1.00]  15.0 ± 2.7    14.8       76.4   2.5       4.3     10.6
    S2         with LM    simulate  21  1.00      [0.85, 1.00]  13.7 ± 1.5    21.3       110.2
    S3         without LM live      21  0.86      [0.65, 0.95]  39.9 ± 7.7    7.3        28.2   2.6       3.4     7.9
    S3         without LM simulate  21  0.95      [0.77, 0.99]  46.3 ± 7.3    7.0        32.6
    S3         with LM    live      21  0.86      [0.65, 0.95]  25.0 ± 7.7    10.3       39.6   2.7       4.5     10.7
    S3         with LM    simulate  21  0.76      [0.55, 0.89]  20.2 ± 5.5    15.2       47.9
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import uuid
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from neurospell.config import load_config  # noqa: E402
from neurospell.lm_fusion import make_model  # noqa: E402
from neurospell.logs import set_log_level  # noqa: E402
from neurospell.preprocessing import load_recording  # noqa: E402
from neurospell.session.copyspell import simulate_copy_spelling, wilson_interval  # noqa: E402
from neurospell.session.headless import HeadlessDisplay  # noqa: E402
from neurospell.session.live import LiveSession, Start  # noqa: E402
from neurospell.session.rig import ConnectRequest, open_rig  # noqa: E402
from neurospell.session.simulator import RealEpochGenerator  # noqa: E402
from neurospell.session.spelling import itr_bits  # noqa: E402


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_session(config, phrase, participant_args, *, core=None, lm=None, lm_name=None, **session_kw):
    """One session with a fresh participant intending ``phrase``; returns (result, session, cpu_share)."""
    request = ConnectRequest("simulated", phrase=phrase)
    with open_rig(request, config, lm_name=lm_name or "uniform", lm=lm, participant_args=participant_args,
                  tag=f"bench-{uuid.uuid4().hex[:8]}", connect_timeout=60.0) as rig:
        if core is not None and hasattr(os, "sched_setaffinity"):
            others = set(range(os.cpu_count() or 1)) - {core}
            if others:
                os.sched_setaffinity(rig.participant.pid, others)
        display = HeadlessDisplay.from_config(config.speller)
        try:
            s = LiveSession(config, rig.source, display, marker_outlet=rig.marker_outlet, copy_text=phrase,
                            lm=rig.lm, lm_name=rig.lm_name, **session_kw)
            wall0, cpu0 = time.perf_counter(), _cpu()
            s.start()
            s.submit(Start())
            res = s.join(timeout=1800)
            share = (_cpu() - cpu0) / (time.perf_counter() - wall0)
        finally:
            display.close()
        return res, s, share


def _fpc_ci(n_flashes) -> float:
    """Half width of the 95 % CI of the mean flashes per character (normal approximation)."""
    n_flashes = np.asarray(n_flashes, dtype=np.float64)
    return float(1.96 * n_flashes.std(ddof=1) / np.sqrt(n_flashes.size)) if n_flashes.size > 1 else float("nan")


def live_figures(items, n_symbols) -> dict:
    """Figures of one condition from ``[(LiveResult, cpu_share), ...]``."""
    decisions = [d for r, _ in items for d in r.decisions]
    n = len(decisions)
    hits = sum(bool(d.correct) for d in decisions)
    acc = hits / n
    dur = sum(r.duration for r, _ in items)
    lat = np.array([d.latency for d in decisions]) * 1000.0
    fl = [d.n_flashes for d in decisions]
    lo, hi = wilson_interval(hits, n)
    return {"n_selections": n, "accuracy": acc, "accuracy_ci95": [lo, hi], "chars_per_min": 60.0 * n / dur,
            "itr_bits_per_min": itr_bits(n_symbols, acc) * n * 60.0 / dur, "flashes_per_char": float(np.mean(fl)),
            "flashes_per_char_ci95": _fpc_ci(fl), "latency_ms_median": float(np.median(lat)),
            "latency_ms_p99": float(np.percentile(lat, 99)),
            "cpu_percent": 100.0 * float(np.mean([sh for _, sh in items])),
            "n_discarded": int(sum(r.n_discarded for r, _ in items)),
            "texts": [r.text for r, _ in items]}


def simulate_figures(row, flashes) -> dict:
    lo, hi = row.ci95
    return {"n_selections": row.n_chars, "accuracy": row.accuracy, "accuracy_ci95": [lo, hi],
            "chars_per_min": row.chars_per_minute, "itr_bits_per_min": row.itr,
            "flashes_per_char": row.flashes_per_char, "flashes_per_char_ci95": _fpc_ci(flashes),
            "alpha": row.alpha, "texts": list(row.texts)}


def run_subject(config, args, data, lm, core) -> dict:
    """Calibrate on the participant, copy-spell every phrase with and without the LM; and
    ``neurospell simulate`` on the same recording, phrases and config."""
    part_args = ["--seed", args.seed] + (["--data", data] if data else ["--amplitude", args.amplitude])
    label = data.rsplit("/", 1)[-1] if data else f"parametric {args.amplitude:g} µV"
    res, s, share = run_session(config, args.phrases[0], part_args, core=core, calibration_text=args.calibrate,
                                lm=lm, lm_name=args.lm, seed=args.seed)
    decoder = s.decoder
    tr = res.training_report
    print(f"{label}: calibration {tr['n_epochs']} epochs, held-out AUC {tr['heldout_auc']:.3f}, LM weight "
          f"{tr['lm_alpha']}, trained in {tr['train_seconds']:.1f} s", flush=True)
    runs = {"with LM": [(res, share)], "without LM": []}
    print(f"  {'with LM':<10} {args.phrases[0]!r:<16} -> {res.text!r:<16} acc {res.accuracy:.2f} "
          f"{res.flashes_per_char:5.1f} flashes/char", flush=True)
    for i, phrase in enumerate(args.phrases):
        for cond, (lm_obj, name) in (("with LM", (lm, args.lm)), ("without LM", (None, None))):
            if i == 0 and cond == "with LM":
                continue
            r, _, sh = run_session(config, phrase, part_args, core=core, decoder=decoder, lm=lm_obj, lm_name=name,
                                   seed=args.seed + 1 + i)
            runs[cond].append((r, sh))
            print(f"  {cond:<10} {phrase!r:<16} -> {r.text!r:<16} acc {r.accuracy:.2f} "
                  f"{r.chars_per_minute:5.2f} chars/min {r.flashes_per_char:5.1f} flashes/char", flush=True)
    out = {"recording": label, "calibration": {"n_epochs": tr["n_epochs"], "heldout_auc": tr["heldout_auc"],
                                               "lm_alpha": tr["lm_alpha"]},
           "live": {cond: live_figures(items, len(config.speller.symbols)) for cond, items in runs.items()},
           "live_runs": {cond: [r.summary() for r, _ in items] for cond, items in runs.items()}}
    if data:
        rows = simulate_copy_spelling([Path(data)], args.decoder, args.phrases, config, lm=lm, lm_name=args.lm,
                                      n_calibration=args.n_calibration, seed=args.seed)
        out["simulate"] = {}
        for row in rows[:2]:
            cond = "without LM" if row.lm == "none" else "with LM"
            out["simulate"][cond] = simulate_figures(row, row.char_flashes)
    return out


def print_table(results) -> None:
    print()
    head = (f"{'recording':<12}{'condition':<12}{'path':<9}{'n':>4}{'accuracy':>9}{'95% CI':>14}{'flashes/char':>17}"
            f"{'chars/min':>10}{'ITR':>7}{'lat. med':>9}{'p99 ms':>8}{'CPU %':>7}")
    print(head)
    print("-" * len(head))
    for res in results:
        for cond in ("without LM", "with LM"):
            for path in ("live", "simulate"):
                f = res.get(path, {}).get(cond)
                if f is None:
                    continue
                lo, hi = f["accuracy_ci95"]
                fpc = f"{f['flashes_per_char']:.1f}" + (f" ± {f['flashes_per_char_ci95']:.1f}"
                                                        if np.isfinite(f["flashes_per_char_ci95"]) else "")
                lat = (f"{f['latency_ms_median']:>9.1f}{f['latency_ms_p99']:>8.1f}{f['cpu_percent']:>7.1f}"
                       if path == "live" else f"{'':>9}{'':>8}{'':>7}")
                print(f"{res['recording']:<12}{cond:<12}{path:<9}{f['n_selections']:>4}{f['accuracy']:>9.2f}"
                      f"{f'[{lo:.2f}, {hi:.2f}]':>14}{fpc:>17}{f['chars_per_min']:>10.2f}{f['itr_bits_per_min']:>7.1f}"
                      + lat)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phrases", nargs="+", default=["HELLO WORLD", "THANK YOU", "SEE YOU SOON"])
    p.add_argument("--calibrate", default=None,
                   help="calibration text (default 'THE QUICK FOX'; with --data three characters, 'BCI', as "
                        "`neurospell simulate` calibrates on three characters)")
    p.add_argument("--amplitude", type=float, default=12.0, help="parametric participant's P300 (µV)")
    p.add_argument("--data", nargs="+", default=None,
                   help="real-epoch participant: recordings (g.tec S1-S3), one subject each; also runs "
                        "`neurospell simulate` on the same phrases")
    p.add_argument("--decoder", default="xdawncov-ts-lr")
    p.add_argument("--lm", default="mixture")
    p.add_argument("--soa", type=float, default=None,
                   help="seconds (default 0.1; with --data the recording's flash interval)")
    p.add_argument("--inter-trial", type=float, default=0.4)
    p.add_argument("--calibration-repetitions", type=int, default=None,
                   help="default 3; with --data 15, the recordings' sequences per character")
    p.add_argument("--n-calibration", type=int, default=3,
                   help="--data: characters the simulation calibrates on (= the participant's calibration pool)")
    p.add_argument("--max-repetitions", type=int, default=6)
    p.add_argument("--core", type=int, default=0, help="pin the session process to this core (-1: no pinning)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the figures here (after each recording)")
    args = p.parse_args(argv)
    set_log_level("WARNING")
    core = None if args.core < 0 else args.core
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    real = bool(args.data)
    soa = args.soa
    if soa is None:
        soa = RealEpochGenerator(load_recording(args.data[0]), exclude_first_chars=args.n_calibration).soa_ \
            if real else 0.1
    args.calibrate = args.calibrate or ("BCI" if real else "THE QUICK FOX")
    if args.calibration_repetitions is None:
        args.calibration_repetitions = 15 if real else 3
    config = load_config(None, {
        "speller": {"soa": soa, "flash_duration": min(0.1, soa), "inter_trial": args.inter_trial,
                    "calibration_repetitions": args.calibration_repetitions,
                    "max_repetitions": args.max_repetitions, "max_minutes": 30.0},
        "decoder": {"name": args.decoder}})
    lm = make_model(args.lm, config.lm)
    print(f"bench_live: {'real epochs of ' + ', '.join(args.data) if real else f'parametric P300 {args.amplitude:g} µV'}, "
          f"SOA {soa:g} s, {args.decoder}, LM {args.lm}, phrases {args.phrases}; session pinned to core {core}",
          flush=True)
    results = []
    for data in (args.data or [None]):
        results.append(run_subject(config, args, data, lm, core))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"setup": vars(args), "soa": soa, "results": results}, f, indent=2, default=str)
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
