"""Live closed loop in real time over LSL (loopback) with a simulated participant process.

One calibration (the participant answering labelled flashes), then copy spelling of each
phrase with and without the language model, each with a fresh participant process intending
that phrase. Reported per condition: character accuracy, characters per minute, ITR,
flashes per character; decision latency after the last epoch of a selection closed (from
pushing the samples that completed the deciding epoch to the decision: filter, epocher,
decoder, engine; median and p99); CPU share of the session process (user + system time
over wall time; the participant runs in its own process, pinned to the other cores).

The session process is pinned to one core (``--core``) with one torch thread.

    python benchmarks/bench_live.py                       # parametric participant
    python benchmarks/bench_live.py --data ../shared/data/gtec_p300/S1.mat   # real epochs
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import uuid

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from neurospell.acquisition import LslMarkerOutlet, LslSource  # noqa: E402
from neurospell.config import load_config  # noqa: E402
from neurospell.lm_fusion import make_model  # noqa: E402
from neurospell.logs import set_log_level  # noqa: E402
from neurospell.lsl import configure_lsl  # noqa: E402
from neurospell.session.headless import HeadlessDisplay  # noqa: E402
from neurospell.session.live import LiveSession, ParticipantProcess, Start  # noqa: E402
from neurospell.session.spelling import itr_bits  # noqa: E402


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_session(config, phrase, participant_args, *, core=None, **session_kw):
    """One session with a fresh participant intending ``phrase``; returns (result, session, cpu_share)."""
    markers = f"bench-live-markers-{uuid.uuid4().hex[:8]}"
    outlet = LslMarkerOutlet(markers)
    part = ParticipantProcess(phrase, markers, args=participant_args)
    if core is not None and hasattr(os, "sched_setaffinity"):
        others = set(range(os.cpu_count() or 1)) - {core}
        if others:
            os.sched_setaffinity(part.proc.pid, others)
    source = LslSource(part.name, marker_name=markers, timeout=30.0)
    source.start()
    try:
        if not part.wait_connected(60.0):
            raise RuntimeError("participant did not connect: " + " | ".join(part.lines[-5:]))
        display = HeadlessDisplay.from_config(config.speller)
        s = LiveSession(config, source, display, marker_outlet=outlet, copy_text=phrase, **session_kw)
        wall0, cpu0 = time.perf_counter(), _cpu()
        s.start()
        s.submit(Start())
        res = s.join(timeout=1800)
        share = (_cpu() - cpu0) / (time.perf_counter() - wall0)
        display.close()
        return res, s, share
    finally:
        source.stop()
        part.close()
        outlet.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phrases", nargs="+", default=["HELLO WORLD", "THANK YOU", "SEE YOU SOON"])
    p.add_argument("--calibrate", default="THE QUICK FOX")
    p.add_argument("--amplitude", type=float, default=12.0, help="parametric participant's P300 (µV)")
    p.add_argument("--data", default=None, help="real-epoch participant: a recording (g.tec S1-S3)")
    p.add_argument("--decoder", default="xdawncov-ts-lr")
    p.add_argument("--lm", default="mixture")
    p.add_argument("--soa", type=float, default=0.1)
    p.add_argument("--inter-trial", type=float, default=0.4)
    p.add_argument("--calibration-repetitions", type=int, default=3)
    p.add_argument("--max-repetitions", type=int, default=6)
    p.add_argument("--core", type=int, default=0, help="pin the session process to this core (-1: no pinning)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the figures here")
    args = p.parse_args(argv)
    set_log_level("WARNING")
    configure_lsl()
    core = None if args.core < 0 else args.core
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    config = load_config(None, {
        "speller": {"soa": args.soa, "flash_duration": min(0.1, args.soa), "inter_trial": args.inter_trial,
                    "calibration_repetitions": args.calibration_repetitions,
                    "max_repetitions": args.max_repetitions, "max_minutes": 30.0},
        "decoder": {"name": args.decoder}})
    part_args = ["--seed", args.seed] + (["--data", args.data] if args.data else ["--amplitude", args.amplitude])
    lm = make_model(args.lm, config.lm)
    print(f"bench_live: {'real epochs of ' + args.data if args.data else f'parametric P300 {args.amplitude:g} µV'}, "
          f"SOA {args.soa:g} s, {args.decoder}, LM {args.lm}; session pinned to core {core}", flush=True)

    # calibration + the first phrase with the LM
    res, s, share = run_session(config, args.phrases[0], part_args, core=core, calibration_text=args.calibrate,
                                lm=lm, lm_name=args.lm, seed=args.seed)
    decoder = s.decoder
    tr = res.training_report
    print(f"calibration: {tr['n_epochs']} epochs, held-out AUC {tr['heldout_auc']:.3f}, LM weight {tr['lm_alpha']}, "
          f"trained in {tr['train_seconds']:.1f} s", flush=True)
    runs = {"with LM": [(res, share)], "without LM": []}
    for i, phrase in enumerate(args.phrases):
        for cond, (lm_obj, name) in (("with LM", (lm, args.lm)), ("without LM", (None, None))):
            if i == 0 and cond == "with LM":
                continue
            r, _, sh = run_session(config, phrase, part_args, core=core, decoder=decoder, lm=lm_obj, lm_name=name,
                                   seed=args.seed + 1 + i)
            runs[cond].append((r, sh))
            print(f"  {cond:<10} {phrase!r:<16} -> {r.text!r:<16} acc {r.accuracy:.2f} "
                  f"{r.chars_per_min:5.2f} chars/min {r.flashes_per_char:5.1f} flashes/char", flush=True)
    out = {"setup": vars(args), "calibration": {"n_epochs": tr["n_epochs"], "heldout_auc": tr["heldout_auc"],
                                                "lm_alpha": tr["lm_alpha"]}}
    print()
    print(f"{'condition':<12}{'accuracy':>9}{'chars/min':>10}{'ITR':>7}{'flashes/char':>13}"
          f"{'latency median':>15}{'p99 (ms)':>9}{'CPU %':>7}")
    for cond, items in runs.items():
        decisions = [d for r, _ in items for d in r.decisions]
        acc = float(np.mean([d.correct for d in decisions]))
        dur = sum(r.duration for r, _ in items)
        n = len(decisions)
        itr = itr_bits(len(config.speller.symbols), acc) * n * 60.0 / dur
        lat = np.array([d.latency for d in decisions]) * 1000.0
        fpc = float(np.mean([d.n_flashes for d in decisions]))
        cpu = 100.0 * float(np.mean([sh for _, sh in items]))
        # 95 % CI of the accuracy over characters (normal approximation)
        ci = 1.96 * np.sqrt(acc * (1 - acc) / n)
        out[cond] = {"n_selections": n, "accuracy": acc, "accuracy_ci95": ci, "chars_per_min": 60.0 * n / dur,
                     "itr_bits_per_min": itr, "flashes_per_char": fpc, "latency_ms_median": float(np.median(lat)),
                     "latency_ms_p99": float(np.percentile(lat, 99)), "cpu_percent": cpu}
        print(f"{cond:<12}{acc:>9.2f}{60.0 * n / dur:>10.2f}{itr:>7.1f}{fpc:>13.1f}"
              f"{np.median(lat):>15.1f}{np.percentile(lat, 99):>9.1f}{cpu:>7.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
