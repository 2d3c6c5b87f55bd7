"""``neurospell spell``: a live closed-loop speller session (calibrate, train, spell)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import time

from ..check import NeurospellError
from ..lifecycle import EXIT_CTRL_C, EXIT_SIGTERM, Terminated, sigterm_as_interrupt
from . import _args, _start

#: Calibration text when neither --calibrate nor --model is given.
DEFAULT_CALIBRATION = "THE QUICK FOX"
#: ``--demo`` (``make demo``): the live closed loop on loopback with the parametric simulated
#: participant, a short calibration, a fast decoder and the language model; options given on
#: the command line win over these.
DEMO = {"source": "simulated", "calibrate": "SPELL IT", "copy": "HELLO WORLD", "decoder": "xdawncov-ts-lr",
        "soa": 0.125, "inter_trial": 0.4, "calibration_repetitions": 5, "max_repetitions": 6, "amplitude": 15.0,
        "max_minutes": 5.0}
_SOURCES = "synthetic, lsl:NAME, replay:FILE or simulated"
#: Exit status when the disk of the session folder filled up (the session stopped cleanly).
EXIT_DISK_FULL = 4


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "spell",
        help="live closed-loop spelling: flash, read the EEG, decode and type in real time",
        description=(
            "A live session: the display flashes rows and columns, each flash's marker goes out with "
            "the onset the display reported, the EEG source's samples are epoched, scored and fused "
            "with the language model, and each decision is typed (and sent as a select:S marker). "
            "Phases: calibration on --calibrate TEXT (or a trained --model), training, copy spelling "
            "of --copy TEXT (accuracy), free spelling otherwise. Sources: 'simulated' (a simulated "
            "participant process over LSL on this machine, no hardware), 'synthetic' (BrainFlow's "
            "synthetic board: no P300, chance accuracy), 'lsl:NAME' (an LSL EEG stream; the session's "
            "marker stream must reach the recording side) or 'replay:FILE' (a recording played over "
            "LSL: chance accuracy). Stop conditions: [speller] max_selections, max_minutes, "
            "max_consecutive_errors, Ctrl-C (exit status 130) or SIGTERM (the same clean stop: the phase "
            "is written, the summary printed; exit status 143). When the simulated participant process "
            "exits by itself the session says so and stops (exit status 2). "
            f"Exit status {EXIT_DISK_FULL}: the disk of --out filled up: the session stopped, one line says what was kept "
            "and the `neurospell recover` command to run once there is room, then the summary."
        ),
    )
    p.add_argument("--source", default=None, help=f"{_SOURCES} (default: simulated)")
    p.add_argument("--copy", metavar="TEXT", default=None, help="copy-spell this phrase (accuracy measured)")
    p.add_argument("--calibrate", metavar="TEXT", default=None,
                   help=f"calibration text (default {DEFAULT_CALIBRATION!r} unless --model is given)")
    _start.add_start_arguments(p)
    p.add_argument("--decoder", default=None, help="decoder trained after calibration (default: [decoder] name)")
    p.add_argument("--lm", default=None, type=_args.lm_name,
                   help="language model (default: [lm] name; 'uniform' for none)")
    p.add_argument("--lm-path", metavar="FOLDER", default=None, type=_args.input_folder("model folder"),
                   help="with --lm hf: folder of a Hugging Face causal LM (default: [lm] path)")
    p.add_argument("--demo", action="store_true",
                   help="the demo (`make demo`): simulated participant, calibration on "
                        f"{DEMO['calibrate']!r}, copy {DEMO['copy']!r} with the language model, "
                        f"{DEMO['decoder']}; other options override its settings")
    p.add_argument("--headless", action="store_true",
                   help="no window: flashes are scheduled on a clock (required until the GUI runs sessions)")
    p.add_argument("--out", metavar="SESSION_DIR", default=None,
                   help="write the session folder here (BIDS-EEG runs, model, decision log)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing session folder at --out")
    p.add_argument("--soa", type=_args.number(float, min=0.02, max=2.0, unit="s"), default=None, metavar="S",
                   help="stimulus onset asynchrony, 0.02-2 s (default: [speller] soa)")
    p.add_argument("--inter-trial", type=_args.number(float, min=0.0, max=30.0, unit="s"), default=None, metavar="S",
                   help="pause between selections, 0-30 s (default: [speller] inter_trial)")
    p.add_argument("--calibration-repetitions", type=_args.number(int, min=1, max=50), default=None, metavar="N",
                   help="repetitions per calibration character, 1-50 (default: [speller] calibration_repetitions)")
    p.add_argument("--max-repetitions", type=_args.number(int, min=1, max=50), default=None, metavar="N",
                   help="repetitions before a forced decision, 1-50 (default: [speller] max_repetitions)")
    p.add_argument("--max-selections", type=_args.number(int, min=0), default=None, metavar="N",
                   help="stop after N selections (0: no limit; default: [speller] max_selections)")
    p.add_argument("--max-minutes", type=_args.number(float, min=0.0), default=None, metavar="MIN",
                   help="stop after MIN minutes (0: no limit; default: [speller] max_minutes)")
    p.add_argument("--max-errors", type=_args.number(int, min=0), default=None, metavar="N",
                   help="copy spelling: stop after N wrong selections in a row (default: [speller] "
                        "max_consecutive_errors)")
    p.add_argument("--amplitude", type=_args.number(float, min=0.0, max=1000.0, unit="µV"), default=None,
                   metavar="UV", help="--source simulated: the participant's P300 amplitude (default 18: a typical "
                                "participant, calibration AUC about 0.89; 8: a weak one, about 0.68; 0: none)")
    p.add_argument("--participant-data", metavar="REC", default=None, type=_args.recording_file,
                   help="--source simulated: answer with the real epochs of this recording")
    p.add_argument("--seed", type=_args.number(int, min=0), default=0, help="random seed (default 0)")
    p.add_argument("--text-out", metavar="SINKS", default=None, type=_text_out,
                   help="send the typed text out as it changes: 'lsl' (the LSL string stream 'neurospell-text', "
                        "one sample per change holding the whole text), 'keys' (key presses into the focused "
                        "window, X11 only); both: 'lsl,keys' (the clipboard is the GUI's)")
    p.add_argument("--summary-json", metavar="FILE", default=None,
                   help="also write the summary (accuracy, chars/min, ITR, latencies) to this JSON file")
    p.set_defaults(func=_spell, check=_check_spell)


# -- checks -------------------------------------------------------------------------------------
def _text_out(text: str) -> tuple[str, ...]:
    """``--text-out``: comma-separated sinks, ``lsl`` and ``keys``."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    bad = [n for n in names if n not in ("lsl", "keys")]
    if not names or bad:
        hint = (" The clipboard is the GUI's (`neurospell gui`, Settings: Text out)." if "clipboard" in bad else "")
        raise argparse.ArgumentTypeError(f"expected 'lsl', 'keys' or 'lsl,keys', got {text!r}.{hint}")
    return names


def _parse_source(text: str | None):
    t = (text or "simulated").strip()
    low = t.lower()
    if low in ("simulated", "synthetic"):
        return low, None
    for kind in ("lsl", "replay"):
        if low.startswith(kind + ":"):
            rest = t[len(kind) + 1:]
            if not rest:
                raise _args.UsageError("--source", f"give the {'stream name' if kind == 'lsl' else 'file'} after "
                                                   f"'{kind}:', e.g. '{kind}:{'MyAmp' if kind == 'lsl' else 'S1.mat'}'.")
            return kind, rest
    raise _args.UsageError("--source", f"expected {_SOURCES}, got {text!r}.")


def _check_text(flag: str, text, layout) -> None:
    if text is None:
        return
    missing = sorted({c for c in text if c not in layout.symbols})
    if not text or missing:
        raise _args.UsageError(flag, f"{text!r} must be non-empty and use only the grid's symbols "
                                     f"{''.join(layout.symbols)!r}; not on the grid: {missing} (check the case, or "
                                     "set [speller] symbols in a --config file).")


def _apply_demo(args) -> None:
    """Fill the options not given on the command line from :data:`DEMO`."""
    if not args.demo:
        return
    if args.source is None:
        args.source = DEMO["source"]
    simulated = args.source.strip().lower() == "simulated"
    for key, value in DEMO.items():
        if key == "calibrate" and args.model is not None:
            continue  # a trained model needs no calibration
        if key == "amplitude" and (not simulated or args.participant_data is not None):
            continue
        if getattr(args, key) is None:
            setattr(args, key, value)


def _make_display(args, config):
    """The one place the display is chosen: headless (a clock) for now.

    The GUI hooks in here: without --headless, when a screen is available, return its
    SpellerGrid (it implements neurospell.session.display.Display).
    """
    from neurospell.session.headless import HeadlessDisplay

    return HeadlessDisplay.from_config(config.speller)


def _check_calibration_size(args, config) -> None:
    """A neural decoder holds characters out (early stopping, score calibration): at least 3."""
    from neurospell.decoder import NEURAL_DECODERS

    name = args.decoder or config.decoder.name
    text = args.calibrate if args.calibrate is not None else (None if args.model is not None else DEFAULT_CALIBRATION)
    if text is not None and name in NEURAL_DECODERS and len(text) < 3:
        raise _args.UsageError(
            "--calibrate", f"the neural decoder {name!r} needs at least 3 calibration characters (one to train "
            "on, one for early stopping, one held out to calibrate its scores); got "
            f"{text!r} ({len(text)}). Give a longer --calibrate text or a classical --decoder such as "
            "'xdawncov-ts-lr'.")


def _check_spell(args, config) -> None:
    _apply_demo(args)
    kind, rest = _parse_source(args.source)
    if kind == "replay":
        try:
            _args.recording_file(rest)
        except argparse.ArgumentTypeError as err:
            raise _args.UsageError("--source", str(err)) from None
    if not args.headless and not args.demo:
        raise _args.UsageError("--headless", "the live session runs headless for now: add --headless (the GUI "
                                             "window is `neurospell gui`).")
    layout = config.speller.live().layout()  # the live word grid unless the config picks a grid
    _check_text("--copy", args.copy, layout)
    _check_text("--calibrate", args.calibrate, layout)
    if args.model is not None and args.calibrate is not None:
        raise _args.UsageError("--model", "give a trained --model or a --calibrate text to train one on, not both.")
    if args.model is not None and args.decoder is not None:
        raise _args.UsageError("--decoder", "--decoder names the decoder trained after calibration; with --model "
                                            "there is no training. Drop one of them.")
    if args.decoder is not None:
        _args.check_decoder_name("--decoder", args.decoder)
    _start.check_start(args)
    _check_calibration_size(args, config)
    if kind != "simulated":
        for flag, value in (("--amplitude", args.amplitude), ("--participant-data", args.participant_data)):
            if value is not None:
                raise _args.UsageError(flag, f"applies to --source simulated only (got --source {args.source}).")
    if args.amplitude is not None and args.participant_data is not None:
        raise _args.UsageError("--amplitude", "is a parametric participant's; --participant-data answers with real "
                                              "epochs. Drop one of them.")
    if args.summary_json is not None:
        _args.check_output_file("--summary-json", args.summary_json, overwrite=True)
    if args.out is not None:
        out = _args.check_output_folder("--out", args.out)
        if out.exists() and any(out.iterdir()) and not args.overwrite:
            raise _args.UsageError("--out", f"{args.out!r} exists and is not empty. Pass --overwrite to replace it, "
                                            "or choose another folder.")
    if args.lm is not None:
        _args.check_lm_choice("--lm", args.lm, args.lm_path, config, args)
    if args.text_out and "keys" in args.text_out:
        from neurospell.gui.textout import key_typing_problem

        problem = key_typing_problem()
        if problem:
            raise _args.UsageError("--text-out", f"keys: {problem}")


def _session_config(args, config):
    from neurospell.session.startplan import adapt_setting

    sp = {}
    for key, value in (("soa", args.soa), ("inter_trial", args.inter_trial),
                       ("calibration_repetitions", args.calibration_repetitions),
                       ("max_repetitions", args.max_repetitions), ("max_selections", args.max_selections),
                       ("max_minutes", args.max_minutes), ("max_consecutive_errors", args.max_errors)):
        if value is not None:
            sp[key] = value
    if args.soa is not None:
        sp["flash_duration"] = min(config.speller.flash_duration, args.soa)
    if "max_repetitions" in sp:
        sp["min_repetitions"] = min(config.speller.min_repetitions, sp["max_repetitions"])
    adapt = adapt_setting(args.adapt, args.no_calibration)
    if adapt is not None:
        sp["adapt"] = bool(adapt)
    speller = dataclasses.replace(config.speller, **sp).live()  # the live word grid by default
    decoder = config.decoder if args.decoder is None else dataclasses.replace(config.decoder, name=args.decoder)
    return dataclasses.replace(config, speller=speller, decoder=decoder)


# -- the command ----------------------------------------------------------------------------------
def _spell(args, config) -> int:
    with sigterm_as_interrupt():  # SIGTERM stops like Ctrl-C (exit status 143)
        return _run_spell(args, config)


def _run_spell(args, config) -> int:
    from neurospell.decoder import load_decoder
    from neurospell.session.rig import open_rig
    from neurospell.session.startplan import start_record

    config = _session_config(args, config)
    kind, rest = _parse_source(args.source)
    lm_name = args.lm or config.lm.name
    extra = []
    if kind == "simulated":
        extra = ["--seed", args.seed]
        if args.participant_data is not None:
            extra += ["--data", args.participant_data]
        elif args.amplitude is not None:
            extra += ["--amplitude", args.amplitude]
    decoder = None if args.model is None else load_decoder(args.model, preprocess=config.preprocessing)
    profile, started_from = _start.open_profile(args)
    if decoder is None and profile is not None and profile.latest is not None:
        decoder, started_from = profile.load_model(preprocess=config.preprocessing), str(profile.model_path())
    args.profile_obj, args.started_from, args.start_decoder = profile, started_from, decoder
    with open_rig(_request(kind, rest, args), config, out=args.out, overwrite=args.overwrite, lm_name=lm_name,
                  participant_args=extra, participant_about=_participant_about(args), seed=args.seed,
                  config_path=getattr(args, "config", None),
                  say=lambda message: print(f"spell: {message}", flush=True)) as rig:
        if rig.session_folder is not None:  # what the session starts from, in its session.json
            rig.session_folder.note("start", start_record(
                no_calibration=args.no_calibration, adapt=config.speller.adapt, model=started_from,
                profile=None if profile is None else profile.root))
        return _spell_on(rig, args, config, decoder, lm_name)


def _request(kind: str, rest, args):
    from neurospell.session.rig import ConnectRequest

    if kind == "replay":
        return ConnectRequest("recording", recording=rest)
    if kind == "lsl":
        return ConnectRequest("lsl", stream=rest)
    return ConnectRequest(kind, phrase=args.copy if kind == "simulated" else None)


def _participant_about(args) -> str:
    """What the simulated participant is, for the session folder's BIDS metadata."""
    if args.participant_data is not None:
        return f"real epochs of {args.participant_data}"
    return "parametric P300 model" + ("" if args.amplitude is None else f", amplitude {args.amplitude:g} µV")


def _spell_on(rig, args, config, decoder, lm_name: str) -> int:
    """The session on an opened rig: run it, print the progress and the summary."""
    from neurospell.session.live import LiveSession, Start, Stop

    source, participant, folder, lm = rig.source, rig.participant, rig.session_folder, rig.lm
    calibration = None if decoder is not None else (args.calibrate or DEFAULT_CALIBRATION)
    display = _make_display(args, config)
    text_out = _open_text_out(args.text_out or ())
    try:
        def on_decision(rec):
            mark = "" if rec.correct is None else ("  ok" if rec.correct else f"  (wanted {rec.intended!r})")
            print(f"  selected {rec.symbol!r} p={rec.posterior:.2f} after {rec.n_flashes:3d} flashes -> "
                  f"{rec.text!r}{mark}", flush=True)

        session = LiveSession(config, source, display, folder=folder, decoder=decoder, lm=lm,
                              lm_name=lm_name if lm is not None else None, marker_outlet=rig.marker_outlet,
                              copy_text=args.copy, calibration_text=calibration, seed=args.seed,
                              on_decision=on_decision, text_out=text_out)
        print(f"spell: {source} -> {config.decoder.name if decoder is None else decoder.name}, LM {lm_name}; "
              f"{'calibration on ' + repr(calibration) + ', ' if calibration else ''}"
              f"{'copy ' + repr(args.copy) if args.copy else 'free spelling'}", flush=True)
        died: list = []  # why the simulated participant process ended by itself
        if participant is not None:
            def on_participant_exit(message):
                died.append(message)
                session.submit(Stop(message))  # the session started it: stop, not pause for ever

            participant.on_exit = on_participant_exit
            if participant.exit_message is not None and not died:
                on_participant_exit(participant.exit_message)
        session.start()
        session.submit(Start())
        interrupted = 0
        last = None
        warned = False
        told = False
        try:
            while session.running:
                if died and not told:
                    print(f"spell: {died[0]}; stopping the session.", flush=True)
                    told = True
                snap = session.snapshot()
                warning = (snap.training_report or {}).get("auc_warning")
                if warning and not warned:  # before spelling starts on it
                    warned = True
                    print(f"spell: WARNING: {warning}", flush=True)
                line = (snap.phase, snap.status)
                if line != last and not snap.status.startswith(("copy:", "free:")):
                    print(f"- [{snap.phase}] {snap.status}", flush=True)
                last = line
                time.sleep(0.05)
        except KeyboardInterrupt as stop:
            term = isinstance(stop, Terminated)
            if term:  # finish the phase and the summary even if another SIGTERM comes
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            interrupted = EXIT_SIGTERM if term else EXIT_CTRL_C
            print(f"\nspell: stopping ({'SIGTERM' if term else 'Ctrl-C'}) ...", flush=True)
            session.submit(Stop("terminated (SIGTERM)" if term else None))
        result = _join(session)
        if died and not told:  # (it may die as the loop above ends)
            print(f"spell: {died[0]}; stopping the session.", flush=True)
        if session.disk_full is not None:
            from neurospell.diskspace import no_room_why
            from neurospell.session.diskfull import kept_line

            line = (kept_line(folder, session.disk_full) if folder is not None
                    else f"{no_room_why(session.disk_full)} ({session.disk_full}).")
            print(f"spell: stopped: {line}", file=sys.stderr, flush=True)
        _print_summary(result, len(config.speller.layout().symbols), folder)
        _start.print_adaptation(session)
        _start.end_profile(args, session, folder)
        if args.summary_json:
            summary = result.summary()
            if session._adapt is not None:
                summary["refits"] = [{k: r.get(k) for k in ("k", "applied", "cv_auc", "live_auc", "from_selection",
                                                            "n_epochs", "n_targets", "error")}
                                     for r in session._adapt.refits]
            if result.training_report:
                summary["heldout_auc"] = result.training_report["heldout_auc"]
                summary["lm_alpha"] = result.training_report["lm_alpha"]
                summary["auc_warning"] = result.training_report.get("auc_warning")
            with open(args.summary_json, "w", encoding="utf-8") as fid:
                json.dump(summary, fid, indent=2)
        if interrupted:
            return interrupted
        if session.disk_full is not None:
            return EXIT_DISK_FULL
        if died:
            raise NeurospellError(f"{died[0]}: the session stopped (the summary above is up to then). Run the "
                                  "session again; --verbose debug logs the participant's own output.")
        return 0
    finally:
        if text_out is not None:
            text_out.close()
        if hasattr(display, "close"):
            try:
                display.close()
            except Exception:  # noqa: BLE001 - best effort at the end (the rig closes the rest)
                pass


def _open_text_out(names):
    """The session's :class:`~neurospell.session.textout.TextOut` for ``--text-out`` (``None``: none)."""
    if not names:
        return None
    from neurospell.session.textout import TextOut, open_lsl_text

    sinks = []
    for name in names:
        if name == "lsl":
            sink = open_lsl_text()
            print(f"spell: the typed text goes out on the LSL stream {sink.outlet.name!r} (type Text, one sample per "
                  "change: the whole text)", flush=True)
        else:
            from neurospell.gui.textout import X11Keys

            sink = X11Keys()
            print("spell: the typed text is typed into the focused window (X11 key presses)", flush=True)
        sinks.append(sink)
    return TextOut(sinks)


def _join(session, timeout: float = 60.0):
    """The session's result once it ended; a stop asked for during training takes effect when
    the training process is done (a neural decoder: minutes), so it is waited for, saying so."""
    while True:
        try:
            return session.join(timeout)
        except TimeoutError:
            if session.snapshot().phase != "training":
                raise
            print("spell: the training process is still working; the session stops once it is done "
                  "(a neural decoder may take minutes).", flush=True)


def _figure(value, spec: str) -> str:
    """A summary figure, ``-`` where it is undefined (``None``: no selection, no copy text)."""
    return "-" if value is None else format(value, spec)


def _print_summary(result, n_symbols: int, folder) -> None:
    s = result.summary()
    print()
    print(f"typed text      {result.text!r}" + (f"  (target {result.target_text!r})" if result.target_text else ""))
    print(f"stopped         {result.stop_reason}")
    if result.training_report:
        tr = result.training_report
        alpha = tr.get("lm_alpha")
        print(f"calibration     {tr['n_epochs']} epochs, {tr['decoder']} held-out AUC {tr['heldout_auc']:.3f}"
              + ("" if alpha is None else f", LM weight {alpha:g}"))
        if tr.get("auc_warning"):
            print(f"WARNING         {tr['auc_warning']}")
    acc = s["accuracy"]
    print(f"selections      {s['n_selections']}" + ("" if acc is None else f", accuracy {acc:.0%}"))
    print(f"chars/min       {_figure(s['chars_per_min'], '.2f')}")
    if s.get("effective_chars_per_min") is not None:  # a word cell types several characters at once
        print(f"text chars/min  {s['effective_chars_per_min']:.2f} (characters of the copy phrase typed per minute)")
    print(f"ITR             {_figure(s['itr_bits_per_min'], '.1f')} bits/min" + (" (needs --copy)" if acc is None else ""))
    print(f"flashes/char    {_figure(s['flashes_per_char'], '.1f')}")
    if s["decision_latency_ms_median"] is not None:
        print(f"decision time   {s['decision_latency_ms_median']:.1f} ms median, {s['decision_latency_ms_p99']:.1f} ms "
              "p99 after the last epoch closed")
    if s["n_discarded"] or s["n_gaps"] or s["n_pauses"]:
        print(f"faults          {s['n_gaps']} gap(s), {s['n_pauses']} pause(s), {s['n_discarded']} flash(es) not "
              "scored (no data)")
    if folder is not None:
        print(f"session folder  {folder.root} (replay: neurospell replay {folder.root})")
    sys.stdout.flush()
