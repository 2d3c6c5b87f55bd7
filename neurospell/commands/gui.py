"""``neurospell gui``: the speller window (Qt), a display and control panel for a live session."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

from ..check import NeurospellError
from ..config import SpellerConfig
from ..lifecycle import EXIT_CTRL_C, EXIT_SIGTERM
from . import _args, _start
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
    _start.add_start_arguments(p, window=True)
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
    p.add_argument("--participant-screen", metavar="N", default="auto",
                   help="the participant's own full-screen view (grid, text large, words, copy target, state): "
                        "'auto' (default) on a second monitor when there is one, else full screen in front of the "
                        "operator's window once a session starts (F12 switches); a screen number (1, 2, ...); "
                        "'off': one window")
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
    try:
        from neurospell.gui.participant_view import parse_screen_setting
    except ImportError:  # (no Qt: the window says so, naming the library)
        pass
    else:
        args.participant_screen = parse_screen_setting(args.participant_screen, "--participant-screen")
    if args.folder is not None:
        folder = Path(args.folder).expanduser()
        if folder.exists() and not folder.is_dir():
            raise NeurospellError(f"--folder {args.folder!r} is a file; give a folder for the session folders.")
    if args.decoder is not None:
        _args.check_decoder_name("--decoder", args.decoder)
    _start.check_start(args, generic=True)
    args.start_plan = None if args.check_display else _start_plan(args, config)
    layout = config.speller.live().layout()  # the live word grid unless the config picks a grid
    for flag, text in (("--phrase", args.phrase), ("--calibration-text", args.calibration_text)):
        if text is None:
            continue
        missing = sorted({c for c in text.upper() if c not in layout.symbols})
        if not text or missing:
            raise NeurospellError(
                f"{flag} {text!r} must be non-empty and use only the grid's symbols {''.join(layout.symbols)!r}; "
                f"not on the grid: {missing}.")


def _start_plan(args, config):
    """The window's :class:`~neurospell.session.startplan.StartPlan`; the model offered is
    loaded once here, so a model that cannot be used is an error before the window opens."""
    from neurospell.session.startplan import StartPlan

    plan = StartPlan(args.model, args.profile, no_calibration=args.no_calibration, adapt=args.adapt)
    if plan.offer is not None:
        flag = {"model": "--model", "profile": "--profile"}.get(plan.offer.origin, "the generic model")
        try:
            plan.offer.load(config.preprocessing)
        except NeurospellError as err:
            if plan.offer.origin == "generic" and args.model is None:  # (only offered: calibrating still works)
                print(f"neurospell gui: the generic model cannot be used here, not offered: {err}", flush=True)
                plan.offer = None
                return plan
            raise _args.UsageError(flag, f"{plan.offer.path!r} cannot start a session: {err}") from None
    return plan


def __getattr__(name: str):
    """``Connector``: the window's connector, now :class:`neurospell.session.rig.RigConnector`
    (imported when asked for: the command line's start-up stays light)."""
    if name == "Connector":
        from neurospell.session.rig import RigConnector

        return RigConnector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    from neurospell.session.rig import RigConnector

    phrase = (args.phrase or DEMO["copy"]).upper()
    calibration = (args.calibration_text or (DEMO["calibrate"] if args.demo else DEFAULT_CALIBRATION)).upper()
    decoder = args.decoder or (DEMO["decoder"] if args.demo else None)
    participant_args = ()
    if args.demo:
        config = demo_config(config)
        participant_args = ("--amplitude", DEMO["amplitude"])
    config = dataclasses.replace(config, speller=config.speller.live())  # the live word grid by default
    connector = RigConnector(folder=args.folder, lm_name=args.lm, decoder_name=decoder, config_path=args.config,
                             participant_args=participant_args)
    demo = ConnectRequest("simulated", phrase=phrase) if args.demo else None
    plan = getattr(args, "start_plan", None)
    if args.demo:
        start = (f"spelling at once with {plan.offer.label} (no calibration)" if plan is not None and plan.no_calibration
                 else f"calibrating on {calibration!r}, decoder {decoder or config.decoder.name}")
        print(f"neurospell gui --demo: simulated participant intending {phrase!r}; {start}", flush=True)
    if args.folder is None:
        print(f"neurospell gui: session folders go to {connector.root} (the default; --folder chooses)", flush=True)

    def on_finished(message):
        print(f"neurospell gui: {message}", flush=True)

    result = run_app(config, connector, demo=demo, calibration_text=calibration, copy_text=phrase, quit_after=args.quit_after, quit_after_selections=args.quit_after_selections,
                     screenshot=args.screenshot,
                     stage_screenshots=args.stage_screenshots,
                     settings_path=args.settings, argv=sys.argv[:1], exit_when_done=args.exit_when_done,
                     on_finished=on_finished, participant_screen=args.participant_screen,
                     start_plan=plan)
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
