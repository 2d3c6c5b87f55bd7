"""Per-command pre-flight checks.

Attached with ``set_defaults(check=...)``; called as ``check(args, config)`` by the CLI
(:func:`neurospell.cli.main`) after the config is loaded, before any work is done.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import re
from pathlib import Path

from ..check import NeurospellError
from ._names import LM_FILE_SUFFIXES, board_spec_problem, check_decoder_name
from ._paths import (
    RAWLOG_SUFFIX,
    check_output_file,
    check_output_folder,
    input_file,
    is_session_folder,
    name_length_problem,
    text_file,
)
from ._preflight import check_lm_choice, check_model_matches_recording, config_source
from ._usage import UsageError

#: Suffixes of the formats `neurospell record --export` writes (kept equal to the recorder's).
EXPORT_SUFFIXES = {"edf": ".edf", "brainvision": ".vhdr"}


def _checked_board(args, config) -> tuple[str, str]:
    """The board spec of ``--board`` or ``[acquisition] source`` and the option that gave it;
    a spec that names no usable board is a usage error naming that option."""
    spec = args.board if args.board is not None else config.acquisition.source
    option = "--board" if args.board is not None else f"[acquisition] source in {config_source(args)}"
    problem = board_spec_problem(spec, config.acquisition)
    if problem:
        raise UsageError(option, problem + ".")
    return spec, option


def check_stream(args, config) -> None:
    spec, option = _checked_board(args, config)
    if spec.strip().lower().startswith("lsl:"):
        raise UsageError(option, f"'stream' republishes a device on LSL; {spec!r} is already an LSL "
                                 "stream. Give a board ('synthetic', 'playback:FILE', a BrainFlow name).")
    if args.name is not None and not args.name.strip():
        raise UsageError("--name", "the LSL stream name is empty. Give a name or leave --name out.")


def record_outputs(out: Path) -> dict[str, Path]:
    """The files `neurospell record --out OUT` writes: the FIF, the rawlog folder, the exports."""
    stem = out.name[: -len(".fif")]
    files = {"fif": out, "rawlog": out.with_name(stem + RAWLOG_SUFFIX)}
    files.update({fmt: out.with_name(stem + ext) for fmt, ext in EXPORT_SUFFIXES.items()})
    return files


def check_record(args, config) -> None:
    _checked_board(args, config)
    out = Path(args.out).expanduser()
    if not out.name.endswith(".fif"):
        suffix = out.suffix.lower()
        fmt = {".edf": "edf", ".vhdr": "brainvision"}.get(suffix)
        hint = (f" To get {fmt.upper() if fmt == 'edf' else 'BrainVision'} too, pass --out "
                f"{str(out.with_suffix('.fif'))!r} --export {fmt}." if fmt else "")
        raise UsageError("--out", f"`record` writes a FIF file; the name must end with .fif (e.g. "
                                  f"session_raw.fif), got {args.out!r}.{hint}")
    check_output_file("--out", args.out, overwrite=args.overwrite)
    outputs = record_outputs(out)
    for kind, path in outputs.items():
        if kind in EXPORT_SUFFIXES and kind not in args.export:
            continue
        problem = name_length_problem(path)
        if problem:
            raise UsageError("--out", f"{problem} ({str(path)!r} is written too).")
        if path.exists() and not args.overwrite:
            if kind == "rawlog":
                raise UsageError("--overwrite", f"the crash copy {str(path)!r} of an earlier recording "
                                                "already exists. Convert it with `neurospell recover "
                                                f"{str(path)!r} --out FILE.fif`, pass --overwrite to move it "
                                                "aside (it is kept), or choose another --out name.")
            what = "the file" if kind == "fif" else f"the {kind} export"
            raise UsageError("--overwrite", f"{what} {str(path)!r} already exists. Pass --overwrite to "
                                            "replace it, or choose another --out name.")
    for fmt, module in (("brainvision", "pybv"), ("edf", "edfio")):
        if fmt in args.export and importlib.util.find_spec(module) is None:
            raise UsageError("--export", f"{fmt!r} needs the {module!r} package, which is not installed: "
                                         f"`pip install {module}`, or record to FIF only.")


def check_train(args, config) -> None:
    check_output_file("--out", args.out, overwrite=args.overwrite)
    if args.decoder is not None:
        check_decoder_name("--decoder", args.decoder)
    else:
        check_decoder_name(f"[decoder] name in {config_source(args)}", config.decoder.name,
                           " Fix the config or pass --decoder NAME.")
    from neurospell.decoder import DECODERS

    name = args.decoder or config.decoder.name
    accepted = DECODERS[name]._param_names()
    for flag, key in (("--max-epochs", "max_epochs"), ("--n-folds", "n_folds"), ("--device", "device"),
                      ("--seed", "seed")):
        if getattr(args, key, None) is not None and key not in accepted:
            raise NeurospellError(f"{flag} does not apply to the {name!r} decoder (it has no such "
                                  "setting; the neural decoders do). Drop it.")


def check_evaluate(args, config) -> None:
    if args.plot:
        check_output_file("--plot", args.plot, overwrite=None, suffixes=(".png",))


def check_replay(args, config) -> None:
    if is_session_folder(args.file):
        return check_replay_session(args, config)
    if args.fmt is not None:
        check_replay_fmt(args.fmt)
    if args.as_lsl:
        for flag, given in (("--save-epochs", args.save_epochs), ("--decoder", args.decoder),
                            ("--lm", args.lm), ("--lm-path", args.lm_path),
                            ("--no-dynamic-stopping", args.no_dynamic_stopping)):
            if given:
                raise NeurospellError(f"{flag} applies to the batch replay, not to --as-lsl. Drop one of them.")
        if not args.name.strip():
            raise UsageError("--name", "the LSL stream name is empty.")
        return
    for flag, given in (("--speed", args.speed != 1.0), ("--wait", args.wait is not None)):
        if given:
            raise NeurospellError(f"{flag} applies to --as-lsl; the batch replay always runs as fast as "
                                  "possible. Add --as-lsl or drop it.")
    if args.decoder is None:
        for flag, given in (("--lm", args.lm), ("--lm-path", args.lm_path),
                            ("--no-dynamic-stopping", args.no_dynamic_stopping)):
            if given:
                raise NeurospellError(f"{flag} applies with --decoder MODEL (decoding the recording into "
                                      "text). Add --decoder MODEL or drop it.")
    else:
        name = args.lm or config.lm.name
        if name != "uniform":
            check_lm_choice("--lm", name, args.lm_path, config, args)
    if args.save_epochs:
        check_output_file("--save-epochs", args.save_epochs, overwrite=None, suffixes=(".npz",))
    if args.decoder is not None:  # last: reads the model and the recording
        from neurospell.decoder import load_decoder
        from neurospell.preprocessing import load_recording

        kw = {k: v for k, v in (("board_id", args.board_id), ("eeg_stream", args.eeg_stream),
                                ("marker_stream", args.marker_stream)) if v is not None}
        decoder = load_decoder(args.decoder, preprocess=config.preprocessing)
        raw = load_recording(args.file, fmt=args.fmt, **kw)
        check_model_matches_recording(decoder, raw, config.preprocessing)


def check_inspect(args, config) -> None:
    if args.no_plot and args.plot:
        raise NeurospellError("--plot and --no-plot contradict each other. Drop one of them.")
    if args.fmt is not None:
        check_replay_fmt(args.fmt)
    if args.plot:
        check_output_file("--plot", args.plot, overwrite=None, suffixes=(".png",))


def check_replay_session(args, config) -> None:
    """``neurospell replay SESSION_DIR``: the session's own model and LM unless --decoder/--lm."""
    for flag, given in (("--as-lsl", args.as_lsl), ("--fmt", args.fmt), ("--board-id", args.board_id),
                        ("--eeg-stream", args.eeg_stream), ("--marker-stream", args.marker_stream),
                        ("--save-epochs", args.save_epochs), ("--speed", args.speed != 1.0),
                        ("--wait", args.wait is not None), ("--no-dynamic-stopping", args.no_dynamic_stopping)):
        if given:
            raise NeurospellError(
                f"{flag} does not apply to a session folder ({args.file}): `neurospell replay SESSION_DIR` "
                "reruns the session's spelling runs with its own config and model (--decoder MODEL and "
                "--lm NAME replay them with others). Drop it.")
    if args.lm is not None and args.lm != "uniform":
        check_lm_choice("--lm", args.lm, args.lm_path, config, args)


def check_replay_fmt(fmt) -> None:
    from neurospell.preprocessing import SUPPORTED_FORMATS

    if fmt not in SUPPORTED_FORMATS:
        raise UsageError("--fmt", f"unknown format {fmt!r}. Allowed: {', '.join(SUPPORTED_FORMATS)}.")


def check_demo(args, config) -> None:
    check_lm_choice("--lm", args.lm or config.lm.name, args.lm_path, config, args)
    if args.decoder is not None:
        check_decoder_name("--decoder", args.decoder)
    else:
        check_decoder_name(f"[decoder] name in {config_source(args)}", config.decoder.name,
                           " Fix the config or pass --decoder NAME.")


def check_lm_eval(args, config) -> None:
    if not args.text and not args.sets:
        raise UsageError("--text", "no held-out text given: pass --text FILE or --set NAME=FILE (repeatable).")
    names = [Path(f).stem for f in args.text] + [n for n, _ in args.sets]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UsageError("--set", f"the set name(s) {', '.join(map(repr, dup))} are given twice (a --text "
                                  "set is named after its file). Name each set once, e.g. --set NAME=FILE.")
    for name in args.lm or [config.lm.name]:
        check_lm_choice("--lm", LM_FILE_SUFFIXES.get(Path(name).suffix, name), args.lm_path, config, args)
    if args.json:
        check_output_file("--json", args.json, overwrite=None, suffixes=(".json",))


def check_lm_predict(args, config) -> None:
    check_lm_choice("--lm", args.lm or config.lm.name, args.lm_path, config, args)
    symbols = set(config.speller.symbols)
    text = args.text.upper() if all(s.upper() == s for s in symbols) else args.text
    bad = sorted({c for c in text if c not in symbols})
    if bad:
        n = sum(c not in symbols for c in text)
        raise UsageError("TEXT", f"{n} character(s) of {args.text!r} are not on the speller grid: "
                                 f"{' '.join(map(repr, bad))}. Allowed: {config.speller.symbols!r} "
                                 "(letters are upper-cased). Remove them.")


def check_lm_train(args, config) -> None:
    d_model, heads = args.d_model or 192, args.heads or 6
    if (args.d_model or args.heads) and d_model % heads:
        raise UsageError("--d-model", f"must be a multiple of --heads ({heads}), got {d_model}.")
    if args.out is not None:
        check_output_folder("--out", args.out)
    args.sources = None
    if args.text:
        args.sources = []
        for item in args.text:
            name, sep, weight = item.rpartition(":") if ":" in item else (item, "", "")
            w = 1.0
            if sep:
                try:
                    w = float(weight)
                except ValueError:
                    name, w = item, 1.0  # a ':' inside the path, no weight
            if not (w > 0 and math.isfinite(w)):
                raise UsageError("--text", f"the mixing weight after ':' must be a positive number, got {item!r}.")
            if name != "chitchat":
                try:
                    name = text_file(name)
                except argparse.ArgumentTypeError as err:
                    raise UsageError("--text", str(err)) from None
            args.sources.append((name, w))
        if args.valid is None and any(n != "chitchat" for n, _ in args.sources):
            raise UsageError("--valid", "training on text files needs validation text: add --valid FILE "
                                        "(one message per line; 'chitchat' = its validation split).")
    for v in args.valid or ():
        if v != "chitchat":
            try:
                text_file(v)
            except argparse.ArgumentTypeError as err:
                raise UsageError("--valid", str(err)) from None
    if args.init is not None:
        try:
            input_file("weights file")(args.init)
        except argparse.ArgumentTypeError as err:
            raise UsageError("--init", str(err)) from None
    if args.device is not None and not re.fullmatch(r"cpu|cuda(:\d+)?", args.device):
        raise UsageError("--device", f"must be cpu, cuda or cuda:N, got {args.device!r}.")


def check_lm_build_ngram(args, config) -> None:
    if args.out is not None:
        check_output_file("--out", args.out, overwrite=None, suffixes=(".npz",))


def check_lm_build_word(args, config) -> None:
    check_output_file("--out", args.out, overwrite=None, suffixes=(".npz",))


def check_lm_corpus(args, config) -> None:
    from neurospell.lm_fusion.corpus import SOURCES

    for name in args.only or []:
        if name not in SOURCES:
            raise UsageError("--source", f"unknown corpus source {name!r}. Allowed: {', '.join(SOURCES)}.")
    check_output_folder("--out", args.out)
    from neurospell.lm_fusion.corpus import check_sources

    check_sources(args.only or list(SOURCES), args.sources)


def check_lm_heldout(args, config) -> None:
    check_output_file("--out", args.out, overwrite=None)
