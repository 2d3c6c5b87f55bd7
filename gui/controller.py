"""The window's workflow controller: the connection and the live session, without widgets.

:class:`SessionController` owns the :class:`~neurospell.session.rig.Connection` (opened by a
:class:`~neurospell.session.rig.Connector` on a thread, closed on a thread) and the
:class:`~neurospell.session.live.LiveSession` built on it. It polls the session's immutable
snapshots on a timer and says what changed with Qt signals; the views draw from those.

Two state variables, each an enum: the connection's (:class:`ConnectionState`) and the
session's phase (:class:`SessionPhase`, ``None`` without a session).

Threads: the GUI thread calls only :meth:`LiveSession.snapshot` and :meth:`LiveSession.submit`
on a running session (its worker mutates everything else). Decisions reach the views inside the
snapshots (:attr:`LiveSnapshot.decisions`); the session's :meth:`~LiveSession.result` is read
once its worker ended, by the thread that joined it (:attr:`SessionController.sessionEnded`).
"""

from __future__ import annotations

import enum
import threading

from PySide6 import QtCore

from neurospell.check import NeurospellError
from neurospell.logs import logger
from neurospell.session.live import LiveSession, LiveSnapshot, Start, Stop
from neurospell.session.rig import Connection, Connector, ConnectRequest

__all__ = ["BCI_PHASES", "ConnectionState", "SessionPhase", "SessionController", "new_decisions"]

#: Phases in which the BCI has control (flashing, or training towards it).
BCI_PHASES = ("calibration", "training", "copy", "free")


class ConnectionState(enum.Enum):
    """Where the source is: closed, being opened (on a thread), open."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"


class SessionPhase(enum.Enum):
    """The phase of the controller's session (the values of :attr:`LiveSnapshot.phase`)."""

    IDLE = "idle"
    CALIBRATION = "calibration"
    TRAINING = "training"
    COPY = "copy"
    FREE = "free"
    PAUSED = "paused"
    STOPPED = "stopped"
    ERROR = "error"

    @property
    def bci_in_control(self) -> bool:
        """The BCI flashes (or trains towards it)."""
        return self.value in BCI_PHASES

    @property
    def ended(self) -> bool:
        return self in (SessionPhase.STOPPED, SessionPhase.ERROR)


def new_decisions(prev: LiveSnapshot | None, snap: LiveSnapshot) -> tuple:
    """The decision records of ``snap`` made since ``prev`` (read from the snapshots only)."""
    n_prev = 0 if prev is None else prev.n_decisions
    if snap.n_decisions <= n_prev:
        return ()
    return tuple(snap.decisions[n_prev:snap.n_decisions])


class SessionController(QtCore.QObject):
    """Opens and closes the source, runs a live session on it and polls its snapshots.

    Signals
    -------
    connectionChanged(ConnectionState)
    connectFailed(object)
        The connector's error (the state is back to ``DISCONNECTED``).
    phaseChanged(object)
        The session's :class:`SessionPhase` (``None``: no session).
    snapshotChanged(object, object)
        ``(previous, new)`` :class:`LiveSnapshot` (previous: ``None`` for a new session's first).
    decisionsMade(tuple)
        The :class:`DecisionRecord` s a new snapshot brought (oldest first).
    sessionEnded(object, object)
        ``(result, error)`` once the current session's worker ended: its :class:`LiveResult`
        (``None`` when it failed) and the error's text (``None`` when it stopped cleanly).
    sourceExited(str, bool)
        A process the connection started exited by itself: why, and whether the running
        session was stopped for it.
    sessionDropped()
        The controller let go of its session (stopped; joined when it waited for it): what
        showed it (the display) can be cleared.
    startFailed(object)
        :meth:`start_planned` could not prepare the session (the model did not load, ...).

    Parameters
    ----------
    connector : Connector | None
        Opens sources; ``None``: :meth:`connect` refuses.
    poll_hz : float
        Snapshot polling rate.
    """

    connectionChanged = QtCore.Signal(object)
    connectFailed = QtCore.Signal(object)
    phaseChanged = QtCore.Signal(object)
    snapshotChanged = QtCore.Signal(object, object)
    decisionsMade = QtCore.Signal(tuple)
    sessionEnded = QtCore.Signal(object, object)
    sourceExited = QtCore.Signal(str, bool)
    sessionDropped = QtCore.Signal()
    startFailed = QtCore.Signal(object)
    _connectDone = QtCore.Signal(object, object)
    _joined = QtCore.Signal(int, object, object)
    _prepared = QtCore.Signal(object, object, object, object)

    def __init__(self, connector: Connector | None, *, poll_hz: float = 20.0, parent=None):
        super().__init__(parent)
        self.connector = connector
        self.connection: Connection | None = None
        self.session: LiveSession | None = None
        self.snapshot: LiveSnapshot | None = None
        self.connection_state = ConnectionState.DISCONNECTED
        self.phase: SessionPhase | None = None
        #: Counts the sessions started (the current one's number; 0 before the first).
        self.serial = 0
        self._ending_serial = None  # the session whose end is being joined
        self._join_thread: threading.Thread | None = None
        self._connect_thread: threading.Thread | None = None
        self._closing: list[threading.Thread] = []
        self._child_exit_seen = None
        #: The session runs a model given at its start (no calibration: spelling needs no training).
        self.started_with_model = False
        self._plans: dict = {}  # id(session) -> the StartPlan that started it (its end writes the profile)
        self._prepare_thread: threading.Thread | None = None
        self._prepared.connect(self._start_prepared, QtCore.Qt.ConnectionType.QueuedConnection)
        self._connectDone.connect(self._connect_done, QtCore.Qt.ConnectionType.QueuedConnection)
        self._joined.connect(self._session_joined, QtCore.Qt.ConnectionType.QueuedConnection)
        self._timer = QtCore.QTimer(self)
        self._timer.timeout.connect(self.poll)
        self._timer.start(round(1000 / poll_hz))

    # -- state ---------------------------------------------------------------------------------
    def _set_connection_state(self, state: ConnectionState) -> None:
        if state is not self.connection_state:
            self.connection_state = state
            self.connectionChanged.emit(state)

    def _set_phase(self, phase: SessionPhase | None) -> None:
        if phase is not self.phase:
            self.phase = phase
            self.phaseChanged.emit(phase)

    @property
    def bci_in_control(self) -> bool:
        return self.session is not None and self.phase is not None and self.phase.bci_in_control

    # -- connection ------------------------------------------------------------------------------
    @property
    def connecting(self) -> bool:
        return self._connect_thread is not None and self._connect_thread.is_alive()

    def connect(self, request: ConnectRequest, config) -> bool:
        """Close what is open and open the source ``request`` names, on a thread.

        Returns ``False`` (and does nothing) while a connect is still under way.
        """
        if self.connector is None:
            raise NeurospellError("This window has no connector: start it with `neurospell gui`.")
        if self.connecting:
            return False
        self.disconnect()
        self._set_connection_state(ConnectionState.CONNECTING)
        connector = self.connector

        def work():
            try:
                conn, err = connector.connect(request, config), None
            except Exception as exc:  # noqa: BLE001 - said by connectFailed
                logger.info("connect failed", exc_info=True)
                conn, err = None, exc
            self._connectDone.emit(conn, err)

        self._connect_thread = threading.Thread(target=work, name="neurospell-gui-connect", daemon=True)
        self._connect_thread.start()
        return True

    @QtCore.Slot(object, object)
    def _connect_done(self, conn, err) -> None:
        if err is not None:
            self._set_connection_state(ConnectionState.DISCONNECTED)
            self.connectFailed.emit(err)
            return
        self.connection = conn
        self._child_exit_seen = None
        self._set_connection_state(ConnectionState.CONNECTED)

    def disconnect(self) -> bool:
        """Stop the session (if any) and close the source; whether there was a session.

        Returns at once: the session's worker may be busy (training) and the source slow to
        close, so both end on a thread (:meth:`close` waits for it).
        """
        session, conn = self._drop_session(), self.connection
        had_session = session is not None
        self.connection = None
        if had_session:
            self.sessionDropped.emit()
        if session is not None or conn is not None:
            def finish():
                nonlocal session
                if session is not None:
                    try:
                        session.join(timeout=60.0)
                    except Exception as err:  # noqa: BLE001 - the error is in the last snapshot already
                        logger.info("session ended with: %s", err)
                    session = None
                if conn is not None:
                    conn.close()
            thread = threading.Thread(target=finish, name="neurospell-gui-disconnect", daemon=True)
            thread.start()
            self._closing.append(thread)
        if self.connection_state is not ConnectionState.CONNECTING:
            self._set_connection_state(ConnectionState.DISCONNECTED)
        self._set_phase(None)
        return had_session

    def read_samples(self):
        """New samples for a scope (a copy out of the source's ring buffer), or ``None``."""
        return None if self.connection is None else self.connection.read_samples()

    # -- session ---------------------------------------------------------------------------------
    def start_session(self, config, display, lm=None, lm_name=None, *, first: SessionPhase = SessionPhase.CALIBRATION,
                      **kwargs) -> LiveSession:
        """End the current session and start a new one on the connection, flashing ``display``.

        ``kwargs`` go to :class:`LiveSession` (``calibration_text``, ``copy_text``, ``free``);
        the connection adds its marker outlet, language model and ``session_kwargs()``. The
        phase is ``first`` from here on (the worker's ``"idle"`` before it starts is not shown).
        """
        conn = self.connection
        if conn is None:
            raise NeurospellError("No source: connect a source first (step 1).")
        self.end_session()
        try:
            session = LiveSession(config, conn.source, display, marker_outlet=conn.marker_outlet, lm=conn.lm,
                                  lm_name=conn.lm_name, **kwargs, **conn.session_kwargs())
        except NeurospellError:
            self._set_phase(None)
            raise
        self.session, self.snapshot = session, None
        self.started_with_model = kwargs.get("decoder") is not None
        self.serial += 1
        session.start()
        session.submit(Start())
        self._set_phase(first)
        return session

    @property
    def preparing(self) -> bool:
        """A :meth:`start_planned` is preparing its session (loading the model)."""
        return self._prepare_thread is not None and self._prepare_thread.is_alive()

    def start_planned(self, plan, choice: str, config, display, **kwargs) -> bool:
        """Start a session the way ``choice`` says (a :class:`~neurospell.session.startplan.StartPlan`'s
        ``"calibrate"`` or ``"model"``): the plan prepares it on a thread (loads a fresh copy of
        the model, records the choice in the session folder's ``session.json``), then the
        session starts here as :meth:`start_session` starts it (``kwargs``: its keyword
        arguments; ``calibration_text`` is dropped when the model is started from).

        Returns ``False`` (and does nothing) while another start is being prepared; failures
        are said by :attr:`startFailed`.
        """
        conn = self.connection
        if conn is None:
            raise NeurospellError("No source: connect a source first (step 1).")
        if self.preparing:
            return False
        folder = conn.session_kwargs().get("folder")

        def work():
            try:
                cfg, extra = plan.prepare(choice, config, folder)
                self._prepared.emit(conn, (plan, cfg, extra, display, kwargs), None, None)
            except Exception as exc:  # noqa: BLE001 - said by startFailed
                logger.info("preparing the session failed", exc_info=True)
                self._prepared.emit(conn, None, exc, None)

        self._prepare_thread = threading.Thread(target=work, name="neurospell-gui-start", daemon=True)
        self._prepare_thread.start()
        return True

    @QtCore.Slot(object, object, object, object)
    def _start_prepared(self, conn, prepared, err, _unused) -> None:
        if conn is not self.connection:  # disconnected meanwhile
            return
        if err is not None:
            self.startFailed.emit(err)
            return
        plan, cfg, extra, display, kwargs = prepared
        decoder = extra["decoder"]
        kwargs = dict(kwargs)
        if decoder is not None:
            kwargs.update(decoder=decoder, calibration_text=None)
            first = SessionPhase.COPY if kwargs.get("copy_text") else SessionPhase.FREE
        else:
            first = SessionPhase.CALIBRATION
        try:
            session = self.start_session(cfg, display, first=first, **kwargs)
        except NeurospellError as exc:
            self.startFailed.emit(exc)
            return
        plan.started(session, extra["started_from"], decoder)
        self._plans[id(session)] = plan

    def end_session(self, *, wait: bool = True) -> bool:
        """Stop the session and forget it (the phase is kept until a new one is set); whether
        there was one. ``wait``: join its worker (10 s at most), then collect it."""
        session = self._drop_session()
        if session is None:
            return False
        if wait:
            try:
                session.join(timeout=10.0)
            except Exception as err:  # noqa: BLE001 - the error is in the last snapshot already
                logger.info("session ended with: %s", err)
            if self._join_thread is not None:  # (it holds the session until it has said so)
                self._join_thread.join(timeout=10.0)
            session = None
        self.sessionDropped.emit()
        return True

    def _drop_session(self) -> LiveSession | None:
        session, self.session = self.session, None
        if session is not None:
            session.submit(Stop())
        return session

    def submit(self, intent) -> bool:
        """Queue ``intent`` to the session; ``False`` when there is none."""
        if self.session is None:
            return False
        self.session.submit(intent)
        return True

    # -- snapshots -------------------------------------------------------------------------------
    def poll(self) -> None:
        """Check the connection's child process; take the session's latest snapshot (the
        timer's slot)."""
        self._check_child_exit()
        if self.session is None:
            return
        snap = self.session.snapshot()
        if snap is not self.snapshot:
            self.accept(snap)

    def accept(self, snap: LiveSnapshot) -> None:
        """Take ``snap`` as the latest snapshot: say it (and its new decisions), then its phase."""
        prev, self.snapshot = self.snapshot, snap
        decided = new_decisions(prev, snap)
        if decided:
            self.decisionsMade.emit(decided)
        self.snapshotChanged.emit(prev, snap)
        phase = SessionPhase(snap.phase)
        if phase is not SessionPhase.IDLE or self.phase is None:  # (idle: not started yet)
            self._set_phase(phase)
        if phase.ended and self.session is not None and self._ending_serial != self.serial:
            self._join_ended(self.session)

    def _join_ended(self, session: LiveSession) -> None:
        """The session stopped: join its worker on a thread (it still writes its recording),
        then say its result (:attr:`sessionEnded`)."""
        serial = self._ending_serial = self.serial

        def work():
            nonlocal session
            try:
                result, err = session.join(timeout=300.0), None
            except Exception as exc:  # noqa: BLE001 - said by sessionEnded
                result, err = None, f"{type(exc).__name__}: {exc}"
            plan = self._plans.pop(id(session), None)
            if plan is not None and err is None:  # the final model goes to the participant's profile
                plan.finish(session, None if session.folder is None else session.folder.root)
            session = None  # (the session goes with its controller, not with this thread)
            self._joined.emit(serial, result, err)

        self._join_thread = threading.Thread(target=work, name="neurospell-gui-join", daemon=True)
        self._join_thread.start()

    @QtCore.Slot(int, object, object)
    def _session_joined(self, serial: int, result, err) -> None:
        if serial == self.serial and self.session is not None:
            last = self.session.snapshot()  # (the worker ended: its last one; none comes after the end)
            if last is not self.snapshot:
                self.accept(last)
            self.sessionEnded.emit(result, err)

    def _check_child_exit(self) -> None:
        why = getattr(self.connection, "child_exit", None)
        if why is None or why == self._child_exit_seen:
            return
        self._child_exit_seen = why
        logger.warning("gui: %s; stopping the session.", why)
        stopping = self.session is not None and self.session.running
        if stopping:
            self.session.submit(Stop(why))
        self.sourceExited.emit(why, stopping)

    # -- closing ---------------------------------------------------------------------------------
    def close(self, timeout: float = 70.0) -> None:
        """Stop polling, stop the session, close the source and wait for them to end."""
        self._timer.stop()
        self.disconnect()
        for thread in [*self._closing, *(t for t in (self._join_thread,) if t is not None)]:
            thread.join(timeout=timeout)  # the participant process and the source end before the app
        self._closing = []
