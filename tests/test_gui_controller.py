"""The window's controller: the session's state reaches the GUI thread only in its snapshots;
old sessions are let go.

Real components: the window, a real :class:`~neurospell.session.live.LiveSession` on its grid,
the simulated participant in its own process over LSL on loopback, BrainFlow's synthetic board.
"""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from PySide6 import QtCore

from neurospell.check import NeurospellError
from neurospell.commands.gui import Connector
from neurospell.gui.app import SpellerWindow
from neurospell.gui.controller import (
    ConnectionState,
    SessionController,
    SessionPhase,
    new_decisions,
)
from neurospell.gui.grid import SpellerGrid
from neurospell.gui.settings import GuiSettings
from neurospell.session.live import LiveSession, LiveSnapshot, Stop
from neurospell.session.live.results import DecisionRecord
from neurospell.session.rig import ConnectRequest


def _window(qtbot, config, tmp_path, connector, **kw) -> SpellerWindow:
    win = SpellerWindow(config, connector, settings=GuiSettings(), settings_path=tmp_path / "gui.toml",
                        config_path=tmp_path / "config.toml", refresh_rate=60.0, **kw)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


class _ResultCalls:
    """Wraps :meth:`LiveSession.result` (the class's own method, called as before) and records,
    for each call, whether it came on the GUI thread while the session's worker ran."""

    def __init__(self, monkeypatch):
        self.calls: list[tuple[str, bool]] = []
        original = LiveSession.result

        def result(session):
            self.calls.append((threading.current_thread().name, session.running))
            return original(session)

        monkeypatch.setattr(LiveSession, "result", result)

    def on_gui_thread_while_running(self) -> list:
        gui = threading.main_thread().name
        return [c for c in self.calls if c == (gui, True)]


def test_decisions_reach_the_window_in_snapshots_only(qtbot, fast_config, tmp_path, restore_app_look, monkeypatch):
    """A real calibrate -> train -> copy spelling run: the GUI thread never calls
    ``LiveSession.result()`` while the worker runs (it mutates what ``result()`` reads); the
    decisions are announced from the snapshots and the finished message comes from the result
    read once the worker ended."""
    calls = _ResultCalls(monkeypatch)
    cfg_path, config = fast_config
    connector = Connector(folder=tmp_path / "sessions", lm_name="uniform", decoder_name="xdawncov-ts-lr",
                          config_path=cfg_path, participant_args=("--amplitude", 30, "--jitter-ms", 10, "--blink-rate", 0))
    win = _window(qtbot, config, tmp_path, connector, calibration_text="HELO", copy_text="HI")
    win.stop_after_copy = True  # the session ends after the phrase (as the demo's)
    finished = []
    win.sessionFinished.connect(finished.append)
    win.connect_source(win.connect_request(), then_calibrate=True)
    qtbot.waitUntil(lambda: win.snapshot is not None and win.snapshot.n_decisions >= 1, timeout=150_000)
    qtbot.waitUntil(lambda: bool(finished), timeout=90_000)
    snap = win.snapshot
    assert snap.phase == "stopped" and snap.n_decisions == len(snap.decisions) >= 2
    for d in snap.decisions:
        assert isinstance(d, DecisionRecord) and d.phase == "copy"
    assert f"{snap.n_decisions} selections" in finished[0] and repr(snap.text) in finished[0], finished
    win.poll()  # (the worker ended: no later snapshot replaces the finished message on the status line)
    assert win.status.text() == finished[0]
    assert calls.calls, "the finished message reads the session's result"
    assert not calls.on_gui_thread_while_running(), calls.calls
    win.close()


def test_calibrating_five_times_lets_the_old_sessions_go(qtbot, fast_config, tmp_path, restore_app_look):
    """Each Calibrate builds a new LiveSession on the same grid: after five (each stopped), at
    most one session is subscribed to the grid's onsets and the old ones are collected."""
    cfg_path, config = fast_config
    connector = Connector(folder=tmp_path / "sessions", lm_name="uniform", decoder_name="lda", config_path=cfg_path)
    win = _window(qtbot, config, tmp_path, connector, calibration_text="AB")
    win.source_box.setCurrentIndex(win.source_box.findData("synthetic"))
    win.connect_source(win.connect_request())
    qtbot.waitUntil(lambda: win.connection is not None, timeout=60_000)
    refs = []
    for _ in range(5):
        n0 = win.grid.n_flashes
        win.calibrate_button.click()
        session = win.session
        refs.append(weakref.ref(session))
        qtbot.waitUntil(lambda n0=n0: win.grid.n_flashes > n0 + 3, timeout=60_000)  # the session flashes the grid
        assert win.grid.n_subscribers == 1
        del session
        win.stop()
        qtbot.waitUntil(lambda: win.snapshot is not None and win.snapshot.phase == "stopped", timeout=30_000)
        qtbot.waitUntil(lambda: not refs[-1]().running, timeout=30_000)
        assert win.grid.n_subscribers <= 1
    assert win.grid.n_subscribers == 0  # (every session stopped: none is subscribed)
    for _ in range(3):  # (the Qt event loop runs deferred deletions between collections)
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
        gc.collect()
    alive = [i for i, r in enumerate(refs[:-1]) if r() is not None]
    assert not alive, [gc.get_referrers(refs[i]()) for i in alive]
    win.close()
    gc.collect()
    assert refs[-1]() is None


class _Refusing:
    """A :class:`~neurospell.session.rig.Connector` whose sources cannot be opened."""

    def list_streams(self):
        return []

    def connect(self, request, config):
        raise NeurospellError(f"no such stream: {request.stream!r}")


def test_controller_states_and_connect_errors(qtbot, fast_config):
    """Connection state and session phase are two variables; a failed connect is said and the
    controller is back to disconnected."""
    _, config = fast_config
    ctl = SessionController(_Refusing(), poll_hz=50)
    states, errors = [], []
    ctl.connectionChanged.connect(states.append)
    ctl.connectFailed.connect(errors.append)
    assert ctl.connection_state is ConnectionState.DISCONNECTED and ctl.phase is None
    ctl.connect(ConnectRequest("lsl", stream="nowhere"), config)
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert states == [ConnectionState.CONNECTING, ConnectionState.DISCONNECTED]
    assert "no such stream: 'nowhere'" in str(errors[0]) and ctl.connection is None
    with pytest.raises(NeurospellError, match="connect a source first"):
        ctl.start_session(config, None, None, calibration_text="AB")
    ctl.close()


def test_new_decisions_come_from_the_snapshots():
    recs = tuple(DecisionRecord("copy", s, s, 0.99, 24, "HI"[:i + 1], float(i), 0.01) for i, s in enumerate("HI"))
    one = LiveSnapshot("copy", "", n_decisions=1, decisions=recs[:1])
    two = LiveSnapshot("copy", "", n_decisions=2, decisions=recs)
    assert new_decisions(None, one) == recs[:1]
    assert new_decisions(one, two) == recs[1:]
    assert new_decisions(two, two) == ()
    # a new session (fewer decisions than the previous snapshot shown): none is taken as new
    assert new_decisions(two, one) == ()
    assert SessionPhase("copy") is SessionPhase.COPY and SessionPhase.COPY.bci_in_control
    assert not SessionPhase.PAUSED.bci_in_control


def test_controller_runs_a_session_on_the_synthetic_board(qtbot, fast_config, tmp_path, monkeypatch):
    """The controller alone (no window) on a real source and a real grid: the connection's
    states and the session's phases each in their own variable and signal; the result comes
    from the thread that joined the ended worker, never from the GUI thread while it ran."""
    calls = _ResultCalls(monkeypatch)
    cfg_path, config = fast_config
    connector = Connector(folder=tmp_path / "sessions", lm_name="uniform", decoder_name="lda", config_path=cfg_path)
    grid = SpellerGrid(config.speller.layout(), flash_frames=3, gap_frames=3, refresh_rate=60.0)
    qtbot.addWidget(grid)
    grid.show()
    qtbot.waitExposed(grid)
    ctl = SessionController(connector, poll_hz=50)
    states, phases, ended = [], [], []
    ctl.connectionChanged.connect(states.append)
    ctl.phaseChanged.connect(phases.append)
    ctl.sessionEnded.connect(lambda result, err: ended.append((result, err)))
    assert ctl.connect(ConnectRequest("synthetic"), config)
    assert not ctl.connect(ConnectRequest("synthetic"), config)  # (one connect at a time)
    qtbot.waitUntil(lambda: ctl.connection is not None, timeout=60_000)
    assert states == [ConnectionState.CONNECTING, ConnectionState.CONNECTED] and ctl.phase is None
    ctl.start_session(config, grid, calibration_text="AB", copy_text=None, free=False)
    assert ctl.phase is SessionPhase.CALIBRATION and ctl.bci_in_control
    qtbot.waitUntil(lambda: grid.n_flashes > 3, timeout=60_000)
    assert ctl.phase is SessionPhase.CALIBRATION and ctl.snapshot.phase == "calibration"
    assert ctl.submit(Stop())
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    result, err = ended[0]
    assert err is None and result.stop_reason == "stopped by the user" and ctl.phase is SessionPhase.STOPPED
    assert phases == [SessionPhase.CALIBRATION, SessionPhase.STOPPED], phases
    assert states == [ConnectionState.CONNECTING, ConnectionState.CONNECTED]  # (the session's end is not the source's)
    assert not calls.on_gui_thread_while_running(), calls.calls
    ctl.close()
    assert states[-1] is ConnectionState.DISCONNECTED and phases[-1] is None and ctl.connection is None
    assert grid.n_subscribers == 0
