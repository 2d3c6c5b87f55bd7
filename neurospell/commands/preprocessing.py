"""Command-line subcommands: ``replay`` and ``inspect``.

``neurospell replay FILE``           run the recording through the live preprocessing path
``neurospell replay SESSION_DIR``    rerun a session folder's spelling runs, compare the decisions
``neurospell replay FILE --as-lsl``  publish it as live LSL streams (``--speed X``)
``neurospell inspect FILE``          channels, duration, rate, marker counts, ERP plot with --plot
"""

from __future__ import annotations

import sys

from . import _args


def _add_reader_args(p, several: bool = False) -> None:
    if several:  # inspect: recordings and session folders (their labelled runs)
        p.add_argument("file", nargs="+", metavar="FILE", type=_args.recording_file, help="recordings (FIF, EDF/BDF, .vhdr, .set, .xdf, BrainFlow .csv, g.tec .mat, .nsraw, .gdf, BCI2000 .dat) or session folders (their calibration and copy-spelling runs)")
    else:
        p.add_argument("file", type=_args.recording_file, help="recording (FIF, EDF/BDF, .vhdr, .set, .xdf, BrainFlow .csv, g.tec .mat, .nsraw, .gdf, BCI2000 .dat) or, for replay, a session folder")
    p.add_argument("--fmt", default=None, help="file format when the name does not tell")
    p.add_argument("--board-id", type=_args.number(int), default=None, help="BrainFlow board id of a BrainFlow file")
    p.add_argument("--eeg-stream", default=None, help="XDF: name or type of the EEG stream")
    p.add_argument("--marker-stream", action="append", default=None,
                   help="XDF: name or type of a marker stream (repeatable)")


def _reader_kwargs(args) -> dict:
    kw = {}
    if args.board_id is not None:
        kw["board_id"] = args.board_id
    if args.eeg_stream is not None:
        kw["eeg_stream"] = args.eeg_stream
    if args.marker_stream is not None:
        kw["marker_stream"] = args.marker_stream
    return kw


def register(subparsers) -> None:
    """Add this module's subcommands to the ``neurospell`` parser."""
    p = subparsers.add_parser(
        "replay",
        help="replay a recording through the pipeline, or as live LSL streams (--as-lsl)",
        description="Replay a recording: by default run it through the live preprocessing path as "
        "fast as possible and summarise the epochs; with --as-lsl publish its EEG and markers as "
        "LSL streams with the original timing (or --speed X times faster). Given a session folder "
        "(written by a live session), rerun its spelling runs from the raw data with the session's "
        "config, model and language model and check that every live decision is reproduced; "
        "--decoder MODEL / --lm NAME replay it with other models and show the difference.",
    )
    _add_reader_args(p)
    p.add_argument("--as-lsl", action="store_true", help="publish as LSL streams instead of processing")
    p.add_argument("--speed", type=_args.number(float, min=0, strict_min=True, max=1000), default=1.0, help="playback speed for --as-lsl (default 1.0)")
    p.add_argument("--name", default="neurospell-replay",
                   help="LSL stream name (markers: NAME-markers); default neurospell-replay")
    p.add_argument("--wait", type=_args.number(float, min=0, max=3600, unit="seconds"), default=None,
                   help="--as-lsl: seconds to wait for a consumer before streaming (default: start at once)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--save-epochs", metavar="NPZ", default=None,
                   help="batch replay: save the epochs (data, codes, onsets, targets, trials) to an .npz")
    p.add_argument("--decoder", metavar="MODEL", default=None, type=_args.model_file,
                   help="batch replay: decode the flashes into text with this model (from `neurospell train`); "
                   "session folder: replay with this model instead of the session's")
    p.add_argument("--lm", metavar="NAME", default=None, type=_args.lm_name,
                   help="with --decoder: language model (default: [lm] name of the config; 'uniform' for none); "
                   "session folder: replay with this LM instead of the session's")
    p.add_argument("--lm-path", metavar="FOLDER", default=None, type=_args.input_folder("model folder"),
                   help="with --lm hf: folder of a Hugging Face causal LM (default: [lm] path)")
    p.add_argument("--no-dynamic-stopping", action="store_true",
                   help="with --decoder: use every recorded repetition instead of stopping when confident")
    p.set_defaults(func=_replay, check=_args.check_replay)

    p = subparsers.add_parser(
        "inspect",
        help="channels, duration, sampling rate, marker counts (and an ERP plot with --plot) of a recording",
    )
    _add_reader_args(p, several=True)
    p.add_argument("--plot", metavar="PNG", default=None,
                   help="also save the ERP plot (target vs non-target average) to this PNG")
    p.add_argument("--no-plot", action="store_true", help="summary only (the default; kept for scripts)")
    p.set_defaults(func=_inspect, check=_args.check_inspect)


def _replay(args, config) -> int:
    from neurospell.check import NeurospellError
    from neurospell.session.replay import replay_batch, replay_lsl

    if _args.is_session_folder(args.file):
        return _replay_session(args)

    if args.as_lsl:
        if args.save_epochs:
            raise NeurospellError("--save-epochs applies to the batch replay, not to --as-lsl.")
        print(f"Publishing {args.file} as LSL streams {args.name!r} and {args.name + '-markers'!r} "
              f"at {args.speed:g}x; Ctrl-C stops.", file=sys.stderr)
        out = replay_lsl(args.file, speed=args.speed, name=args.name, fmt=args.fmt,
                         wait_for_consumers=args.wait, progress=not args.no_progress,
                         reader_kwargs=_reader_kwargs(args))
        print(f"replayed {out['n_samples']} samples and {out['n_markers']} markers in "
              f"{out['duration_s']:.1f} s")
        return 0
    if args.speed != 1.0:
        raise NeurospellError("--speed applies to --as-lsl; the batch replay always runs as fast as possible.")
    if args.save_epochs:
        from neurospell.check import check_fname

        check_fname(args.save_epochs, "--save-epochs", must_exist=False)
    if args.decoder is None and args.lm is not None:
        raise NeurospellError("--lm applies with --decoder MODEL (decoding the recording into text).")
    from neurospell.preprocessing import load_recording

    raw = load_recording(args.file, fmt=args.fmt, **_reader_kwargs(args))
    driver = None
    if args.decoder is not None:
        from neurospell.decoder import load_decoder

        # provenance: refuse a model trained for another band, window or reference before decoding
        decoder = load_decoder(args.decoder, preprocess=config.preprocessing)
        driver = _stream_driver(raw, decoder, args, config)
    res = replay_batch(raw, config.preprocessing, progress=not args.no_progress, driver=driver)
    res.summary["file"] = args.file
    s = res.summary
    print(f"file:      {s['file']}")
    print(f"duration:  {s['duration_s']:.1f} s at {s['sfreq']:g} Hz, {s['n_channels']} channels epoched")
    print(f"flashes:   {s['n_flashes']}, epochs: {s['n_epochs']}"
          + (f" ({s['n_targets']} targets)" if s["n_targets"] is not None else ""))
    print(f"trials:    {s['n_trials']}")
    dropped = ", ".join(f"{k}: {v}" for k, v in sorted(s["dropped"].items())) or "none"
    print(f"dropped:   {dropped}")
    print(f"processed in {s['elapsed_s']:.2f} s ({s['speed']:.0f}x real time)")
    if args.save_epochs:
        from neurospell.batchio import save_batch

        save_batch(res.batch, args.save_epochs)
        print(f"epochs saved to {args.save_epochs}")
    if driver is not None:
        _print_phrases(driver, config)
    return 0


def _replay_session(args) -> int:
    """``neurospell replay SESSION_DIR``: rerun the session's spelling runs and compare decisions."""
    from neurospell.session.sessiondir import replay_session

    lm = args.lm
    if lm == "hf" and args.lm_path:
        from neurospell.lm_fusion import make_model
        from neurospell.session.sessiondir import SessionFolder

        cfg = SessionFolder.open(args.file).read_config()
        lm = make_model("hf", cfg.lm, path=args.lm_path)
    report = replay_session(args.file, decoder=args.decoder, lm=lm)
    print(f"session:   {args.file}")
    print(f"model:     {report.decoder}, language model {report.lm}"
          + (" (the session's own)" if report.same_models else ""))
    for line in report.lines():
        print(line)
    if report.same_models and not report.reproduced:
        print("the replay did not reproduce the live session (see the first difference above)", file=sys.stderr)
        return 1
    return 0


def _stream_driver(raw, decoder, args, config):
    """The stream driver decoding the replay flash by flash: one engine without the language
    model and one with it (unless ``--lm uniform``), the scores computed once."""
    from neurospell.lm_fusion import make_model
    from neurospell.session import SpellerEngine, StreamDriver, model_alpha

    layout = config.speller.layout()
    over = {"stop_threshold": 1.0} if args.no_dynamic_stopping else {}
    lm = args.lm or config.lm.name
    engines = [SpellerEngine.from_config(layout, decoder.score_model_, None, config, **over)]
    if lm != "uniform":
        engines.append(SpellerEngine.from_config(layout, decoder.score_model_, make_model(lm, config.lm),
                                                 config, model_alpha=model_alpha(decoder, lm), **over))
    names = ["none", lm]
    print(f"decoding with {getattr(decoder, 'name', 'decoder')} and language model {lm!r} "
          f"(alpha {engines[-1].alpha:g}), flash by flash:")

    def on_events(k, events):
        d = events[0]
        if k == len(engines) - 1:
            print(f"  {d.decision.symbol!r:5} p={d.decision.posterior:.2f} after "
                  f"{d.decision.n_repetitions:2d} repetitions -> {d.text!r}", flush=True)

    driver = StreamDriver.for_recording(engines, decoder, config.preprocessing, raw, on_events=on_events)
    driver.lm_names = names
    return driver


def _print_phrases(driver, config) -> None:
    """One line per phrase and condition: each phrase decoded from its own empty context."""
    from neurospell.check import NeurospellError
    from neurospell.session.spelling import spelling_result

    if not any(d for ph in driver.phrases for d in ph.decisions[0]):
        raise NeurospellError(
            "--decoder: no flash with a row/column code to decode (flash codes must be group "
            "indices + 1). Recordings without row/column codes (such as the g.tec files) cannot "
            "be decoded into text; use `neurospell simulate`.")
    layout = config.speller.layout()
    n_groups = layout.n_groups
    for k, name in enumerate(driver.lm_names[:len(driver.engines)]):
        for i, ph in enumerate(driver.phrases):
            syms = ph.symbols
            intended = "".join(syms) if syms and all(s is not None for s in syms) else None
            res = spelling_result(ph.decisions[k], layout, config.speller, intended=intended, lm_name=name)
            tag = f"[{name}] phrase {i + 1}" + (f" ({ph.kind})" if ph.kind else "")
            line = f"{tag} decoded: {res.decoded!r}"
            fpc, cpm = res.flashes_per_char, res.chars_per_minute
            rates = (f"{_num(None if fpc is None else fpc / n_groups, '.1f')} repetitions/char, "
                     f"{_num(cpm, '.2f')} chars/min")
            if res.intended:
                line += (f"  intended: {res.intended!r}  accuracy {res.accuracy:.2f}, CER {res.cer:.2f}, "
                         f"{rates}, ITR {_num(res.itr, '.1f')} bits/min")
            else:
                line += f"  {rates} (no intended text in the file: no accuracy)"
            print(line)


def _num(value, spec: str) -> str:
    """A figure as text; ``-`` for an undefined one (``None``, see :mod:`neurospell.session.stats`)."""
    return "-" if value is None else format(value, spec)


def _inspect(args, config) -> int:
    files = _args.expand_recordings(args.file)  # session folders: their labelled runs
    if args.plot and len(files) > 1:
        from neurospell.check import NeurospellError

        raise NeurospellError(f"--plot draws the ERP of one recording; the inputs hold {len(files)} "
                              f"({', '.join(files)}). Pass one recording with --plot, or drop --plot.")
    for k, file in enumerate(files):
        if k:
            print()
        _inspect_one(file, args, config)
    return 0


def _inspect_one(file, args, config) -> None:
    from neurospell.preprocessing import load_recording
    from neurospell.preprocessing.inspect import plot_erp, summarize_raw

    raw = load_recording(file, fmt=args.fmt, **_reader_kwargs(args))
    s = summarize_raw(raw)
    types = ", ".join(f"{n} {t}" for t, n in s["ch_types"].items())
    print(f"file:       {file}")
    print(f"channels:   {len(s['ch_names'])} ({types}): {' '.join(s['ch_names'])}")
    print(f"duration:   {s['duration_s']:.2f} s ({s['n_samples']} samples at {s['sfreq']:g} Hz)")
    print(f"flashes:    {s['n_flashes']} (targets {s['n_targets']}, non-targets {s['n_nontargets']}, "
          f"unlabelled {s['n_unknown']})")
    if s["flash_codes"]:
        print("codes:      " + ", ".join(f"{c}: {n}" for c, n in s["flash_codes"].items()))
    print(f"trials:     {s['n_trials']}")
    if s["other_markers"]:
        print("markers:    " + ", ".join(f"{d!r}: {n}" for d, n in list(s["other_markers"].items())[:10]))
    if args.plot:
        path = plot_erp(raw, config.preprocessing, args.plot)
        print(f"ERP plot:   {path}")
