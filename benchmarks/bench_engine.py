"""The speller engine's step: one flash in -> events out, with the default language model.

Runs one selection after another (copy-spelling English phrases with a simulated
participant of d' = 1.5) through :class:`~neurospell.session.engine.SpellerEngine` built
from the shipped config ([lm] name = mixture, beam width 8, dynamic stopping), on one
thread, and times every ``on_flash`` call. Flashes that do not end a selection (evidence +
fusion + stopping rule) and flashes that end one (plus the decision, the candidate beam
update and the next selection's LM prior) are reported apart, median and p99, against the
targets of 2 ms per flash and 20 ms per decision.

    python benchmarks/bench_engine.py [--lm mixture] [--selections 200] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from neurospell.config import Config  # noqa: E402
from neurospell.decoder import ScoreModel  # noqa: E402
from neurospell.lm_fusion import make_model  # noqa: E402
from neurospell.session import ScoreSampler, SpellerEngine  # noqa: E402

PHRASES = ("HOW ARE YOU TODAY", "I WOULD LIKE SOME WATER PLEASE", "CAN YOU CALL MY SISTER",
           "THANK YOU VERY MUCH", "SEE YOU TOMORROW MORNING", "PLEASE OPEN THE WINDOW")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lm", default=None, help="language model (default: [lm] name)")
    ap.add_argument("--selections", type=int, default=200)
    ap.add_argument("--beam-width", type=int, default=None, help="default: [lm] beam_width (0: no beam)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = Config()
    name = args.lm or cfg.lm.name
    layout = cfg.speller.layout()
    rng = np.random.default_rng(0)
    d = 1.5
    t_s, n_s = rng.normal(d, 1, 2000), rng.normal(0, 1, 10000)
    sm = ScoreModel().fit(np.r_[t_s, n_s], np.r_[np.ones(2000, bool), np.zeros(10000, bool)])
    who = ScoreSampler(t_s, n_s, rng)
    t0 = time.perf_counter()
    lm = make_model(name, cfg.lm)
    load_s = time.perf_counter() - t0
    beam = cfg.lm.beam_width if args.beam_width is None else args.beam_width
    engine = SpellerEngine.from_config(layout, sm, lm, cfg, seed=1, beam_width=beam)
    engine.snapshot(completions=False)  # warm-up
    flash_ms, decide_ms, n_sel, text = [], [], 0, ""
    k = 0
    while n_sel < args.selections:
        phrase = PHRASES[k % len(PHRASES)]
        k += 1
        engine.reset("")
        for sym in phrase:
            decided = False
            while not decided:
                groups = engine.next_flashes()
                scores = who.respond_flashes(layout, sym, groups)
                for g, s in zip(groups, scores, strict=True):
                    t = time.perf_counter()
                    events = engine.on_flash(g, float(s))
                    dt = 1e3 * (time.perf_counter() - t)
                    if events:
                        decide_ms.append(dt)
                        decided = True
                        break
                    flash_ms.append(dt)
            n_sel += 1
        text = engine.text
    f, dms = np.array(flash_ms), np.array(decide_ms)
    out = {"lm": name, "load_s": load_s, "selections": n_sel, "flashes": int(len(f) + len(dms)),
           "flash_ms_median": float(np.median(f)), "flash_ms_p99": float(np.percentile(f, 99)),
           "decision_ms_median": float(np.median(dms)), "decision_ms_p99": float(np.percentile(dms, 99)),
           "beam_width": beam, "last_text": text}
    print(f"engine step with LM {name!r} (beam {beam}), one thread, {n_sel} selections, "
          f"{out['flashes']} flashes:")
    print(f"  flash (no decision): median {out['flash_ms_median']:.3f} ms, p99 {out['flash_ms_p99']:.3f} ms"
          f"  (target <= 2 ms)")
    print(f"  flash + decision + beam + next prior: median {out['decision_ms_median']:.2f} ms, "
          f"p99 {out['decision_ms_p99']:.2f} ms  (target <= 20 ms)")
    if args.json:
        with open(args.json, "w") as fid:
            json.dump(out, fid, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
