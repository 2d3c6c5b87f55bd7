"""Command-line subcommands: ``neurospell lm ...`` (language models).

- ``lm list``: the registered models.
- ``lm eval --text FILE [--lm NAME]``: bits per character and top-1/top-3 next-character
  accuracy on a text file (one phrase per line, each scored from an empty context).
- ``lm predict TEXT``: the next-symbol distribution and word completions after TEXT.
- ``lm train``: train (or fine-tune, ``--init``) the character transformer on Chit Chat and/or
  text files (fixed seed; CUDA with mixed precision when present, else all CPU cores).
- ``lm build-ngram``: build the Kneser-Ney n-gram from the corpus.
- ``lm heldout --out FILE``: write held-out corpus phrases (for ``lm eval``).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter

from ..fileio import atomic_write
from . import _args, _runtime


def register(subparsers) -> None:
    """Add this module's subcommands to the ``neurospell`` parser."""
    p = subparsers.add_parser("lm", help="language models: list, eval, predict, train, build-ngram")
    sub = p.add_subparsers(dest="lm_command", metavar="LM_COMMAND")

    q = sub.add_parser("list", help="list the registered language models")
    q.set_defaults(func=_list)

    q = sub.add_parser("eval", help="bits per character and next-character accuracy on a text file")
    q.add_argument("--text", required=True, metavar="FILE", type=_args.text_file,
                   help="UTF-8 text file, one phrase per line")
    q.add_argument("--lm", action="append", metavar="NAME", type=_args.lm_name,
                   help="model name (repeatable; default: [lm] name). 'a+b' is a 50/50 mixture")
    q.add_argument("--lm-path", metavar="FOLDER", type=_args.input_folder("model folder"),
                   help="folder of a Hugging Face model (for --lm hf)")
    q.add_argument("--max-lines", type=_args.number(int, min=1), default=None, help="score only the first N lines")
    q.add_argument("--json", metavar="FILE", help="also write the results as JSON (replaced if it exists)")
    q.set_defaults(func=_eval, check=_args.check_lm_eval)

    q = sub.add_parser("predict", help="next-symbol distribution and word completions after TEXT")
    q.add_argument("text", nargs="?", default="", help="text typed so far")
    q.add_argument("--lm", metavar="NAME", type=_args.lm_name, help="model name (default: [lm] name)")
    q.add_argument("--lm-path", metavar="FOLDER", type=_args.input_folder("model folder"),
                   help="folder of a Hugging Face model (for --lm hf)")
    q.add_argument("-k", type=_args.number(int, min=1, max=100), default=5,
                   help="how many symbols and words to show (1-100)")
    q.set_defaults(func=_predict, check=_args.check_lm_predict)

    q = sub.add_parser("train", help="train the character transformer (Chit Chat and/or text files)")
    q.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default: the package's lm_fusion/data)")
    q.add_argument("--text", action="append", metavar="FILE[:WEIGHT]", default=None,
                   help="training text, one message per line, with an optional mixing weight (repeatable; "
                        "'chitchat' = the Chit Chat corpus; default: chitchat)")
    q.add_argument("--valid", action="append", metavar="FILE", default=None,
                   help="validation text (repeatable; 'chitchat' = its validation split); needed with --text FILE")
    q.add_argument("--init", metavar="FILE", default=None,
                   help="start from these weights (same vocabulary and shape): fine-tuning")
    q.add_argument("--minutes", type=_args.number(float, min=0, strict_min=True), default=50.0,
                   help="wall-clock cap (default 50)")
    q.add_argument("--steps", type=_args.number(int, min=1), default=100000, help="step cap")
    q.add_argument("--seed", type=_args.number(int, min=0), default=0)
    q.add_argument("--device", default=None, metavar="DEV",
                   help="cpu, cuda or cuda:N (default: cuda with mixed precision when available, else cpu)")
    q.add_argument("--threads", type=_args.number(int, min=1, max=1024), default=None,
                   help="torch threads on CPU (default: all cores)")
    q.add_argument("--layers", type=_args.number(int, min=1, max=64), default=None,
                   help="default 4 (with --init: the file's)")
    q.add_argument("--d-model", type=_args.number(int, min=1), default=None, help="default 192 (with --init: the file's)")
    q.add_argument("--heads", type=_args.number(int, min=1), default=None, help="default 6 (with --init: the file's)")
    q.add_argument("--lr", type=_args.number(float, min=0, strict_min=True, max=10), default=None,
                   help="peak learning rate (default 2e-3; 5e-4 with --init)")
    q.add_argument("--no-resume", action="store_true", help="ignore a checkpoint in --out")
    q.set_defaults(func=_train, check=_args.check_lm_train)

    q = sub.add_parser("build-ngram", help="build the Kneser-Ney character n-gram from the corpus")
    q.add_argument("--order", type=_args.number(int, min=1, max=10), default=7)
    q.add_argument("--out", default=None, metavar="FILE", help="default: lm_fusion/data/ngram<order>.npz")
    q.set_defaults(func=_build_ngram, check=_args.check_lm_build_ngram)

    q = sub.add_parser("heldout", help="write held-out corpus phrases on the grid alphabet")
    q.add_argument("--out", required=True, metavar="FILE")
    q.add_argument("--split", default="test", choices=("valid", "test"))
    q.add_argument("--max-lines", type=_args.number(int, min=1), default=2000)
    q.set_defaults(func=_heldout, check=_args.check_lm_heldout)

    p.set_defaults(func=lambda args, config: (p.print_help(), 2)[1])


def _model(name, path, config):
    from neurospell.lm_fusion import make_model

    kw = {}
    if path:
        kw["path"] = path
    return make_model(name or config.lm.name, config.lm, **kw)


def _list(args, config) -> int:
    from neurospell.lm_fusion import available_models

    for name, desc in available_models().items():
        mark = "*" if name == config.lm.name else " "
        print(f"{mark} {name:12s} {desc}")
    return 0


def _eval(args, config) -> int:
    from neurospell.lm_fusion import evaluate_lm, read_lines

    alphabet = tuple(config.speller.symbols)
    lines, dropped = read_lines(args.text, alphabet)
    if args.max_lines:
        lines = lines[: args.max_lines]
    n_chars = sum(map(len, lines))
    print(f"{args.text}: {len(lines)} lines, {n_chars} characters on the grid alphabet"
          + (f" ({dropped} characters outside it removed)" if dropped else ""))
    if dropped:
        print(f"warning: {_outside_alphabet(args.text, alphabet)}", file=sys.stderr)
    print(f"{'model':22s} {'bits/char':>9s} {'top-1':>7s} {'top-3':>7s} {'ms/char':>8s}", flush=True)
    results = []
    names = args.lm or [config.lm.name]
    for i, name in enumerate(names, 1):
        t0 = time.perf_counter()
        with _runtime.heartbeat(f"[{i}/{len(names)}] loading {name}"):
            lm = _model(name, None, config)
        load_s = time.perf_counter() - t0
        parts = _runtime.progress_map(lambda chunk, lm=lm: evaluate_lm(lm, chunk, alphabet), lines,
                                      desc=f"[{i}/{len(names)}] scoring {name}", weights=len)
        r = _merge_scores(parts)
        r.update(model=name, load_seconds=load_s)
        results.append(r)
        print(f"{name:22s} {r['bits_per_char']:9.4f} {r['top1']:7.3f} {r['top3']:7.3f} {r['ms_per_char']:8.2f}",
              flush=True)
    if args.json:
        with atomic_write(args.json) as fid:  # complete or absent, Ctrl-C included
            json.dump(results, fid, indent=1)
    return 0


def _merge_scores(parts) -> dict:
    """One ``evaluate_lm`` result from the results on consecutive slices of the lines."""
    n = sum(r["n_chars"] for r, _, _ in parts)
    out = {k: sum(r[k] * r["n_chars"] for r, _, _ in parts) / n for k in ("bits_per_char", "top1", "top3")}
    out.update(n_chars=n, n_lines=sum(r["n_lines"] for r, _, _ in parts),
               ms_per_char=1e3 * sum(s for _, s, _ in parts) / n)
    return out


def _outside_alphabet(path, alphabet) -> str:
    """Which characters of a text file are not on the grid (they are removed before scoring)."""
    allowed = set(alphabet)
    upper = all(a.upper() == a for a in alphabet)
    with open(path, encoding="utf-8", errors="replace") as fid:
        text = fid.read()
    text = text.upper() if upper else text
    counts = Counter(c for c in text if c not in allowed and c not in "\r\n")
    top = ", ".join(f"{c!r} x{n}" for c, n in counts.most_common(8))
    more = f" and {len(counts) - 8} more kinds" if len(counts) > 8 else ""
    return (f"{sum(counts.values())} characters of {str(path)!r} are not on the speller grid and were "
            f"removed before scoring: {top}{more}. Scores are on the remaining text.")


def _predict(args, config) -> int:
    from neurospell.lm_fusion import complete_words, lm_prior

    with _runtime.heartbeat(f"loading {args.lm or config.lm.name}"):
        lm = _model(args.lm, None, config)
    text = args.text.upper()
    with _runtime.heartbeat("scoring the next symbols and word completions"):
        d = lm_prior(lm, text, config.speller.symbols, backspace_p=config.lm.backspace_p)
        words = complete_words(lm, text, args.k)
    print(f"after {text!r} ({lm.name}):")
    for sym, p in d.top(args.k):
        print(f"  {sym if sym != ' ' else '_'}  {p:.3f}")
    if len(words):
        print("words: " + ", ".join(f"{c.text} ({2.718281828 ** c.score:.2f})" for c in words))
    return 0


def _train(args, config) -> int:
    from pathlib import Path

    from neurospell.lm_fusion.training import train_char_transformer
    from neurospell.logs import set_log_level

    set_log_level("INFO")
    out = Path(args.out) if args.out else Path(__file__).resolve().parents[2] / "lm_fusion" / "data"
    shape = dict(n_layer=args.layers, d_model=args.d_model, n_head=args.heads)
    if args.init is None:
        shape = {k: v if v is not None else d for (k, v), d in zip(shape.items(), (4, 192, 6), strict=True)}
    lr = args.lr if args.lr is not None else (5e-4 if args.init else 2e-3)
    report = train_char_transformer(out, sources=args.sources, valid=args.valid, init=args.init,
                                    max_minutes=args.minutes, steps=args.steps, seed=args.seed,
                                    threads=args.threads, device=args.device, resume=not args.no_resume,
                                    lr=lr, **shape)
    print(f"trained {report['steps']} steps in {report['train_seconds']:.0f} s on {report['device']}; "
          f"validation {report['valid_bits_per_char_windows']:.4f} bits/char; files in {out}")
    return 0


def _build_ngram(args, config) -> int:
    from neurospell.lm_fusion.ngram import NgramLM, default_ngram_path
    from neurospell.lm_fusion.text import load_chitchat

    t0 = time.perf_counter()
    with _runtime.heartbeat(f"building the {args.order}-gram from the corpus"):
        lines = [m for conv in load_chitchat("train") for m in conv]
        lm = NgramLM(args.order).fit(lines)
    out = args.out or default_ngram_path(args.order)
    lm.save(out)
    print(f"{args.order}-gram on {lm.n_chars_} characters in {time.perf_counter() - t0:.1f} s -> {out}")
    return 0


def _heldout(args, config) -> int:
    from neurospell.lm_fusion.text import heldout_lines

    lines = heldout_lines(args.split, alphabet=tuple(config.speller.symbols), max_lines=args.max_lines)
    with atomic_write(args.out) as fid:
        fid.write("\n".join(lines) + "\n")
    print(f"{len(lines)} {args.split} phrases -> {args.out}")
    return 0
