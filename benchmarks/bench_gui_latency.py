"""How well the speller window's GUI thread keeps its timers through a whole live session.

Opens the real :class:`~neurospell.gui.window.SpellerWindow` (offscreen unless
``QT_QPA_PLATFORM`` says otherwise), connects the simulated participant (its own process,
answering the flash markers over LSL on loopback), and runs calibrate -> train -> copy-spell
on the grid schedule of ``neurospell gui --demo`` (SOA 0.125 s, 5 calibration repetitions),
as a person would with the buttons. A 10 ms precise timer on the GUI
thread (:class:`~neurospell.gui.probe.LatenessProbe`) records how late each tick comes, per
phase, and how much of that the thread spent waiting for a CPU (the OS's doing, not the
program's).

Baseline, measured in the same run: the same probe on the connected window before any
session (the scope drawing the live signal, nothing flashing, nothing training). Reported per
phase: ticks, lateness p50 / p99 / max, ticks over one 60 Hz frame, the lateness not
explained by waiting for a CPU (p99, second largest, max), and the ratio of the phase's p99
and max to the baseline's (``--floor-ms`` keeps a near-zero baseline from making a ratio
meaningless).

    python benchmarks/bench_gui_latency.py [--runs 3] [--copy HI] [--json out.json]

Run it on an otherwise idle machine; ``nice``/other jobs beside it show up as CPU waits.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from PySide6 import QtCore, QtWidgets  # noqa: E402

from neurospell.commands.gui import demo_config  # noqa: E402
from neurospell.config import default_config, load_config, write_config  # noqa: E402
from neurospell.gui.probe import LatenessProbe, PhaseLateness  # noqa: E402
from neurospell.gui.settings import GuiSettings  # noqa: E402
from neurospell.gui.window import SpellerWindow  # noqa: E402
from neurospell.logs import set_log_level  # noqa: E402
from neurospell.lsl import configure_lsl  # noqa: E402
from neurospell.session.rig import RigConnector  # noqa: E402

BASELINE = "connected, no session"


def run_once(app, folder: Path, *, calibration: str, copy: str, baseline_s: float, amplitude: float,
             timeout_s: float) -> dict[str, PhaseLateness]:
    """One session in a fresh window; the probe's figures per phase (the baseline first)."""
    cfg_path = folder / "demo.toml"  # the schedule of `neurospell gui --demo` (its participant process reads it too)
    write_config(demo_config(default_config()), cfg_path)
    config = load_config(cfg_path)
    connector = RigConnector(folder=folder / "sessions", lm_name="ngram", decoder_name="xdawncov-ts-lr",
                             config_path=cfg_path,
                             participant_args=("--amplitude", amplitude, "--jitter-ms", 10, "--blink-rate", 0))
    win = SpellerWindow(config, connector, settings=GuiSettings(), settings_path=folder / "gui.toml",
                        config_path=folder / "config.toml", refresh_rate=60.0, calibration_text=calibration,
                        copy_text=copy)
    win.stop_after_copy = True
    win.show()
    probe = LatenessProbe(lambda: win.snapshot.phase if win.snapshot is not None else BASELINE)
    loop = QtCore.QEventLoop()
    state = {"error": None}

    def connected(phase: str) -> None:
        if phase == "connected" and win.snapshot is None and not state.get("probing"):
            state["probing"] = True
            probe.start()
            QtCore.QTimer.singleShot(round(1000 * baseline_s), win.calibrate)

    def finished(message: str) -> None:
        state["message"] = message
        loop.quit()

    def timed_out() -> None:
        state["error"] = f"the session did not finish within {timeout_s:.0f} s (status: {win.status.text()})"
        loop.quit()

    win.phaseChanged.connect(connected)
    win.sessionFinished.connect(finished)
    QtCore.QTimer.singleShot(0, lambda: win.connect_source(win.connect_request()))
    QtCore.QTimer.singleShot(round(1000 * timeout_s), timed_out)
    loop.exec()
    probe.stop()
    text = win.snapshot.text if win.snapshot is not None else None
    win.close()
    app.processEvents()
    if state["error"] is not None:
        raise RuntimeError(state["error"])
    print(f"  typed {text!r} (copy {copy!r}); {state['message']}")
    return probe.summary()


def report(summary: dict[str, PhaseLateness], floor_ms: float) -> None:
    base = summary.get(BASELINE)
    print(f"  {'phase':<22} {'ticks':>6} {'p50':>6} {'p99':>6} {'max':>6} {'>frame':>6} "
          f"{'bl.p99':>6} {'bl.2nd':>6} {'bl.max':>6} {'p99/base':>8} {'max/base':>8}")
    for phase, f in summary.items():
        ratio = ("" if base is None else
                 f"{f.p99 / max(base.p99, floor_ms):8.2f} {f.max / max(base.max, floor_ms):8.2f}")
        print(f"  {phase:<22} {f.n_ticks:6d} {f.p50:6.1f} {f.p99:6.1f} {f.max:6.1f} {f.n_over_frame:6d} "
              f"{f.blocked_p99:6.1f} {f.blocked_second:6.1f} {f.blocked_max:6.1f} {ratio}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1, help="sessions, each in a fresh window (default 1)")
    ap.add_argument("--calibration", default="HELO W", help="calibration text (default 'HELO W')")
    ap.add_argument("--copy", default="HI", help="text to copy-spell (default 'HI')")
    ap.add_argument("--baseline-s", type=float, default=5.0, help="seconds of the baseline (default 5)")
    ap.add_argument("--amplitude", type=float, default=30.0, help="the simulated P300, µV (default 30)")
    ap.add_argument("--floor-ms", type=float, default=1.0, help="smallest baseline a ratio divides by (default 1)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds one session may take (default 300)")
    ap.add_argument("--json", type=Path, help="write every run's figures here")
    args = ap.parse_args(argv)
    if args.runs < 1:
        ap.error(f"--runs must be at least 1, got {args.runs}")
    set_log_level("WARNING")
    configure_lsl()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["neurospell-bench"])
    runs = []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs}")
        with tempfile.TemporaryDirectory(prefix="bench-gui-") as tmp:
            summary = run_once(app, Path(tmp), calibration=args.calibration, copy=args.copy,
                               baseline_s=args.baseline_s, amplitude=args.amplitude, timeout_s=args.timeout)
        report(summary, args.floor_ms)
        runs.append({phase: dataclasses.asdict(f) for phase, f in summary.items()})
    if args.json is not None:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "runs": runs}, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
