"""Command-line subcommands: ``devices``, ``stream``, ``record`` and ``recover`` (acquisition)."""

from __future__ import annotations

import shutil
import signal
import sys
import time

from ..check import NeurospellError, StreamError, check_fname, check_positive
from . import _args, _runtime

#: Exit status of ``record`` when the file was written but samples are missing (gaps, or
#: the stream stopped before the end).
EXIT_GAPS = 3

_RECORD_HELP = (
    "record a source to a FIF file (crash-safe while running). With 'lsl:NAME' the markers come "
    "from the marker stream that belongs to NAME: same source id + '-markers'/'-annotations', else "
    "the stream named 'NAME-markers' (what `replay --as-lsl` and `stream` publish) or "
    "'NAME-annotations' (MNE-LSL), else the only marker stream visible; 'lsl:NAME+MARKERS' names it. "
    "Exit status: 0 complete; 3 written but samples are missing (gaps, or the stream stopped before "
    "the end); 2 error (a failed write stops at once and names the crash copy). SIGTERM stops like "
    "Ctrl-C (the FIF is written)."
)


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

    p = subparsers.add_parser("record", help="record a source to a FIF file (crash-safe while running)",
                              description=_RECORD_HELP)
    p.add_argument("--board", default=None, metavar="SPEC",
                   help="'synthetic', 'playback:FILE', a BrainFlow board, or 'lsl:NAME' (its marker stream is "
                        "found: NAME-markers, same source id, or the only one; 'lsl:NAME+MARKERS' names it)")
    p.add_argument("--duration", type=_args.number(float, min=0, strict_min=True, unit="seconds"), default=None,
                   metavar="S", help="seconds to record (default: until Ctrl-C)")
    p.add_argument("--out", required=True, metavar="FILE", help="output FIF file (e.g. session_raw.fif)")
    p.add_argument("--export", action="append", default=[], choices=("edf", "brainvision"),
                   help="also write this format next to the FIF (repeatable)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing output files; an existing crash copy (.nsraw) is moved aside, not deleted")
    p.set_defaults(func=cmd_record, check=_args.check_record)

    p = subparsers.add_parser("recover", help="convert what an interrupted record or session left behind "
                                              "(a .nsraw crash copy to FIF; a session folder's unfinished phases to BIDS)",
                              description="Convert the crash-safe copy NAME.nsraw that `neurospell record` keeps "
                                          "while it runs (left behind by kill -9, a power cut or a full disk) into "
                                          "a FIF file (--out), or, given a session folder (`neurospell spell --out`), "
                                          "convert the phases a crash left unfinished to BIDS in place. The crash "
                                          "copies are kept.")
    p.add_argument("rawlog", metavar="FILE.nsraw|SESSION_DIR", help="the crash copy folder, or a session folder")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="output FIF file for a .nsraw crash copy (e.g. session_raw.fif); not used with a session folder")
    p.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    p.set_defaults(func=cmd_recover)


def _duration(value):
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
        raise NeurospellError("--board: 'stream' republishes a device on LSL; an LSL stream is already on LSL.")
    src = open_source(spec, config.acquisition)
    name = args.name or f"neurospell-{spec.split(':')[0].lower()}"
    previous = signal.signal(signal.SIGTERM, _on_sigterm)  # SIGTERM stops like Ctrl-C: the board is released
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
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
    finally:
        try:
            src.stop()
        finally:
            signal.signal(signal.SIGTERM, previous)
    print(f"Streamed {n} samples; gaps: {len(src.gaps)}.")
    return 0


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: stop and finish the file."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def cmd_record(args, config) -> int:
    from ..acquisition import Recorder, open_source
    from ..lsl import configure_lsl, local_clock

    configure_lsl(config.lsl)
    duration = _duration(args.duration)
    src = open_source(_spec(args, config), config.acquisition)
    rec = Recorder(src, args.out, export=tuple(args.export), overwrite=args.overwrite)
    if rec.moved_rawlog is not None:
        print(f"An earlier crash copy was moved to {rec.moved_rawlog} (kept; `neurospell recover "
              f"{rec.moved_rawlog} --out FILE.fif` converts it).", file=sys.stderr)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        rec.start()
        t_start = local_clock()
        print(f"Recording {src!r} to {rec.path} (crash-safe copy in {rec.rawlog_path} while running). "
              + (f"{duration:g} s." if duration else "Ctrl-C to stop."), flush=True)
        marker_stream = getattr(src, "marker_stream", None)
        if getattr(src, "find_markers", False) or getattr(src, "marker_name", None):
            print(f"Markers: from {marker_stream!r} ({src.marker_rule})." if marker_stream
                  else f"Markers: NONE ({src.marker_rule}).", flush=True)
        try:
            end = None if duration is None else time.monotonic() + duration
            while (end is None or time.monotonic() < end) and not rec.failed.is_set():
                rec.failed.wait(0.1 if end is None else max(0.0, min(0.1, end - time.monotonic())))
        except KeyboardInterrupt as stop:
            print("Terminated: stopping and writing the file." if isinstance(stop, _Terminated) else "Stopping.",
                  file=sys.stderr)
        # finish the file even if another SIGTERM comes
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        t_end = local_clock()
        try:
            path = rec.stop(stop_source=True)
        except StreamError as err:
            if rec.n_samples == 0 and _remove_empty_rawlog(rec.rawlog_path):
                raise StreamError(
                    f"Nothing was recorded from {src!r}: no samples arrived in {t_end - t_start:.1f} s. The "
                    f"crash copy {str(rec.rawlog_path)!r} held nothing and was removed, so the same command "
                    "can run again once the source delivers samples (check the --board source: "
                    "`neurospell devices` lists the boards and LSL streams)."
                ) from err
            raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    gaps = src.gaps
    missing = sum(g.n_samples for g in gaps)
    expected = (t_end - t_start) * src.sfreq
    line = (f"Wrote {path}: {rec.n_samples} samples ({rec.n_samples / src.sfreq:.1f} s of data in "
            f"{t_end - t_start:.1f} s of recording), {rec.n_markers} markers, {len(gaps)} gap{'' if len(gaps) == 1 else 's'} "
            f"({missing} samples missing")
    ended = [g for g in gaps if g.kind == "ended"]
    if ended:
        line += f"; the stream stopped delivering {ended[-1].duration:.1f} s before the end"
    print(line + ").")
    if missing:
        print(f"Incomplete recording: {missing} samples ({missing / src.sfreq:.1f} s, "
              f"{100 * missing / max(expected, 1):.0f} %) are missing; they are marked BAD_gap in the file. "
              f"Exit status {EXIT_GAPS}.", file=sys.stderr)
        return EXIT_GAPS
    return 0


def _remove_empty_rawlog(folder) -> bool:
    """Remove the crash copy ``folder`` if it holds neither samples nor markers.

    Returns ``True`` when it was removed; a crash copy with any data, or one that cannot be
    read, is kept.
    """
    from ..rawlog import is_rawlog, read_rawlog

    try:
        if not is_rawlog(folder):
            return False
        log = read_rawlog(folder)
    except (OSError, ValueError, NeurospellError):
        return False
    if log.timestamps.size or log.markers:
        return False
    shutil.rmtree(folder)
    return True


def cmd_recover(args, config) -> int:
    from ..rawlog import GAP_ANNOTATION, is_rawlog, rawlog_to_fif, read_rawlog
    from ..session.sessiondir import is_session_folder

    folder = check_fname(args.rawlog, "FILE.nsraw|SESSION_DIR")
    if is_session_folder(folder):
        return _recover_session(folder, args)
    if not is_rawlog(folder):
        raise NeurospellError(
            f"FILE.nsraw: {str(folder)!r} is not a crash copy of `neurospell record` (a folder NAME.nsraw "
            "holding header.json, samples.bin and events.jsonl)."
        )
    if args.out is None:
        raise NeurospellError(f"--out: a crash copy ({str(folder)!r}) is converted to a FIF file; name it, "
                              "e.g. --out session_raw.fif.")
    log = read_rawlog(folder)
    if log.timestamps.size == 0:
        raise NeurospellError(f"FILE.nsraw: {str(folder)!r} holds no samples; there is nothing to recover.")
    try:
        raw = rawlog_to_fif(log, args.out, overwrite=args.overwrite)
    except FileExistsError as err:
        raise FileExistsError(f"--out: {args.out!r} exists; pass --overwrite or choose another name.") from err
    n_gaps = sum(1 for d in raw.annotations.description if d == GAP_ANNOTATION)
    cut = " (its last, incomplete record was dropped)" if log.header.get("truncated") else ""
    print(f"Recovered {raw.n_times} samples ({raw.n_times / raw.info['sfreq']:.1f} s), {len(log.markers)} markers, "
          f"{n_gaps} gaps from {folder}{cut} into {args.out}. The crash copy is kept; delete it yourself once "
          "the FIF is checked.")
    return 0


def _recover_session(root, args) -> int:
    """``recover SESSION_DIR``: convert the phases a crash left unfinished to BIDS, in place."""
    from ..session.sessiondir import SessionFolder

    if args.out is not None or args.overwrite:
        raise NeurospellError(f"--out/--overwrite: {str(root)!r} is a session folder; its unfinished phases are "
                              "converted in place (BIDS files next to the finished ones). Drop --out/--overwrite.")
    folder = SessionFolder.open(root, verbose="error")
    left = folder.unfinished()
    if not left:
        print(f"{root}: every phase is finished; nothing to recover.")
        return 0
    written = folder.recover()
    n_empty = len(left) - len(written)
    for path in written:
        print(f"Recovered {path}")
    print(f"{root}: {len(written)} unfinished phase{'' if len(written) == 1 else 's'} converted to BIDS"
          + (f", {n_empty} that recorded nothing marked empty" if n_empty else "")
          + ". The crash copies in sourcedata/ are kept; `neurospell replay` reads the folder.")
    return 0
