"""The live session's facade: :class:`LiveSession` (see the package's docstring).

It owns the worker thread, the phase plan, the intents queue and the snapshots; the worker
runs each phase (:mod:`.calibration`, :mod:`.training_phase`, :mod:`.spelling`) through the
collaborators it holds: the :class:`~.flashes.FlashScheduler`, the
:class:`~.pump.StreamPump`, the :class:`~.markerwatch.MarkerWatch`, the
:class:`~.pause.PauseState` and the :class:`~.recorder.PhaseRecorder`. The phase modules
call the worker's underscore methods (``_step``, ``_wait_step``, ``_send``, ``_publish``,
``_log``, ``_begin_phase``, ``_end_phase``): they are internal to this package, and run in
the worker thread only.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque

from neurospell.check import NeurospellError, check_option, validate_type
from neurospell.decoder import DECODERS
from neurospell.diskspace import is_no_room, no_room_why
from neurospell.logs import logger, set_log_level
from neurospell.lsl import local_clock
from neurospell.markers import BACKSPACE, format_text

from ..waiting import ReadingExecutor
from .calibration import CalibrationPhase
from .ending import Ending
from .flashes import FlashScheduler
from .intents import RUN_PHASES, Pause, Resume, Select, SetPhase, Start, Stop, Undo
from .markerwatch import MarkerWatch
from .pause import PauseState
from .pump import StreamPump
from .recorder import PhaseRecorder
from .results import LiveResult, LiveSnapshot
from .spelling import run_spelling
from .startup import preload, thaw, wait_for_stream
from .training import TrainingPool, training_pool
from .training_phase import run_training

__all__ = ["LiveSession"]

#: Seconds between two reads of the source while the worker waits between runs (far below any
#: source buffer's length).
_READ_EVERY = 0.05


class _Stopped(Exception):
    """The session was asked to stop (internal)."""


class LiveSession:
    """The speller, live: a worker thread driving a display, a source and the engine.

    Parameters
    ----------
    config : Config
        ``[speller]`` (grid, SOA, repetitions, stop conditions), ``[preprocessing]``,
        ``[decoder]`` (the decoder trained after calibration), ``[lm]``.
    source : BaseSource
        An acquisition source (``BrainFlowSource``, ``LslSource``), constructed; started
        here if it is not running.
    display : Display
        Shows the flashes and reports their onsets (:mod:`neurospell.session.display`).
    folder : SessionFolder | None
        Where the phases are recorded, the decision log written and the model saved.
    decoder : BaseDecoder | None
        A fitted decoder (no calibration needed), or ``None`` to train one on the
        calibration epochs (``calibration_text`` required then).
    lm : LanguageModel | None
        The language-model prior (``None``: uniform).
    lm_name : str | None
        Its name (stored with the chosen LM weight).
    decoder_name : str | None
        Registry name of the decoder trained after calibration (default ``[decoder] name``).
    marker_outlet : LslMarkerOutlet | None
        Markers are pushed here with the display's onsets (an ``LslSource`` reading this
        stream gets them back aligned with its samples). Without it they go through
        ``source.insert_marker``.
    copy_text : str | None
        The copy-spelling phrase (a ``copy`` phase).
    calibration_text : str | None
        Characters cued in calibration (a ``calibration`` and a ``training`` phase).
    free : bool | None
        Add a ``free`` spelling phase (default: when there is no ``copy_text``).
    model_path : path-like | None
        Where to save the trained model without a ``folder``.
    seed : int
        Seeds the flash orders.
    on_decision : callable ``(DecisionRecord) -> None`` | None
        Called from the worker thread after each decision (keep it short).
    text_out : TextOut | None
        Gets the typed text each time a snapshot is published, on the worker thread (one
        message per change to its sinks, e.g. the LSL text stream: :mod:`~neurospell.session.textout`).
    verbose : str | int | None

    Notes
    -----
    **Markers that do not reach the recording.** With a ``marker_outlet`` the session
    checks that the markers it sends come back through its source; when they do not it
    pauses (``marker_problem``), counts the flashes not recorded as discarded, probes, and
    resumes by itself once markers come back, or on :class:`Resume`: see
    :mod:`~neurospell.session.live.markerwatch`.
    """

    def __init__(self, config, source, display, *, folder=None, decoder=None, lm=None, lm_name=None,
                 decoder_name=None, marker_outlet=None, copy_text=None, calibration_text=None,
                 free=None, model_path=None, seed=0, on_decision=None, text_out=None, verbose=None):
        if verbose is not None:
            set_log_level(verbose)
        self.config = config
        self.source = source
        self.display = display
        self.folder = folder
        self.decoder = decoder
        self.lm = lm
        self.lm_name = lm_name or (None if lm is None else getattr(lm, "name", type(lm).__name__))
        self.decoder_name = decoder_name or config.decoder.name
        if decoder is None:
            check_option("decoder_name", self.decoder_name, list(DECODERS))
        self.marker_outlet = marker_outlet
        self.model_path = model_path
        self.seed = int(seed)
        self.on_decision = on_decision
        self.text_out = text_out
        self.layout = config.speller.layout()
        sp = config.speller
        for what, text in (("copy_text", copy_text), ("calibration_text", calibration_text)):
            if text is None:
                continue
            validate_type(text, str, what)
            missing = sorted({c for c in text if c not in self.layout.symbols})
            if not text or missing:
                raise NeurospellError(
                    f"{what} {text!r} must be non-empty and use only the grid's symbols "
                    f"{''.join(self.layout.symbols)!r}; not on the grid: {missing}.")
        if decoder is None and calibration_text is None:
            raise NeurospellError(
                "LiveSession needs a fitted decoder (decoder=...) or a calibration text "
                "(calibration_text=...) to train one on.")
        for name in ("show_flashes", "on_onset", "cue"):
            if not callable(getattr(display, name, None)):
                raise NeurospellError(f"display {display!r} lacks {name}(): it must implement the Display protocol "
                                      "(neurospell.session.display).")
        self.copy_text = copy_text
        self.calibration_text = calibration_text
        plan = []
        if calibration_text is not None:
            plan += [("calibration", calibration_text), ("training", None)]
        if copy_text is not None:
            plan.append(("copy", copy_text))
        if free or (free is None and copy_text is None):
            plan.append(("free", None))
        self._plan = deque(plan)
        self._intents: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        #: The write that failed for lack of room (a full disk), when that stopped the session:
        #: no traceback, the phase's rawlog is kept unconverted (``neurospell recover``).
        self.disk_full: BaseException | None = None
        self._phase = "idle"
        self._status = "waiting for start"
        self._ending = Ending()
        # the collaborators (see the package's docstring: who owns what)
        self._pause = PauseState()
        self._flashes = FlashScheduler(display, self.layout)
        self._recorder = PhaseRecorder(folder, source)
        self._watch = MarkerWatch(
            marker_outlet, self._pause, timeout=max(1.0, 2.0 * sp.pause_after), phase=self._current_phase,
            source=source, log=self._log, on_pause=self._markers_paused, on_resume=self._publish,
            on_discard=self._changed)
        self._stream = StreamPump(
            source, pause=self._pause, watch=self._watch, recorder=self._recorder, pause_after=sp.pause_after,
            log=self._log, on_source_lost=self._source_lost, on_source_back=self._source_back)
        # the phases' results
        self._calibration: CalibrationPhase | None = None  # the calibration running
        self._calibration_batch = None
        self._training_report: dict | None = None
        self._spelling = None  # the spelling run (SpellingRun) running or last run
        self._engine = None
        self._driver = None
        self._decisions: list = []
        self._pending_decision = None  # (SelectionDecided, latency) the spelling loop acts on
        self._discarded_before = 0
        self._n_scored_before = 0
        self._spell_time = 0.0
        # the worker's loop
        self._trial = 0
        self._started = False
        self._phase_done = False
        self._t_start: float | None = None
        self._train_pool: TrainingPool | None = None
        self._adapt = None  # the online adaptation ([speller] adapt; .adaptation.Adaptation)
        self._unsubscribe_onsets = None  # (subscribed while the worker runs)
        # the snapshot
        self._target_text: str | None = None
        self._cue: str | None = None
        self._progress: float | None = None
        self._dirty = False
        self._last_publish = 0.0
        self._snapshot = LiveSnapshot("idle", self._status)

    # -- the public API -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread (it waits for a :class:`Start` intent in ``"idle"``)."""
        if self._thread is not None:
            raise NeurospellError("This LiveSession is already started; a session runs once.")
        self._thread = threading.Thread(target=self._run, name="neurospell-live-session", daemon=True)
        self._thread.start()

    def submit(self, intent) -> None:
        """Queue a user intent (thread-safe)."""
        if not isinstance(intent, (Start, Pause, Resume, Stop, Undo, Select, SetPhase)):
            raise NeurospellError(
                f"submit: intent must be Start, Pause, Resume, Stop, Undo, Select or SetPhase, got {intent!r}.")
        if isinstance(intent, SetPhase) and intent.name not in RUN_PHASES:
            raise NeurospellError(f"SetPhase: name must be one of {RUN_PHASES}, got {intent.name!r}.")
        self._intents.put(intent)

    def snapshot(self) -> LiveSnapshot:
        """The latest immutable snapshot (thread-safe, cheap)."""
        return self._snapshot

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def model(self):
        """The decoder in use now (with ``[speller] adapt``: the latest refit swapped in)."""
        return getattr(self.decoder, "current", self.decoder)

    @property
    def marker_timeout(self) -> float:
        """Seconds a flash or trial marker may take to come back through the source before
        it counts as not recorded (loopback: milliseconds)."""
        return self._watch.timeout

    @marker_timeout.setter
    def marker_timeout(self, value: float) -> None:
        self._watch.timeout = float(value)

    def join(self, timeout: float | None = None) -> LiveResult:
        """Wait for the worker to end and return the result; re-raise its error.

        Raises
        ------
        TimeoutError
            When the session is still running after ``timeout`` seconds.
        """
        if self._thread is None:
            raise NeurospellError("join: the session was not started; call start() first.")
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"The live session still runs after {timeout} s; submit(Stop()) to end it.")
        if self._error is not None:
            raise self._error
        return self.result()

    def result(self) -> LiveResult:
        """The result so far (complete once the worker ended)."""
        return LiveResult(
            text=self._engine.text if self._engine is not None else "",
            target_text=self.copy_text, decisions=tuple(self._decisions),
            stop_reason=self._ending.reason, duration=self._spell_time,
            n_flashes=self._flashes.n_spell,
            n_scored=self._n_scored_before + (0 if self._driver is None else self._driver.n_scored),
            n_discarded=self._n_discarded(), gaps=tuple(self._stream.gaps),
            pauses=tuple(self._pause.pauses), training_report=self._training_report,
            n_symbols=len(self.layout.symbols))

    # -- snapshots -----------------------------------------------------------------------------
    def _n_discarded(self) -> int:
        n = self._discarded_before + self._watch.n_lost
        if self._calibration is not None:
            n += self._calibration.n_dropped
        if self._driver is not None:
            n += sum(self._driver.epocher.n_dropped_.values())
        return n

    def _publish(self, status: str | None = None, *, completions: bool = False) -> None:
        self._last_publish = time.monotonic()
        if status is not None:
            self._status = status
        eng = None
        if self._engine is not None:
            # the completions of the current text go into every snapshot once they are computed
            # (a snapshot without them could replace the one with them before a GUI reads it)
            eng = self._engine.snapshot(completions=completions or self._engine.completions_ready)
        pause = self._pause
        self._snapshot = LiveSnapshot(
            phase="paused" if pause.blocked() and self._phase in RUN_PHASES else self._phase,
            status=self._status, engine=eng, cue=self._cue, target_text=self._target_text,
            progress=self._progress, source_ok=pause.source_problem is None,
            source_problem=pause.source_problem, n_flashes=self._flashes.n_flashes,
            n_decisions=len(self._decisions), training_report=self._training_report,
            text=self._engine.text if self._engine is not None else "",
            n_discarded=self._n_discarded(), n_gaps=len(self._stream.gaps),
            error=None if self._error is None else f"{type(self._error).__name__}: {self._error}",
            marker_problem=pause.marker_problem, decisions=tuple(self._decisions))
        if self.text_out is not None:  # (the worker thread: the sinks see every change, in order)
            self.text_out.update(self._snapshot.text, run=id(self._engine))

    def _changed(self) -> None:
        """Something the snapshot shows changed (published within 0.1 s by the loop)."""
        self._dirty = True

    def _current_phase(self) -> str:
        return self._phase

    # -- the worker's services to the phases (calibration, training_phase, spelling) ---------------
    def _log(self, record: dict) -> None:
        self._recorder.log(record)

    def _begin_phase(self, name: str, task: str | None, text: str | None) -> None:
        """A new stream segment: samples indexed from 0, recorded to the task's rawlog."""
        self._stream.new_segment()
        self._recorder.begin(name, task, text)

    def _end_phase(self) -> None:
        # in the training process (started by _preload when there is a folder): reading the
        # rawlog and writing BIDS is seconds of Python that would hold this process's GIL;
        # the stream is read meanwhile (for the next run) while the session still runs
        pool = self._train_pool
        if pool is not None and self._phase in RUN_PHASES:
            pool = ReadingExecutor(pool, self._wait_step)
        self._recorder.end(disk_full=self.disk_full, executor=pool, announce=self._publish)

    def _send(self, label: str, timestamp: float | None = None, *, via_source: bool = True) -> None:
        """Send a marker with ``timestamp`` (LSL time; ``None``: now) on the outlet or the source."""
        if self.marker_outlet is not None:
            self._watch.send(label, timestamp)
        elif via_source:
            self.source.insert_marker(label, timestamp=timestamp)

    def _pump(self, wait: float = 0.01, *, hold: bool = False) -> None:
        """Send the shown flashes' markers, then read the stream (:meth:`StreamPump.pump`)."""
        self._flashes.send_shown(self._send)
        self._stream.pump(wait, hold=hold)

    def _step(self, wait: float = 0.01) -> None:
        """One turn of a phase's loop: intents, the stream, the markers, the deadline, the snapshot."""
        self._handle_intents()
        self._pump(wait)
        self._watch.check()
        self._deadline_check()
        if self._dirty and self._pending_decision is None and time.monotonic() - self._last_publish > 0.1:
            # (not with a decision pending: the spelling loop acts on it, does its LM work and
            # publishes the snapshot with the new completions)
            self._dirty = False
            self._publish()

    def _wait_step(self) -> None:
        """One turn of a wait between two runs (:mod:`~neurospell.session.waiting`): read the
        stream and keep what comes for the next run, check the source and the markers,
        publish. Intents stay queued for the phase that follows. It reads every
        :data:`_READ_EVERY` seconds, not at each chunk: nothing is in a hurry between runs, and
        a GUI thread in this process gets the GIL with fewer wake-ups beside it."""
        time.sleep(_READ_EVERY)
        self._pump(0.0, hold=True)
        self._watch.check()
        if self._dirty and time.monotonic() - self._last_publish > 0.1:
            self._dirty = False
            self._publish()

    def _end(self, why: str) -> None:
        """A stop rule ends the session after this phase (no phase follows)."""
        self._ending.stop(why)
        self._plan.clear()

    # -- pauses: the source, the markers ---------------------------------------------------------
    def _source_lost(self, why: str) -> None:
        t0 = self._pause.source_lost(why)
        if t0 is not None:
            logger.warning("LiveSession: pausing: %s", why)
            self._log({"type": "pause", "t": t0, "reason": why})
            self._flashes.cancel()
        self._publish(f"paused: {why}")

    def _source_back(self) -> None:
        t, duration = self._pause.source_back()
        self._log({"type": "resume", "t": t})
        logger.warning("LiveSession: samples flow again after %.1f s; resuming.", duration)
        if self._engine is not None and self._phase in ("copy", "free"):
            self._send(format_text(self._engine.text), via_source=False)
        self._publish("resumed")

    def _markers_paused(self, msg: str) -> None:
        self._flashes.cancel()
        self._publish(f"paused: {msg}")

    # -- intents -------------------------------------------------------------------------------
    def _handle_intents(self) -> None:
        while True:
            try:
                intent = self._intents.get_nowait()
            except queue.Empty:
                return
            logger.info("LiveSession: intent %r", intent)
            self._log({"type": "intent", "t": local_clock(), "intent": type(intent).__name__})
            if isinstance(intent, Stop):
                raise _Stopped(intent.reason or "stopped by the user")
            if isinstance(intent, Start):
                self._started = True
            elif isinstance(intent, Pause):
                if self._pause.pause_user():
                    self._flashes.cancel()
                    self._publish("paused by the user")
            elif isinstance(intent, Resume):
                if self._pause.marker_problem is not None:
                    self._watch.resume("the user resumed")
                if self._pause.resume_user():
                    self._publish("resumed")
            elif isinstance(intent, (Undo, Select)):
                self._apply_direct(BACKSPACE if isinstance(intent, Undo) else intent.symbol)
            elif isinstance(intent, SetPhase):
                self._plan.clear()
                if self._phase == "calibration" and self.decoder is None and intent.name in ("copy", "free"):
                    self._plan.append(("training", None))  # spelling needs the decoder of this calibration
                self._plan.append((intent.name, intent.text))
                if intent.name == "calibration":
                    self._plan.append(("training", None))
                self._phase_done = True

    def _apply_direct(self, symbol) -> None:
        """Queue a symbol chosen outside the flashing; the spelling loop applies it once the
        flashes of the open selection are all in (so none of them lands in the next one)."""
        if self._engine is None or self._phase not in ("copy", "free"):
            logger.warning("LiveSession: %r ignored outside the spelling phases.", symbol)
            return
        self._spelling.direct.append(symbol)
        self._flashes.cancel()

    # -- the worker ----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._unsubscribe_onsets = self.display.on_onset(self._flashes.on_onset)
            if not callable(self._unsubscribe_onsets):
                raise NeurospellError(
                    f"display {self.display!r}: on_onset() returned {self._unsubscribe_onsets!r}; it must return the "
                    "function that unsubscribes (the Display protocol, neurospell.session.display).")
            self._main()
            self._phase = "stopped"
            self._publish(f"stopped: {self._ending.reason}")
        except _Stopped as why:
            self._ending.stop(str(why))
            self._phase = "stopped"
            self._publish(f"stopped: {self._ending.reason}")
        except BaseException as err:  # noqa: BLE001 - surfaced in the snapshot, re-raised by join()
            if is_no_room(err):  # a full disk: a clean stop; the caller says what was kept
                self._stopped_for_room(err)
            else:
                logger.error("LiveSession: the worker failed: %s", err, exc_info=True)
                self._error = err
                self._phase = "error"
                self._ending.stop(f"error: {err}")
                self._publish(f"error: {err}")
        finally:
            try:
                self._flashes.cancel()
            except Exception:  # noqa: BLE001
                pass
            if callable(self._unsubscribe_onsets):  # the display outlives this session
                self._unsubscribe_onsets()
            try:
                self._end_phase()
            except Exception as err:  # noqa: BLE001
                if is_no_room(err):
                    self.disk_full = self.disk_full or err
                    logger.info("LiveSession: no room to convert the phase to BIDS: %s", err)
                else:
                    logger.error("LiveSession: could not finish the recording of the phase: %s", err)
            self._end_train_pool()
            try:
                self._log({"type": "end", "t": local_clock(), "phase": self._phase, "reason": self._ending.reason})
                if self.folder is not None:
                    self.folder.close()
            except OSError as err:
                if not is_no_room(err):
                    raise
                self.disk_full = self.disk_full or err
            finally:
                thaw()  # (this session can be collected once its users let go of it)

    def _stopped_for_room(self, err: BaseException) -> None:
        logger.info("LiveSession: stopped, a write failed for lack of room: %s", err)
        self.disk_full = err
        self._phase = "stopped"
        self._ending.stop(no_room_why(err))
        self._publish(f"stopped: {self._ending.reason}")

    def _main(self) -> None:
        self._publish("waiting for start")
        while not self._started:
            self._handle_intents()
            time.sleep(0.01)
        self._preload()
        if not self.source.running:
            self._publish("starting the source")
            self.source.start()
        if self.folder is not None:
            self.folder.write_config(self.config)
            self.folder.set_lm(self.lm_name or "uniform", self.lm, self.config.lm)
            if self.decoder is not None:  # a given model: the replay's (a calibration saves its own)
                self.folder.save_model(self.decoder, source="given model")
        self._stream.open()
        wait_for_stream(self)
        self._t_start = time.monotonic()
        while self._plan:
            name, text = self._plan.popleft()
            self._phase_done = False
            self._phase = name
            self._flashes.new_phase()
            self._watch.new_phase()
            logger.info("LiveSession: phase %s%s", name, "" if text is None else f" ({text!r})")
            if name == "calibration":
                self._calibration = CalibrationPhase(self, text)
                self._calibration_batch = self._calibration.run()
            elif name == "training":
                run_training(self, self._calibration_batch)
            else:
                run_spelling(self, name, text)
            if self._ending.stopping:
                break
        self._ending.all_complete()

    def _preload(self) -> None:
        """Import what the phases will need (:func:`~.startup.preload`; a neural decoder's
        torch) and start the training process (when the session trains or has a folder)."""
        self._publish("loading libraries")
        if (self.decoder is None or self.folder is not None) and self._train_pool is None:
            self._train_pool = training_pool(warm=True)
        neural = self.decoder is None and "neural" in DECODERS[self.decoder_name].__module__
        preload(("torch",) if neural else ())

    def _end_train_pool(self) -> None:
        pool, self._train_pool = self._train_pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _deadline_check(self) -> None:
        lim = self.config.speller.max_minutes
        if lim and self._t_start is not None and time.monotonic() - self._t_start > 60.0 * lim:
            raise _Stopped(f"max_minutes ({lim:g}) reached")
