"""Command-line subcommands: ``devices``, ``stream`` and ``record`` (acquisition)."""

from __future__ import annotations

import sys
import time

from . import _args, _runtime


def register(subparsers) -> None:
    """Add this module's subcommands to the ``neurospell`` parser."""
    p = subparsers.add_parser("devices", help="list BrainFlow boards and the LSL streams visible")
    p.add_argument("--wait", type=_args.number(float, min=0, max=3600, unit="seconds"), default=1.0, metavar="S", help="seconds to look for LSL streams (default 1)")
    p.add_argument("--all-boards", action="store_true", help="list every BrainFlow board id, not only the common ones")
    p.set_defaults(func=cmd_devices)

    p = subparsers.add_parser("stream", help="republish a source (e.g. a BrainFlow board) on LSL")
    p.add_argument("--board", default=None, metavar="SPEC",
                   help="'synthetic', 'playback:FILE', a BrainFlow board name or id (default: [acquisition] source)")
    p.add_argument("--name", default=None, help="LSL stream name (default: neurospell-<board>)")
    p.add_argument("--duration", type=_args.number(float, min=0, strict_min=True, unit="seconds"), default=None,
                   metavar="S", help="stop after S seconds (default: Ctrl-C)")
    p.set_defaults(func=cmd_stream, check=_args.check_stream)

    p = subparsers.add_parser("record", help="record a source to a FIF file (crash-safe while running)")
    p.add_argument("--board", default=None, metavar="SPEC",
                   help="'synthetic', 'playback:FILE', a BrainFlow board, or 'lsl:NAME' (markers: 'lsl:NAME+MARKERS')")
    p.add_argument("--duration", type=_args.number(float, min=0, strict_min=True, unit="seconds"), default=None,
                   metavar="S", help="seconds to record (default: until Ctrl-C)")
    p.add_argument("--out", required=True, metavar="FILE", help="output FIF file (e.g. session_raw.fif)")
    p.add_argument("--export", action="append", default=[], choices=("edf", "brainvision"),
                   help="also write this format next to the FIF (repeatable)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=cmd_record, check=_args.check_record)


def _duration(value):
    from ..check import check_positive

    return None if value is None else check_positive("--duration", value)


def cmd_devices(args, config) -> int:
    from ..acquisition import board_ids, list_streams
    from ..lsl import configure_lsl

    configure_lsl(config.lsl)
    ids = board_ids()
    common = ("SYNTHETIC_BOARD", "PLAYBACK_FILE_BOARD", "STREAMING_BOARD", "CYTON_BOARD", "CYTON_DAISY_BOARD",
              "GANGLION_BOARD", "UNICORN_BOARD", "MUSE_2_BOARD", "MUSE_S_BOARD", "ENOPHONE_BOARD", "BRAINBIT_BOARD")
    shown = ids if args.all_boards else {k: v for k, v in ids.items() if k in common}
    print(f"BrainFlow boards ({len(shown)} of {len(ids)}; --all-boards lists every one):")
    for name, bid in sorted(shown.items(), key=lambda kv: kv[1]):
        print(f"  {bid:4d}  {name}")
    print(f"Looking for LSL streams for {args.wait:g} s (Ctrl-C stops)...", file=sys.stderr, flush=True)
    streams = _runtime.interruptible(list_streams, args.wait)  # Ctrl-C stops the wait
    print(f"LSL streams visible (scope: {config.lsl.resolve_scope}): {len(streams)}")
    for s in streams:
        print(f"  {s['name']!r:30} type={s['type']:<8} {s['n_channels']:3d} ch  {s['sfreq']:g} Hz  "
              f"source_id={s['source_id']!r} host={s['hostname']}")
    return 0


def _spec(args, config) -> str:
    return args.board if args.board is not None else config.acquisition.source


def cmd_stream(args, config) -> int:
    from ..acquisition import LslEegOutlet, LslMarkerOutlet, open_source
    from ..lsl import configure_lsl

    configure_lsl(config.lsl)
    duration = _duration(args.duration)
    spec = _spec(args, config)
    if spec.lower().startswith("lsl:"):
        from ..check import NeurospellError

        raise NeurospellError("--board: 'stream' republishes a device on LSL; an LSL stream is already on LSL.")
    src = open_source(spec, config.acquisition)
    name = args.name or f"neurospell-{spec.split(':')[0].lower()}"
    src.start()
    try:
        with LslEegOutlet(name, src.ch_names, src.ch_types, src.sfreq) as out, \
                LslMarkerOutlet(name + "-markers") as mk:
            print(f"Streaming {src!r} on LSL as {name!r} ({len(src.ch_names)} ch @ {src.sfreq:g} Hz) "
                  f"and markers as {name + '-markers'!r}. "
                  + (f"Stopping after {duration:g} s." if duration else "Ctrl-C to stop."), flush=True)
            rd = src.reader(from_start=True)
            n = 0
            end = None if duration is None else time.monotonic() + duration
            try:
                while end is None or time.monotonic() < end:
                    rd.wait(0.1)
                    chunk, events = rd.read()
                    for ev in events:
                        mk.push(ev.label or str(ev.code), ev.timestamp)
                    if chunk is not None:
                        out.push_chunk(chunk)
                        n += chunk.n_samples
            except KeyboardInterrupt:
                pass
    finally:
        src.stop()
    print(f"Streamed {n} samples; gaps: {len(src.gaps)}.")
    return 0


def cmd_record(args, config) -> int:
    from ..acquisition import Recorder, open_source
    from ..lsl import configure_lsl

    configure_lsl(config.lsl)
    duration = _duration(args.duration)
    src = open_source(_spec(args, config), config.acquisition)
    rec = Recorder(src, args.out, export=tuple(args.export), overwrite=args.overwrite)
    rec.start()
    print(f"Recording {src!r} to {rec.path} (crash-safe copy in {rec.rawlog_path} while running). "
          + (f"{duration:g} s." if duration else "Ctrl-C to stop."), flush=True)
    try:
        end = None if duration is None else time.monotonic() + duration
        while end is None or time.monotonic() < end:
            time.sleep(0.1 if end is None else max(0.0, min(0.1, end - time.monotonic())))
    except KeyboardInterrupt:
        print("Stopping.", file=sys.stderr)
    path = rec.stop(stop_source=True)
    gaps = src.gaps
    print(f"Wrote {path}: {rec.n_samples} samples ({rec.n_samples / src.sfreq:.1f} s), {rec.n_markers} markers, "
          f"{len(gaps)} gaps ({sum(g.n_samples for g in gaps)} samples missing).")
    return 0
