"""``neurospell gui``: the speller window (Qt), a display and control panel for a live session."""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
import uuid
from pathlib import Path

from ..check import NeurospellError
from ..config import SpellerConfig
from ..lifecycle import EXIT_CTRL_C, EXIT_SIGTERM
from . import _args
from .spell import DEFAULT_CALIBRATION, DEMO


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "gui",
        help="open the speller window: connect, calibrate, train, spell (keyboard and single-switch accessible)",
        description=(
            "Opens the speller window: the flashing grid, the live scope, the typed text with word "
            "completions, and the workflow connect -> calibrate -> train -> spell. --demo starts the "
            "parametric simulated participant and runs the whole workflow with no hardware. "
            "Use --check-display to test whether a window can be shown (exit status 0) or not (1)."
        ),
    )
    p.add_argument("--demo", action="store_true",
                   help="start the simulated participant, connect to it, calibrate, train and copy-spell --phrase, "
                        "with the presets of `neurospell spell --demo` (SOA, repetitions, P300 amplitude)")
    p.add_argument("--phrase", default=None,
                   help=f"the phrase to copy (default {DEMO['copy']!r}; the simulated participant intends it)")
    p.add_argument("--calibration-text", default=None, metavar="TEXT",
                   help=f"characters cued in calibration (default {DEFAULT_CALIBRATION!r}; --demo {DEMO['calibrate']!r})")
    p.add_argument("--decoder", default=None,
                   help=f"decoder trained after calibration (default: [decoder] name; --demo {DEMO['decoder']})")
    p.add_argument("--lm", default=None, type=_args.lm_name,
                   help="language model for the prior and the word completions (default: [lm] name; "
                        "'uniform' for none)")
    p.add_argument("--folder", metavar="DIR", default=None,
                   help="root of the session folders (default: ~/neurospell-sessions); each connection makes one")
    p.add_argument("--quit-after", type=_args.number(float, min=0, strict_min=True, unit="seconds"), default=None,
                   metavar="SECONDS", help="close the window after SECONDS (for automation and bug reports)")
    p.add_argument("--quit-after-selections", type=_args.number(int, min=1), default=None, metavar="N",
                   help="close the window once the session made N selections")
    p.add_argument("--exit-when-done", action="store_true",
                   help="close the window once the session has finished (--demo: after the copy phrase; the "
                        "result is printed); without it the demo's result stays shown until the window is closed")
    p.add_argument("--screenshot", metavar="PNG", default=None,
                   help="write the window as shown when it closes to this PNG file")
    p.add_argument("--stage-screenshots", metavar="DIR", default=None,
                   help="write a screenshot of each workflow stage (connected, calibration, trained, ...) into DIR")
    p.add_argument("--settings", metavar="TOML", default=None,
                   help="GUI preferences file (default: gui.toml in the user's neurospell config folder)")
    p.add_argument("--check-display", action="store_true",
                   help="only test whether a window can be shown here: exit 0 if so, 1 if not (with the reason)")
    p.set_defaults(func=_gui, check=_check)


def _check(args, config) -> None:
    if args.screenshot is not None:
        if not args.screenshot.lower().endswith(".png"):
            raise NeurospellError(f"--screenshot must name a .png file, got {args.screenshot!r}.")
        _args.check_output_file("--screenshot", args.screenshot, overwrite=True)
    if args.stage_screenshots is not None:
        _args.check_output_folder("--stage-screenshots", args.stage_screenshots)
    if args.folder is not None:
        folder = Path(args.folder).expanduser()
        if folder.exists() and not folder.is_dir():
            raise NeurospellError(f"--folder {args.folder!r} is a file; give a folder for the session folders.")
    if args.decoder is not None:
        _args.check_decoder_name("--decoder", args.decoder)
    layout = config.speller.layout()
    for flag, text in (("--phrase", args.phrase), ("--calibration-text", args.calibration_text)):
        if text is None:
            continue
        missing = sorted({c for c in text.upper() if c not in layout.symbols})
        if not text or missing:
            raise NeurospellError(
                f"{flag} {text!r} must be non-empty and use only the grid's symbols {''.join(layout.symbols)!r}; "
                f"not on the grid: {missing}.")


class _Connection:
    """An opened source for the window (see :class:`neurospell.gui.app.Connection`)."""

    def __init__(self, source, *, marker_outlet=None, folder=None, lm=None, lm_name=None, decoder_name=None,
                 description="", participant=None, cleanup=()):
        self.source = source
        self.marker_outlet = marker_outlet
        self.session_folder = folder
        self.folder = None if folder is None else Path(folder.root)
        self.lm = lm
        self.lm_name = lm_name
        self.decoder_name = decoder_name
        self.description = description
        self.participant = participant
        self.cleanup = list(cleanup)
        self.ch_names = tuple(source.ch_names)
        self.sfreq = float(source.sfreq)
        self._reader = source.reader()

    def read_samples(self):
        from neurospell.check import StreamError

        try:
            chunk, _markers = self._reader.read()
        except StreamError:
            return None
        return chunk

    @property
    def child_exit(self) -> str | None:
        """Why the simulated participant process this connection started exited by itself
        (``None`` while it runs, or without one)."""
        return None if self.participant is None else self.participant.exit_message

    def session_kwargs(self) -> dict:
        return {"folder": self.session_folder, "decoder_name": self.decoder_name}

    def close(self) -> None:
        try:
            self.source.stop()
        finally:
            for stop in self.cleanup:
                stop()
            self.cleanup = []
            if self.participant is not None:
                self.participant.close()
                self.participant = None
            if self.marker_outlet is not None:
                self.marker_outlet.close()


class Connector:
    """Opens the window's sources: simulated participant, BrainFlow, LSL, recordings."""

    def __init__(self, *, folder=None, lm_name: str | None = None, decoder_name: str | None = None,
                 config_path=None, participant_args=()):
        self.config_path = config_path
        self.participant_args = tuple(participant_args)
        self.root = Path(folder).expanduser() if folder else Path.home() / "neurospell-sessions"
        self.lm_name = lm_name
        self.decoder_name = decoder_name
        self._lm = None

    def list_streams(self) -> list[dict]:
        from neurospell.acquisition import list_streams

        return [s for s in list_streams(1.0) if s["type"].lower() != "markers"]

    def _lm_for(self, config):
        from neurospell.lm_fusion import make_model

        name = self.lm_name or config.lm.name
        if name == "uniform":
            return None, None
        if self._lm is None:
            self._lm = make_model(name, config.lm)
        return self._lm, name

    def connect(self, request, config):
        from neurospell.acquisition import LslMarkerOutlet, open_source
        from neurospell.lsl import configure_lsl
        from neurospell.session.replay import replay_lsl
        from neurospell.session.sessiondir import SessionFolder
        from neurospell.session.simulator import ParticipantProcess

        configure_lsl(config.lsl)
        tag = f"gui-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        outlet = participant = source = None
        cleanup = []
        try:
            if request.kind in ("simulated", "lsl", "recording"):
                outlet = LslMarkerOutlet(f"neurospell-markers-{tag}")
            if request.kind == "simulated":
                participant = ParticipantProcess((request.phrase or "HELLO WORLD").upper(), outlet.name,
                                                 args=self.participant_args, config_path=self.config_path)
                source = open_source(f"lsl:{participant.name}+{outlet.name}", config.acquisition)
                description = f"simulated participant ({participant.name}) intending {request.phrase!r}"
            elif request.kind == "synthetic":
                source = open_source("synthetic", config.acquisition)
                description = "BrainFlow synthetic board (no P300 in it: for trying the window)"
            elif request.kind == "lsl":
                outlet = LslMarkerOutlet(f"neurospell-markers-{tag}")
                source = open_source(f"lsl:{request.stream}+{outlet.name}", config.acquisition)
                description = f"LSL stream {request.stream!r}"
            else:  # a recording played over LSL with its timing (as `spell --source replay:FILE`)
                stop_replay = threading.Event()
                name = f"neurospell-replay-{tag}"
                threading.Thread(target=replay_lsl, args=(request.recording,), daemon=True,
                                 kwargs=dict(name=name, wait_for_consumers=None, stop=stop_replay.is_set)).start()
                cleanup.append(stop_replay.set)
                source = open_source(f"lsl:{name}+{outlet.name}", config.acquisition)
                description = f"recording {request.recording} replayed"
            source.start()
            if participant is not None and not participant.wait_connected(30.0):
                raise NeurospellError("The simulated participant did not connect to the marker stream: "
                                      + " | ".join(participant.lines[-5:]))
            lm, lm_name = self._lm_for(config)
            self.root.mkdir(parents=True, exist_ok=True)
            folder = SessionFolder.create(self.root / f"session-{time.strftime('%Y%m%d-%H%M%S')}-{tag}",
                                          config=config)
            folder.set_source(  # what the data are, for the BIDS sidecars
                {"kind": "simulated", "stream": participant.name, "participant": "options: " + (" ".join(
                    map(str, self.participant_args)) or "the defaults")} if participant is not None
                else {"kind": "replay", "file": str(request.recording)} if request.kind == "recording"
                else source.describe())
            return _Connection(source, marker_outlet=outlet, folder=folder, lm=lm, lm_name=lm_name,
                               decoder_name=self.decoder_name, description=description, participant=participant,
                               cleanup=cleanup)
        except BaseException:
            for stop in [*cleanup, *(t.stop for t in (source,) if t is not None),
                         *(t.close for t in (participant, outlet) if t is not None)]:
                try:
                    stop()
                except Exception:  # noqa: BLE001 - cleaning up after the real error
                    pass
            raise


def demo_config(config):
    """``config`` with the speller timing of ``neurospell spell --demo`` (:data:`DEMO`).

    A ``[speller]`` key the config sets to other than the shipped default (a ``--config``
    file) wins over the preset. The flash lasts at most half the SOA (the grid needs dark
    frames between flashes).
    """
    sp, shipped = config.speller, SpellerConfig()
    keys = ("soa", "inter_trial", "calibration_repetitions", "max_repetitions", "max_minutes")
    new = {k: DEMO[k] for k in keys if getattr(sp, k) == getattr(shipped, k)}
    soa = new.get("soa", sp.soa)
    new["flash_duration"] = min(sp.flash_duration, soa / 2)
    new["min_repetitions"] = min(sp.min_repetitions, new.get("max_repetitions", sp.max_repetitions))
    return dataclasses.replace(config, speller=dataclasses.replace(sp, **new))


def _gui(args, config) -> int:
    from neurospell.gui.app import display_available

    if args.check_display:
        ok, why = display_available()
        print(f"neurospell gui: {'a window can be shown' if ok else 'no window can be shown'} ({why})")
        return 0 if ok else 1
    if not os.environ.get("QT_QPA_PLATFORM"):
        ok, why = display_available()
        if not ok:
            raise NeurospellError(
                f"No display to open the window on ({why}). Run it on a desktop, under `xvfb-run -a`, or "
                "with QT_QPA_PLATFORM=offscreen (no visible window; --screenshot still works); "
                "`neurospell spell --source simulated --headless` runs the speller without a window.")
    from neurospell.gui.app import ConnectRequest, run_app

    phrase = (args.phrase or DEMO["copy"]).upper()
    calibration = (args.calibration_text or (DEMO["calibrate"] if args.demo else DEFAULT_CALIBRATION)).upper()
    decoder = args.decoder or (DEMO["decoder"] if args.demo else None)
    participant_args = ()
    if args.demo:
        config = demo_config(config)
        participant_args = ("--amplitude", DEMO["amplitude"])
    connector = Connector(folder=args.folder, lm_name=args.lm, decoder_name=decoder, config_path=args.config,
                          participant_args=participant_args)
    demo = ConnectRequest("simulated", phrase=phrase) if args.demo else None
    if args.demo:
        print(f"neurospell gui --demo: simulated participant intending {phrase!r}; calibrating on "
              f"{calibration!r}, decoder {decoder or config.decoder.name}", flush=True)
    if args.folder is None:
        print(f"neurospell gui: session folders go to {connector.root} (the default; --folder chooses)", flush=True)

    def on_finished(message):
        print(f"neurospell gui: {message}", flush=True)

    result = run_app(config, connector, demo=demo, calibration_text=calibration, copy_text=phrase, quit_after=args.quit_after, quit_after_selections=args.quit_after_selections,
                     screenshot=args.screenshot,
                     stage_screenshots=args.stage_screenshots,
                     settings_path=args.settings, argv=sys.argv[:1], exit_when_done=args.exit_when_done,
                     on_finished=on_finished)
    if args.screenshot:
        print(f"neurospell gui: screenshot written to {args.screenshot}")
    if result.get("text") is not None:
        print(f"neurospell gui: typed {result['text']!r} ({result.get('phase')})")
    if result.get("error"):
        raise NeurospellError(f"the session failed: {result['error']}")
    if result.get("signal"):  # Ctrl-C / SIGTERM closed the window (the session stopped cleanly)
        print(f"neurospell gui: closed by {result['signal']}.", file=sys.stderr)
        return EXIT_SIGTERM if result["signal"] == "SIGTERM" else EXIT_CTRL_C
    return 0
