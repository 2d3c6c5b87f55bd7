"""Choose the components, weights and kind (linear / log-linear) of a language-model
mixture on VALIDATION text, from each component's next-character distributions.

Every line of every ``--valid`` file is scored from an empty context (a new message) on the
speller grid's alphabet ([speller] symbols). Each component's distributions over the model
vocabulary are computed once; the mixtures are then formed exactly as ``MixtureLM`` forms
them (linear: sum_i w_i p_i; log-linear: prod_i p_i^w_i, renormalised), mapped onto the grid
and scored. The objective is the mean over the validation files of their bits per character
(each domain counts equally). Weights: L-BFGS on a softmax parametrisation. ``--test`` files are only scored with what validation chose.

    python benchmarks/choose_lm_mixture.py --valid a.valid.txt --valid b.valid.txt \\
        --component ngram=ngram:lm_fusion/data/ngram7.npz --component transformer \\
        --component word=word:/tmp/word.npz --max-lines 600 --json choice.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def build(spec: str):
    """``NAME`` / ``LABEL=NAME`` (registered model) or ``LABEL=KIND:PATH`` (KIND: ngram, word, transformer)."""
    from neurospell.lm_fusion import NgramLM, TransformerLM, make_model
    from neurospell.lm_fusion.wordlm import WordLM

    label, _, rest = spec.partition("=")
    if not rest or ":" not in rest:
        return label, make_model(rest or label)
    kind, _, path = rest.partition(":")
    loader = {"ngram": NgramLM.load, "word": WordLM.load, "transformer": TransformerLM}[kind]
    return label, loader(path)


def component_logps(lm, lines, batch: int = 64) -> np.ndarray:
    """(n_chars, len(VOCAB)) next-character log-probabilities over all lines, each from ''."""
    out = []
    for b in range(0, len(lines), batch):
        for lp in lm._position_logps("", lines[b:b + batch]):
            out.append(np.asarray(lp, dtype=np.float64))
    return np.concatenate(out)


def to_grid(lp_vocab: np.ndarray, aidx: np.ndarray) -> np.ndarray:
    """Restrict (n, V) vocabulary log-probs to the grid's symbols (all known) and renormalise."""
    g = lp_vocab[:, aidx]
    return g - np.logaddexp.reduce(g, axis=1, keepdims=True)


def mix(lps: list[np.ndarray], w, mode: str) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    w = w / w.sum()
    if mode == "linear":
        with np.errstate(divide="ignore"):
            return np.logaddexp.reduce(np.stack(lps) + np.log(w)[:, None, None], axis=0)
    m = np.tensordot(w, np.stack(lps), axes=1)
    return m - np.logaddexp.reduce(m, axis=1, keepdims=True)


def bpc(lp_vocab, targets, aidx) -> float:
    g = to_grid(lp_vocab, aidx)
    return float(-g[np.arange(len(targets)), targets].mean() / math.log(2))


def fit_weights(sets, names, aidx, mode: str):
    """Weights (summing to 1) minimising the mean per-set bits/char, L-BFGS on a softmax."""
    from scipy.optimize import minimize

    k = len(names)

    def obj(theta):
        w = np.exp(theta - theta.max())
        w = w / w.sum()
        return float(np.mean([bpc(mix(lps, w, mode), targets, aidx) for lps, targets in sets]))

    starts = [np.full(k, 1.0 / k)] + [np.eye(k)[i] * 0.6 + 0.4 / k for i in range(k)]
    best = min((minimize(obj, np.log(s), method="L-BFGS-B", options={"maxiter": 60}) for s in starts),
               key=lambda r: r.fun)
    w = np.exp(best.x - best.x.max())
    return w / w.sum()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--valid", action="append", required=True, help="validation text (repeatable)")
    ap.add_argument("--test", action="append", default=[], help="held-out text, only scored (repeatable)")
    ap.add_argument("--component", action="append", required=True, help="NAME or LABEL=KIND:PATH (repeatable)")
    ap.add_argument("--max-lines", type=int, default=600, help="evenly spaced lines per file")
    ap.add_argument("--subsets", action="store_true", help="also every subset of two or more components")
    ap.add_argument("--cache", default=None, metavar="DIR",
                    help="keep each component's distributions here (.npy, keyed by label, file and line count)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from neurospell.config import load_config
    from neurospell.lm_fusion import read_lines
    from neurospell.lm_fusion.base import _alphabet_index

    alphabet = tuple(load_config().speller.symbols)
    aidx = _alphabet_index(alphabet)
    index = {c: i for i, c in enumerate(alphabet)}

    def load(files):
        out = {}
        for f in files:
            lines, _ = read_lines(f, alphabet)
            if len(lines) > args.max_lines:
                step = len(lines) / args.max_lines
                lines = [lines[int(i * step)] for i in range(args.max_lines)]
            out[f] = (lines, np.array([index[c] for ln in lines for c in ln]))
        return out

    valid, test = load(args.valid), load(args.test)
    names = [s.partition("=")[0] for s in args.component]
    cache = {}
    for spec, name in zip(args.component, names, strict=True):
        lm = None
        for f, (lines, targets) in {**valid, **test}.items():
            t = time.perf_counter()
            fn = None
            if args.cache:
                os.makedirs(args.cache, exist_ok=True)
                fn = os.path.join(args.cache, f"{name}__{os.path.basename(f)}__{len(lines)}.npy")
            if fn and os.path.exists(fn):
                cache[name, f] = np.load(fn)
            else:
                lm = lm or build(spec)[1]
                cache[name, f] = component_logps(lm, lines)
                if fn:
                    np.save(fn, cache[name, f])
            print(f"{name:14s} {os.path.basename(f):28s} {bpc(cache[name, f], targets, aidx):.4f} bits/char "
                  f"({len(targets)} chars, {time.perf_counter() - t:.0f} s)", flush=True)
        del lm

    def sets_of(files, chosen):
        return [([cache[n, f] for n in chosen], files[f][1]) for f in files]

    results = []
    subsets = [names]
    if args.subsets:
        subsets = [list(c) for r in range(2, len(names) + 1) for c in itertools.combinations(names, r)]
    for chosen in subsets:
        vs = sets_of(valid, chosen)
        for mode in ("linear", "loglinear"):
            w = fit_weights(vs, chosen, aidx, mode)
            per_valid = {f: bpc(mix(lps, w, mode), t, aidx) for f, (lps, t) in zip(valid, vs, strict=True)}
            per_test = {f: bpc(mix([cache[n, f] for n in chosen], w, mode), test[f][1], aidx) for f in test}
            r = {"components": chosen, "mode": mode, "weights": [round(float(x), 4) for x in w],
                 "valid_mean_bpc": float(np.mean(list(per_valid.values()))), "valid_bpc": per_valid,
                 "test_bpc": per_test}
            results.append(r)
            print(f"{'+'.join(chosen):40s} {mode:9s} w={r['weights']} valid mean {r['valid_mean_bpc']:.4f} "
                  + " ".join(f"{os.path.basename(f)}={b:.4f}" for f, b in per_valid.items()), flush=True)
    singles = {n: {f: bpc(cache[n, f], t, aidx) for f, (_, t) in {**valid, **test}.items()} for n in names}
    best = min(results, key=lambda r: r["valid_mean_bpc"])
    print(f"best on validation: {'+'.join(best['components'])} {best['mode']} {best['weights']} "
          f"({best['valid_mean_bpc']:.4f})")
    if args.json:
        with open(args.json, "w") as fid:
            json.dump({"alphabet": "".join(alphabet), "max_lines": args.max_lines, "single": singles,
                       "mixtures": results, "best": best}, fid, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
