"""Command-line subcommands: ``neurospell lm ...`` (language models).

- ``lm list``: the registered models.
- ``lm eval --text FILE | --set NAME=FILE ... [--lm NAME|FILE ...]``: per held-out set, bits per
  character, top-1/top-3 next-character accuracy and word-completion keystroke savings (one
  phrase per line, each scored from an empty context).
- ``lm predict TEXT``: the next-symbol distribution and word completions after TEXT.
- ``lm train``: train (or fine-tune, ``--init``) the character transformer on Chit Chat and/or
  text files (fixed seed; CUDA with mixed precision when present, else all CPU cores).
- ``lm build-ngram``: build the Kneser-Ney n-gram from the corpus.
- ``lm build-word --text FILE --out FILE``: build the word n-gram model from text.
- ``lm heldout --out FILE``: write held-out corpus phrases (for ``lm eval``).
- ``lm corpus --out DIR --sources DIR``: build the training text and the held-out test sets
  from packaged corpora downloaded beforehand (``make lm-sources``).
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

    q = sub.add_parser("eval", help="bits per character, next-character accuracy and keystroke savings on "
                                     "held-out text files")
    q.add_argument("--text", action="append", metavar="FILE", type=_args.text_file, default=[],
                   help="UTF-8 text file, one phrase per line (repeatable; the set is named after the file)")
    q.add_argument("--set", action="append", metavar="NAME=FILE", type=_args.named_text_file, default=[],
                   dest="sets", help="a named held-out set (repeatable), e.g. requests=test_requests.txt")
    q.add_argument("--lm", action="append", metavar="NAME", type=_args.lm_name_or_file,
                   help="model name (repeatable; default: [lm] name). 'a+b' is a 50/50 mixture; FILE.npz is "
                        "an n-gram of `lm build-ngram`, FILE.pt transformer weights of `lm train`")
    q.add_argument("--lm-path", metavar="FOLDER", type=_args.input_folder("model folder"),
                   help="folder of a Hugging Face model (for --lm hf)")
    q.add_argument("--max-lines", type=_args.number(int, min=1), default=None,
                   help="score only the first N lines of each set")
    q.add_argument("--ks-lines", type=_args.number(int, min=0), default=100,
                   help="keystroke savings of word completion on the first N lines of each set "
                        "(default 100; 0: skip)")
    q.add_argument("--completions", type=_args.number(int, min=1, max=20), default=3,
                   help="word completions offered at each keystroke for the keystroke savings (1-20, default 3)")
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
    q.add_argument("--order", type=_args.number(int, min=1, max=16), default=7,
                   help="n (1-16; orders above 10 hash the longest n-grams; default 7)")
    q.add_argument("--text", metavar="FILE", type=_args.text_file, default=None,
                   help="train on this text file, one message per line (e.g. train.txt of `lm corpus`); "
                        "default: the Chit Chat training split")
    q.add_argument("--min-count", type=_args.number(int, min=1), default=1,
                   help="drop n-grams of order >= 3 seen fewer times (default 1: keep all)")
    q.add_argument("--out", default=None, metavar="FILE", help="default: lm_fusion/data/ngram<order>.npz")
    q.set_defaults(func=_build_ngram, check=_args.check_lm_build_ngram)

    q = sub.add_parser("build-word", help="build the word n-gram model (a component of the default) from text")
    q.add_argument("--text", metavar="FILE", type=_args.text_file, required=True,
                   help="training text, one message per line (e.g. train.txt of `lm corpus`)")
    q.add_argument("--order", type=_args.number(int, min=1, max=4), default=3, help="word n-gram order (default 3)")
    q.add_argument("--min-count", type=_args.number(int, min=1), default=1,
                   help="words seen fewer times are out of vocabulary (default 1)")
    q.add_argument("--out", required=True, metavar="FILE", help="the model file (.npz)")
    q.set_defaults(func=_build_word, check=_args.check_lm_build_word)

    q = sub.add_parser("heldout", help="write held-out corpus phrases on the grid alphabet")
    q.add_argument("--out", required=True, metavar="FILE")
    q.add_argument("--split", default="test", choices=("valid", "test"))
    q.add_argument("--max-lines", type=_args.number(int, min=1), default=2000)
    q.set_defaults(func=_heldout, check=_args.check_lm_heldout)

    q = sub.add_parser("corpus", help="build training text and held-out test sets from packaged corpora")
    q.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    q.add_argument("--sources", required=True, metavar="DIR", type=_args.input_folder("sources folder"),
                   help="folder of the downloaded packages (make lm-sources)")
    q.add_argument("--source", action="append", metavar="NAME", dest="only",
                   help="build only this source (repeatable; default: all)")
    q.set_defaults(func=_corpus, check=_args.check_lm_corpus)

    p.set_defaults(func=lambda args, config: (p.print_help(), 2)[1])


def _model(name, path, config):
    from pathlib import Path

    from neurospell.lm_fusion import make_model

    kw = {}
    if path:
        kw["path"] = path
    if name and Path(name).suffix in _args.LM_FILE_SUFFIXES:  # a model file (lm eval)
        kind = _args.LM_FILE_SUFFIXES[Path(name).suffix]
        try:
            model = make_model(kind, config.lm, path=name)
        except Exception as err:  # noqa: BLE001 - any failure to read the user's file is bad input
            raise _args.UsageError("--lm", f"{name!r} is not a readable {kind} model file ({type(err).__name__}: "
                                           f"{err}). Give a file written by `neurospell lm "
                                           f"{'build-ngram' if kind == 'ngram' else 'train'}`.") from err
        model.name = name
        return model
    return make_model(name or config.lm.name, config.lm, **kw)


def _list(args, config) -> int:
    from neurospell.lm_fusion import available_models

    for name, desc in available_models().items():
        mark = "*" if name == config.lm.name else " "
        print(f"{mark} {name:12s} {desc}")
    return 0


def _eval(args, config) -> int:
    from pathlib import Path

    from neurospell.lm_fusion import evaluate_lm, keystroke_savings, read_lines

    alphabet = tuple(config.speller.symbols)
    sets = [(Path(f).stem, f) for f in args.text] + list(args.sets)
    data = []
    for set_name, fname in sets:
        lines, dropped = read_lines(fname, alphabet)
        if args.max_lines:
            lines = lines[: args.max_lines]
        n_chars = sum(map(len, lines))
        print(f"set {set_name}: {fname}: {len(lines)} lines, {n_chars} characters on the grid alphabet"
              + (f" ({dropped} characters outside it removed)" if dropped else ""), flush=True)
        if dropped:
            print(f"warning: {_outside_alphabet(fname, alphabet)}", file=sys.stderr)
        data.append((set_name, fname, lines))
    ks_lines, k = args.ks_lines, args.completions
    results = {name: [] for name, _, _ in data}
    names = args.lm or [config.lm.name]
    for i, name in enumerate(names, 1):
        t0 = time.perf_counter()
        with _runtime.heartbeat(f"[{i}/{len(names)}] loading {name}"):
            lm = _model(name, None, config)
        load_s = time.perf_counter() - t0
        for set_name, fname, lines in data:
            lm.reset()
            parts = _runtime.progress_map(lambda chunk, lm=lm: evaluate_lm(lm, chunk, alphabet), lines,
                                          desc=f"[{i}/{len(names)}] scoring {name} on {set_name}", weights=len)
            r = _merge_scores(parts)
            if ks_lines:
                lm.reset()
                with _runtime.heartbeat(f"[{i}/{len(names)}] keystroke savings of {name} on {set_name}"):
                    t1 = time.perf_counter()
                    r.update(keystroke_savings(lm, lines[:ks_lines], k), ks_lines=min(ks_lines, len(lines)),
                             ks_seconds=time.perf_counter() - t1)
            r.update(set=set_name, file=str(fname), model=name, load_seconds=load_s)
            results[set_name].append(r)
        print(f"[{i}/{len(names)}] {name} done", file=sys.stderr, flush=True)
    for set_name, fname, lines in data:
        print(f"\n{set_name} ({fname}, {len(lines)} lines, each from an empty context"
              + (f"; keystroke savings on the first {min(ks_lines, len(lines))} lines, {k} completions" if ks_lines
                 else "") + ")")
        w = max([22] + [len(r["model"]) for r in results[set_name]])
        print(f"{'model':{w}s} {'bits/char':>9s} {'top-1':>7s} {'top-3':>7s} {'KS':>7s} {'ms/char':>8s}")
        for r in results[set_name]:
            ks = f"{r['keystroke_savings']:7.3f}" if ks_lines else f"{'-':>7s}"
            print(f"{r['model']:{w}s} {r['bits_per_char']:9.4f} {r['top1']:7.3f} {r['top3']:7.3f} {ks} "
                  f"{r['ms_per_char']:8.2f}", flush=True)
    if args.json:
        with atomic_write(args.json) as fid:  # complete or absent, Ctrl-C included
            json.dump([r for name, _, _ in data for r in results[name]], fid, indent=1)
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
    with _runtime.heartbeat(f"building the {args.order}-gram from {args.text or 'the corpus'}"):
        if args.text:
            with open(args.text, encoding="utf-8") as fid:
                lines = fid.read().splitlines()
        else:
            lines = [m for conv in load_chitchat("train") for m in conv]
        lm = NgramLM(args.order, min_count=args.min_count).fit(lines)
    fit_s = time.perf_counter() - t0
    out = args.out or default_ngram_path(args.order)
    lm.save(out)
    print(f"{args.order}-gram on {lm.n_chars_} characters: {sum(len(k) for k in lm.keys_)} n-grams, "
          f"{lm.n_bytes() / 1e6:.0f} MB in memory, fitted in {fit_s:.1f} s, saved in "
          f"{time.perf_counter() - t0 - fit_s:.1f} s -> {out}")
    return 0


def _build_word(args, config) -> int:
    from neurospell.lm_fusion.wordlm import WordLM

    t0 = time.perf_counter()
    with open(args.text, encoding="utf-8", errors="replace") as fid:
        lines = fid.read().splitlines()
    with _runtime.heartbeat(f"counting the word {args.order}-grams of {args.text}"):
        lm = WordLM(order=args.order, min_count=args.min_count).fit(lines)
    lm.save(args.out)
    print(f"word {args.order}-gram: {len(lm.words_)} words, {lm.n_words_seen_} words of text, "
          f"{time.perf_counter() - t0:.1f} s -> {args.out}")
    return 0


def _heldout(args, config) -> int:
    from neurospell.lm_fusion.text import heldout_lines

    lines = heldout_lines(args.split, alphabet=tuple(config.speller.symbols), max_lines=args.max_lines)
    with atomic_write(args.out) as fid:
        fid.write("\n".join(lines) + "\n")
    print(f"{len(lines)} {args.split} phrases -> {args.out}")
    return 0


def _corpus(args, config) -> int:
    from neurospell.lm_fusion.corpus import build_corpus

    t0 = time.perf_counter()
    with _runtime.heartbeat("building the corpus"):
        manifest = build_corpus(args.out, args.sources, sources=args.only)
    for fname, info in manifest["files"].items():
        print(f"{fname:24s} {info['lines']:9d} lines {info['chars']:11d} characters")
    print(f"corpus in {args.out} ({time.perf_counter() - t0:.0f} s)")
    return 0
