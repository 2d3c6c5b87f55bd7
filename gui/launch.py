"""Starting the window: :func:`run_app` (the event loop, the demo, screenshots, signals) and
:func:`display_available`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from neurospell.config import Config
from neurospell.session.rig import Connector, ConnectRequest

from .window import SpellerWindow

__all__ = ["run_app", "display_available"]


def display_available(timeout: float = 15.0) -> tuple[bool, str]:
    """Whether Qt can open a window on this machine's display.

    Qt aborts the process when its platform plugin cannot connect to a display, so the test
    runs in a subprocess that creates a ``QApplication``.

    Returns
    -------
    ok : bool
    reason : str
        What was found (``"no $DISPLAY or $WAYLAND_DISPLAY"``, the platform's error, ...).
    """
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.split(":")[0] in ("offscreen", "minimal", "vnc"):
        return False, f"QT_QPA_PLATFORM={platform} draws no window"
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False, "no $DISPLAY or $WAYLAND_DISPLAY"
    code = "from PySide6 import QtWidgets; app = QtWidgets.QApplication(['neurospell']); print(app.platformName())"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"Qt did not open the display within {timeout:g} s"
    if out.returncode != 0:
        err = (out.stderr.strip().splitlines() or ["Qt could not start"])[-1]
        return False, f"Qt cannot open the display: {err}"
    return True, f"Qt platform {out.stdout.strip()}"



def run_app(config: Config, connector: Connector | None = None, *, demo: ConnectRequest | None = None,
            calibration_text: str | None = None, copy_text: str | None = None, quit_after: float | None = None,
            quit_after_selections: int | None = None, screenshot=None, stage_screenshots=None, settings_path=None,
            argv: Sequence[str] | None = None, exit_when_done: bool = False, on_finished=None,
            participant_screen=None, start_plan=None) -> dict:
    """Show the window and run the Qt event loop until it is closed (or ``quit_after`` passes).

    Parameters
    ----------
    config : Config
    connector : Connector | None
    demo : ConnectRequest | None
        Connect to this source at once and press Calibrate (``neurospell gui --demo``): the
        session ends after the copy phrase (no free spelling), its result stays shown.
    calibration_text, copy_text : str | None
    quit_after : float | None
        Close the window after this many seconds.
    quit_after_selections : int | None
        Close the window once the session made this many selections (decisions).
    screenshot : path-like | None
        Write the window as shown when it closes (PNG); with a participant's view, that view
        too, beside it (``<name>-participant.png``).
    stage_screenshots : path-like | None
        A folder: a screenshot of each workflow stage (``NN-<stage>.png``) is written there;
        with a participant's view, that view's in its ``participant`` subfolder.
    settings_path : path-like | None
    argv : sequence of str | None
        ``QApplication`` arguments.
    exit_when_done : bool
        Close the window once the session has finished (its result shown for a moment).
    on_finished : callable ``(message) -> None`` | None
        Called with the finished message (result and session folder) when a session ends.
    participant_screen : ``"auto"`` | ``"off"`` | int | None
        The participant's own full-screen view (see :class:`SpellerWindow`); ``None``: one window.
    start_plan : StartPlan | None
        How a session may start: calibrate first or spell at once with its model (see
        :class:`SpellerWindow`); ``demo`` starts the way its ``default_choice`` says.

    Returns
    -------
    result : dict
        ``text`` (typed text), ``phase`` and ``error`` of the last snapshot (``None`` without a session);
        ``signal``: ``"SIGINT"`` or ``"SIGTERM"`` when one closed the window (else ``None``).

    Notes
    -----
    Ctrl-C (SIGINT) and SIGTERM close the window as its close button does: the session
    stops, its phase is written, the participant process and the source are closed.
    """
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(list(argv or ["neurospell"]))
    app.setApplicationName("neurospell")
    app.setApplicationDisplayName("neurospell speller")
    win = SpellerWindow(config, connector, settings_path=settings_path, calibration_text=calibration_text,
                        copy_text=copy_text, participant_screen=participant_screen, start_plan=start_plan)
    win.demo = win.stop_after_copy = demo is not None
    win.closing_when_done = exit_when_done
    win.show()
    win.activateWindow()
    if win.participant is not None:
        win.participant.show_if_own_screen()
    win.grid.setFocus()
    result: dict = {"text": None, "phase": None, "error": None, "signal": None}

    def finish():
        snap = win.snapshot
        if snap is not None:
            result.update(text=snap.text, phase=snap.phase, error=snap.error)
        elif getattr(win, "connect_error", None) is not None:
            result["error"] = f"could not connect: {win.connect_error}"
        if screenshot is not None:
            win.save_screenshot(screenshot)
            if win.participant is not None:
                path = Path(screenshot)
                win.participant.save_screenshot(path.with_name(f"{path.stem}-participant{path.suffix}"))
        win.close()

    if stage_screenshots is not None:
        folder = Path(stage_screenshots)
        folder.mkdir(parents=True, exist_ok=True)
        shots = {"n": 0}

        def shoot(stage: str) -> None:
            def grab():
                shots["n"] += 1
                win.save_screenshot(folder / f"{shots['n']:02d}-{stage}.png")
                if win.participant is not None and win.participant.view.isVisible():
                    win.participant.save_screenshot(folder / "participant" / f"{shots['n']:02d}-{stage}.png")
            QtCore.QTimer.singleShot(400, grab)  # let the new stage paint first

        win.phaseChanged.connect(shoot)
        win.trained.connect(lambda: shoot("trained"))
        shoot("start")
    if demo is not None:
        QtCore.QTimer.singleShot(0, lambda: win.connect_source(demo, then_calibrate=True))
    done = {"closed": False}

    def finish_once():
        if not done["closed"]:
            done["closed"] = True
            finish()

    if on_finished is not None:
        win.sessionFinished.connect(on_finished)
    if exit_when_done:
        win.sessionFinished.connect(lambda _message: QtCore.QTimer.singleShot(_DONE_SHOWN_MS, finish_once))
    if quit_after is not None:
        QtCore.QTimer.singleShot(round(1000 * quit_after), finish_once)
    if quit_after_selections is not None:
        def check_selections():
            if win.snapshot is not None and win.snapshot.n_decisions >= quit_after_selections:
                QtCore.QTimer.singleShot(300, finish_once)  # let the decision paint first
                watcher.stop()
        watcher = QtCore.QTimer(win)
        watcher.timeout.connect(check_selections)
        watcher.start(100)
    with _signals_close(lambda name: (result.update(signal=name), QtCore.QTimer.singleShot(0, finish_once))):
        app.exec()
    return result


#: Milliseconds the finished session's result stays shown before ``exit_when_done`` closes the window.
_DONE_SHOWN_MS = 1500


class _signals_close:
    """Within the block (the Qt event loop), SIGINT and SIGTERM call ``close(name)`` in the GUI
    thread: a timer lets the interpreter run its signal handlers while Qt waits for events."""

    def __init__(self, close):
        self.close = close
        self.previous = {}
        self.timer = None

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, lambda signum, frame: self.close(signal.Signals(signum).name))
        self.timer = QtCore.QTimer()
        self.timer.timeout.connect(lambda: None)
        self.timer.start(200)
        return self

    def __exit__(self, *exc):
        if self.timer is not None:
            self.timer.stop()
        for sig, handler in self.previous.items():
            if handler is not None:  # (None: not installed from Python)
                signal.signal(sig, handler)
