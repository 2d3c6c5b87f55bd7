"""``neurospell timing-check``: a display's latency and jitter from a recorded photodiode."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..check import NeurospellError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "timing-check",
        help="a display's timing from a recorded photodiode: median offset and jitter of the light after each flash marker",
        description=(
            "Detects the rises of a photodiode channel (halfway between its low and high levels, with a refractory "
            "period), matches each to its flash marker, and prints the number matched and unmatched (both ways), "
            "the median offset (photodiode minus marker, ms) and the jitter (SD, IQR, p99-p1). RECORDING is any "
            "recording neurospell reads (with flash markers) or a session folder (each recorded run, then all)."
        ),
    )
    p.add_argument("recording", metavar="RECORDING_OR_SESSION_DIR", help="a recording or a session folder")
    p.add_argument("--photodiode", metavar="CH", required=True, help="the photodiode channel's name")
    p.add_argument("--max-offset-ms", type=float, default=150.0, metavar="MS",
                   help="an onset up to MS after a marker can be its light (default 150)")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the reports as JSON")
    p.set_defaults(func=_timing_check, check=_check)


def _check(args, config) -> None:
    path = Path(args.recording)
    if not path.exists():
        raise NeurospellError(f"RECORDING_OR_SESSION_DIR {args.recording!r} does not exist; give a recording or a "
                              "session folder.")
    if not args.photodiode.strip():
        raise NeurospellError("--photodiode must name the photodiode channel, got an empty name.")
    if not 0 < args.max_offset_ms <= 2000:
        raise NeurospellError(f"--max-offset-ms must be between 0 and 2000 ms, got {args.max_offset_ms:g}.")
    if args.json is not None:
        parent = Path(args.json).parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise NeurospellError(f"--json {args.json!r}: the folder {str(parent)!r} does not exist or is not "
                                  "writable.")


def _timing_check(args, config) -> int:
    from ..session.timing import timing_check

    try:
        reports = timing_check(args.recording, args.photodiode, max_offset=args.max_offset_ms / 1000.0)
    except NeurospellError as err:
        msg = str(err)
        if msg.startswith("photodiode:"):  # name the flag on the command line
            raise NeurospellError("--photodiode" + msg[len("photodiode"):]) from None
        raise
    for name, rep in reports:
        print(f"{name}:")
        for line in rep.lines():
            print(f"  {line}")
    if args.json is not None:
        Path(args.json).write_text(json.dumps({name: rep.summary() for name, rep in reports}, indent=2))
        print(f"timing-check: reports written to {args.json}")
    return 0
