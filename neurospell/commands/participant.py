"""``neurospell simulate-participant``: a simulated person answering a session's flashes over LSL."""

from __future__ import annotations

import math
import sys

from ..check import NeurospellError, check_fname

_MODES = ("parametric", "real", "average")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate-participant",
        help="publish EEG over LSL answering a session's flash markers like a person spelling a phrase",
        description=(
            "A separate process standing in for the person: it reads the session's marker stream "
            "(flash:<code>[:target|nontarget], select:<symbol>, text:<typed text>) and publishes an "
            "EEG stream in which every flash of the symbol the person wants next evokes a P300, "
            "locked to the marker's LSL timestamp. The grid is the config's [speller] layout. It "
            "follows the typed text from the decision markers and wants backspace '<' after a "
            "mistake. Flashes labelled target/nontarget (calibration cues) are answered as labelled. "
            "Samples go out --lookahead-ms after their timestamp, so markers arriving up to that "
            "late are answered in full. Stops when the marker stream ends, after --duration, or on "
            "Ctrl-C / SIGTERM."
        ),
    )
    p.add_argument("--phrase", default="HELLO WORLD", help="the text the person intends to type (default: %(default)r)")
    p.add_argument("--mode", default=None, choices=_MODES,
                   help="parametric P300 template (default without --data; no files), real single-trial epochs "
                        "of a recording (default with --data) or its average responses ('average')")
    p.add_argument("--data", metavar="REC", default=None,
                   help="recording for --mode real/average (e.g. ../shared/data/gtec_p300/S1.mat); implies --mode real")
    p.add_argument("--exclude-first-chars", type=int, default=None, metavar="N",
                   help="--mode real: the recording's first N characters answer calibration flashes, the others "
                        "spelling flashes; --mode average: only the others are used (default 3)")
    p.add_argument("--name", default="neurospell-participant", help="name of the EEG stream published (default: %(default)s)")
    p.add_argument("--marker-stream", default=None, metavar="NAME",
                   help="name of the session's marker stream to read (default: the newest stream named "
                        "neurospell-markers*, the prefix every session's marker stream has)")
    p.add_argument("--n-channels", type=int, default=None, metavar="N", help="channels, 1-256 (default 8; parametric only)")
    p.add_argument("--sfreq", type=float, default=None, metavar="HZ", help="sampling rate, 32-10000 Hz (default 250; parametric only)")
    p.add_argument("--amplitude", type=float, default=None, metavar="UV",
                   help="P300 peak at Pz in µV, 0-1000 (default 18: a typical participant, calibration AUC about "
                        "0.89; 8: a weak one, about 0.68; 0: no P300; parametric only)")
    p.add_argument("--latency-ms", type=float, default=None, metavar="MS", help="P300 peak latency, 0-1000 ms (default 300; parametric only)")
    p.add_argument("--jitter-ms", type=float, default=None, metavar="MS",
                   help="single-trial latency jitter (SD), 0-300 ms (default 30 parametric, 0 real)")
    p.add_argument("--hit-prob", type=float, default=None, metavar="P",
                   help="probability a target flash evokes its response, 0-1 (default 0.95 parametric, 1 real)")
    p.add_argument("--delay-ms", type=float, default=0.0, metavar="MS",
                   help="extra delay of every response (display/amplifier latency), 0-1000 ms (default 0)")
    p.add_argument("--background-uv", type=float, default=None, metavar="UV",
                   help="RMS of the 1/f background EEG, 0-1000 µV (default 10; parametric only)")
    p.add_argument("--blink-rate", type=float, default=None, metavar="PER_MIN",
                   help="blinks per minute on frontal channels, 0-120 (default 12; parametric only)")
    p.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default 0): same seed + same flashes = same EEG")
    p.add_argument("--lookahead-ms", type=float, default=150.0, metavar="MS",
                   help="publication latency: samples go out this long after their timestamp, 0-5000 ms (default 150)")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds (default: when the marker stream ends)")
    p.add_argument("--photodiode-delay-ms", type=float, default=None, metavar="MS",
                   help="add a photodiode channel (PD, type misc) lit from MS after each flash marker for the flash's "
                        "duration ([speller] flash_duration): a screen's light as a photodiode sees it, for "
                        "`neurospell timing-check` (0-1000 ms)")
    p.add_argument("--ignore-labels", action="store_true",
                   help="answer labelled (target/nontarget) flashes by the phrase too, not by their label")
    p.set_defaults(func=cmd_simulate_participant)


def _num(flag, value, lo, hi):
    if value is None:
        return None
    if not math.isfinite(value) or value < lo or (hi is not None and value > hi):
        upper = "" if hi is None else f" and {hi:g}"
        raise NeurospellError(f"{flag} must be between {lo:g}{upper}, got {value:g}.")
    return value


def _generator_params(args) -> tuple[str, dict]:
    mode = args.mode or ("real" if args.data is not None else "parametric")
    if mode == "parametric" and args.data is not None:
        raise NeurospellError("--data gives a recording for --mode real; drop --mode parametric or --data.")
    if mode != "parametric" and args.data is None:
        raise NeurospellError(f"--mode {mode} needs --data REC (a recording, e.g. ../shared/data/gtec_p300/S1.mat).")
    checks = {
        "--n-channels": (args.n_channels, 1, 256, "n_channels"),
        "--sfreq": (args.sfreq, 32, 10000, "sfreq"),
        "--amplitude": (args.amplitude, 0, 1000, "amplitude"),
        "--latency-ms": (args.latency_ms, 0, 1000, "latency_ms"),
        "--background-uv": (args.background_uv, 0, 1000, "background_uv"),
        "--blink-rate": (args.blink_rate, 0, 120, "blink_rate"),
        "--jitter-ms": (args.jitter_ms, 0, 300, "jitter_ms"),
        "--hit-prob": (args.hit_prob, 0, 1, "hit_prob"),
        "--delay-ms": (args.delay_ms, 0, 1000, "delay_ms"),
        "--seed": (args.seed, 0, 2**63 - 1, "seed"),
        "--exclude-first-chars": (args.exclude_first_chars, 0, None, "exclude_first_chars"),
    }
    parametric_only = ("--n-channels", "--sfreq", "--amplitude", "--latency-ms", "--background-uv", "--blink-rate")
    params = {}
    for flag, (value, lo, hi, key) in checks.items():
        if value is None:
            continue
        if mode != "parametric" and flag in parametric_only:
            raise NeurospellError(
                f"{flag} applies to --mode parametric only: with --data the channels, rate and responses "
                "come from the recording. Drop the option or the --data."
            )
        if mode == "parametric" and flag == "--exclude-first-chars":
            raise NeurospellError("--exclude-first-chars applies to --data (--mode real) only.")
        _num(flag, value, lo, hi)
        params[key] = value
    return mode, params


def cmd_simulate_participant(args, config) -> int:
    from ..lsl import configure_lsl
    from ..session.simulator import Intention, StreamingParticipant, open_generator

    configure_lsl(config.lsl)
    mode, params = _generator_params(args)
    lookahead = _num("--lookahead-ms", args.lookahead_ms, 0, 5000)
    _num("--photodiode-delay-ms", args.photodiode_delay_ms, 0, 1000)
    duration = args.duration
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise NeurospellError(f"--duration must be a number of seconds > 0, got {duration:g}.")
    if not args.name or "'" in args.name:
        raise NeurospellError(f"--name must be a non-empty stream name without quotes, got {args.name!r}.")
    if args.marker_stream is not None and (not args.marker_stream or "'" in args.marker_stream):
        raise NeurospellError(f"--marker-stream must be a non-empty stream name without quotes, got {args.marker_stream!r}.")
    layout = config.speller.live().layout()  # the grid of `spell` and `gui` (the live word grid by default)
    missing = sorted({c for c in args.phrase if c not in layout.symbols})
    if not args.phrase or missing:
        raise NeurospellError(
            f"--phrase {args.phrase!r} must be non-empty and use only the grid's symbols "
            f"{''.join(layout.symbols)!r}; not on the grid: {missing} (check the case, or set [speller] symbols "
            "in a --config file)."
        )
    if mode != "parametric":
        check_fname(args.data, "--data")
    generator = open_generator(mode, data=args.data, **params)
    if args.photodiode_delay_ms is not None:
        from ..session.simulator import PhotodiodeGenerator

        generator = PhotodiodeGenerator(generator, args.photodiode_delay_ms, 1000.0 * config.speller.flash_duration)
    intention = Intention(args.phrase, layout, follow_labels=not args.ignore_labels)
    sim = StreamingParticipant(generator, intention, name=args.name, marker_stream=args.marker_stream,
                               lookahead=lookahead / 1000.0, duration=duration)

    wanted = repr(args.marker_stream) if args.marker_stream else "named neurospell-markers*"

    def ready():
        print(f"simulate-participant: streaming {args.name!r} ({len(generator.ch_names)} ch @ "
              f"{generator.sfreq:g} Hz, {generator!r}), phrase {args.phrase!r}, sample 0 at t0={sim.t0!r}; "
              f"waiting for the marker stream {wanted}", flush=True)

    def connected():
        print(f"simulate-participant: reading markers from {sim.marker_stream_found!r}", flush=True)

    def warn(message):
        print(f"simulate-participant: WARNING: {message}", flush=True)

    summary = sim.run(ready=ready, connected=connected, warn=warn)
    print(f"simulate-participant: {summary['n_flashes']} flashes answered ({summary['n_targets']} targets, "
          f"{summary['n_late']} late markers), {summary['n_samples']} samples, typed {summary['typed']!r}",
          flush=True)
    if not summary["marker_stream_found"]:
        print(f"simulate-participant: the marker stream {wanted} never appeared.", file=sys.stderr)
    return 0
