"""A live closed-loop speller session: flash, listen, decode, type -- in real time.

:class:`LiveSession` runs the speller against a live source (a BrainFlow board, an LSL
stream, a recording replayed over LSL, a simulated participant) in one worker thread:

* a :class:`~neurospell.session.display.Display` shows the flash groups the engine asks
  for and reports when each was presented (its onset on the LSL clock);
* each flash's marker (``flash:<group + 1>``; ``flash:<code>:target|nontarget`` in
  calibration) goes out with that onset on an LSL marker outlet and/or through the
  source's ``insert_marker`` (BrainFlow boards can only stamp the call time);
* the source's samples and markers feed the one stream path, a
  :class:`~neurospell.session.drivers.StreamDriver` (online filter + epocher -> decoder ->
  :class:`~neurospell.session.engine.SpellerEngine`); decisions go out as ``select:S``
  markers (a simulated participant follows the typed text from them).

Phases, in one run: **calibration** (cue each character of a known text, flash, keep the
labelled epochs), **training** (fit the configured decoder -- its ``fit`` scores held-out
characters and calibrates the score model on them --, choose the LM weight with
:func:`~neurospell.session.calibration.calibrate_model_alpha`, save the model with its
provenance), **copy** spelling (a target phrase; accuracy measured) and **free**
spelling. Stop conditions (``[speller]``): ``max_selections``, ``max_minutes``,
``max_consecutive_errors`` (copy).

User intents (:class:`Start`, :class:`Pause`, :class:`Resume`, :class:`Stop`,
:class:`Undo`, :class:`Select`, :class:`SetPhase`) arrive through a thread-safe queue
(:meth:`LiveSession.submit`); the state goes out as immutable :class:`LiveSnapshot`
objects (:meth:`LiveSession.snapshot`).

When the source stops delivering (its thread died, or no sample for ``[speller]
pause_after`` seconds) the session pauses, says why (``source_ok``/``source_problem``),
and resumes when samples flow again. When the markers it sends stop reaching the
recording, it pauses too (``marker_problem``; see :class:`LiveSession`, "Markers that do
not reach the recording"). No flash is scored on missing data: the samples fed
to the epocher carry their index on the stream's own clock (a stretch missing from the
timestamps advances it), so an epoch whose window holds a gap is dropped; markers whose
data never came are discarded and counted (``n_discarded``).

Bit-exactness with a replay of the recording: the online filter gets exactly the samples
a :class:`~neurospell.acquisition.Recorder` writes (float32, as in the crash-safe rawlog,
promoted to float64), and epochs are scored one at a time (batch of 1).

Between two runs (the training, a run's conversion to BIDS) the worker keeps reading the
source however long that takes (:mod:`~neurospell.session.waiting`): what it reads then is
kept and opens the next run's recording (and goes through its filter), so the source's
buffer never overflows and consecutive runs hold every sample.
"""

from __future__ import annotations

import gc
import importlib
import queue
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from neurospell.check import NeurospellError, StreamError, check_option, validate_type
from neurospell.decoder import DECODERS, make_decoder
from neurospell.diskspace import is_no_room, no_room_why
from neurospell.logs import logger, set_log_level
from neurospell.lsl import local_clock
from neurospell.markers import (
    BACKSPACE,
    flash_to_str,
    format_select,
    format_text,
    intended_symbol,
    phrase_to_str,
    trial_to_str,
)
from neurospell.preprocessing import OnlineEpocher
from neurospell.types import EpochBatch

from ..calibration import calibrate_model_alpha
from ..drivers import GapIndexer, StreamDriver
from ..engine import Completion, RowColumnFlashes, SelectionDecided, SpellerEngine
from ..quality import calibration_warning
from ..sessiondir import CALIBRATION, SPELLING, make_driver, make_engine
from ..train import decoder_params
from ..waiting import Backlog, ReadingExecutor, wait_reading
from .intents import RUN_PHASES, Pause, Resume, Select, SetPhase, Start, Stop, Undo
from .results import DecisionRecord, LiveResult, LiveSnapshot
from .training import TrainingPool, train_in_process, training_pool

__all__ = ["LiveSession"]

#: Seconds of signal the online filter gets before the first calibration flash.
_WARMUP = 1.5
#: Modules that the end of a phase (the BIDS conversion of its recording) and a fitted classical
#: decoder (unpickled from the training process) import on first use. The worker imports them
#: before the session starts flashing: an import holds the GIL long, and a GUI thread in this
#: process would wait for it while the session calibrates, trains or spells.
PRELOAD_MODULES = ("mne.io.array", "mne.annotations", "mne.source_estimate", "mne.cov", "mne.export", "pybv",
                   "sklearn.pipeline", "sklearn.linear_model", "sklearn.discriminant_analysis",
                   "sklearn.covariance", "pyriemann")
#: Label prefix of the probe markers sent while markers do not reach the recording.
_PROBE = "neurospell-probe:"
#: Seconds between probe markers.
_PROBE_EVERY = 0.25
#: Seconds between two reads of the source while the worker waits between runs (far below any
#: source buffer's length).
_READ_EVERY = 0.05
#: Seconds a marker read back may differ from the time it was sent with (LSL clock sync).
_ECHO_TOL = 0.005


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
    verbose : str | int | None

    Notes
    -----
    **Markers that do not reach the recording.** With a ``marker_outlet`` the session
    learns which flashes happened only from the markers its source reads back from that
    stream (an ``LslSource`` with ``marker_name=`` the outlet's name, possibly through a
    relay): they are what is recorded and epoched. A flash whose marker does not come back
    is a flash nobody recorded. LSL's ``have_consumers()`` only says whether *some* inlet is
    connected -- a participant process or a display reading the stream keeps it true when
    the recording's own reader is gone -- so the session checks both:

    - no consumer at all on the outlet, or
    - a flash or trial marker sent that has not come back through the source within
      :attr:`marker_timeout` seconds (``max(1, 2 * [speller] pause_after)``; on loopback
      markers come back within milliseconds).

    Then it pauses flashing (the flashes scheduled are cancelled), says why in the
    snapshot (``phase="paused"``, ``marker_problem`` and ``status``: which stream and what
    to do), and writes a ``pause`` record (``"cause": "markers"``) to the decision log.
    Every flash whose marker did not come back within the bound is counted as discarded
    (``n_discarded``) and logged (``marker_lost``); it is never scored: should it arrive
    later it is dropped before the recorder and the epocher. While paused the session sends
    a probe marker (``neurospell-probe:<n>``, ignored by readers) every
    0.25 s when the stream has a consumer; the first one (or any tracked marker) that comes
    back through the source resumes flashing (a ``resume`` record). A :class:`Resume`
    resumes at once (the bound applies again to the next flashes). If the trial marker of
    the open selection was lost, it is sent again on resuming so the flashes to come count
    for that selection. Nothing here sleeps: the checks run in the worker's loop.
    """

    def __init__(self, config, source, display, *, folder=None, decoder=None, lm=None, lm_name=None,
                 decoder_name=None, marker_outlet=None, copy_text=None, calibration_text=None,
                 free=None, model_path=None, seed=0, on_decision=None, verbose=None):
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
        self._lock = threading.Lock()
        self._onsets: deque = deque()  # (group, onset, tag) reported by the display
        self._scheduled: deque = deque()  # tags of flashes scheduled, not yet shown
        self._sched_lock = threading.Lock()
        self._cancel = getattr(display, "cancel_flashes", None)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        #: The write that failed for lack of room (a full disk), when that stopped the session:
        #: no traceback, the phase's rawlog is kept unconverted (``neurospell recover``).
        self.disk_full: BaseException | None = None
        self._phase = "idle"
        self._status = "waiting for start"
        self._paused_by_user = False
        self._source_problem: str | None = None
        self._pauses: list[dict] = []
        self._pause_t0: float | None = None
        self._engine: SpellerEngine | None = None
        self._driver: StreamDriver | None = None
        self._cal_epocher: OnlineEpocher | None = None
        self._cal_batches: list[EpochBatch] = []
        self._feed: GapIndexer | None = None
        self._gaps: list[dict] = []
        self._writer = None  # the rawlog of the phase being recorded (with a folder)
        self._task: str | None = None
        self._reader = None
        self._n_flashes = 0
        self._n_spell_flashes = 0
        self._n_sent_phase = 0
        self._decisions: list[DecisionRecord] = []
        self._pending_decision: SelectionDecided | None = None
        self._push_t = 0.0
        self._training_report: dict | None = None
        self._target_text: str | None = None
        self._cue: str | None = None
        self._progress: float | None = None
        self._stop_reason = "not started"
        self._spell_time = 0.0
        self._t_start: float | None = None
        self._trial = 0
        self._stop_each_flash = sp.stop_each_flash
        self._direct: list = []
        self._started = False
        self._last_restart = 0.0
        self._phase_done = False
        self._calibration_batch: EpochBatch | None = None
        self._dirty = False
        self._last_publish = 0.0
        self._snapshot = LiveSnapshot("idle", self._status)
        self._last_data = time.monotonic()
        self._discarded_before = 0
        self._n_scored_before = 0
        self._n_spell_sent_run = 0
        self._init_marker_watch()
        self._train_pool: TrainingPool | None = None
        self._held = Backlog()  # what is read between two runs, for the next one
        self._unsubscribe_onsets = None  # (subscribed while the worker runs)

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
            stop_reason=self._stop_reason, duration=self._spell_time,
            n_flashes=self._n_spell_flashes,
            n_scored=self._n_scored_before + (0 if self._driver is None else self._driver.n_scored),
            n_discarded=self._n_discarded(), gaps=tuple(self._gaps),
            pauses=tuple(self._pauses), training_report=self._training_report,
            n_symbols=len(self.layout.symbols))

    # -- snapshots -----------------------------------------------------------------------------
    def _n_discarded(self) -> int:
        n = self._discarded_before + self._n_markers_lost
        for ep in (self._cal_epocher, None if self._driver is None else self._driver.epocher):
            if ep is not None:
                n += sum(ep.n_dropped_.values())
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
        paused = self._blocked()
        self._snapshot = LiveSnapshot(
            phase="paused" if paused and self._phase in RUN_PHASES else self._phase,
            status=self._status, engine=eng, cue=self._cue, target_text=self._target_text,
            progress=self._progress, source_ok=self._source_problem is None,
            source_problem=self._source_problem, n_flashes=self._n_flashes,
            n_decisions=len(self._decisions), training_report=self._training_report,
            text=self._engine.text if self._engine is not None else "",
            n_discarded=self._n_discarded(), n_gaps=len(self._gaps),
            error=None if self._error is None else f"{type(self._error).__name__}: {self._error}",
            marker_problem=self._marker_problem, decisions=tuple(self._decisions))

    def _log(self, record: dict) -> None:
        if self.folder is not None:
            if self._task is not None:
                record = {**record, "task": self._task, "run": self.folder.current_run(self._task)}
            self.folder.log(record)

    # -- recording (with a session folder) -------------------------------------------------------
    def _begin_phase(self, name: str, task: str | None, text: str | None) -> None:
        """A new stream segment: samples indexed from 0, recorded to the task's rawlog."""
        self._feed = None
        self._task = task if self.folder is not None else None
        if self.folder is None or task is None:
            return
        src = self.source
        self._writer = self.folder.rawlog_writer(task, src.ch_names, src.ch_types, src.sfreq,
                                                 source=src.describe())
        extra = {"target": text} if name == "copy" else {}
        self.folder.log_phase(name, task=task, text="", t=local_clock(), **extra)

    def _end_phase(self) -> None:
        if self._writer is None:
            self._task = None
            return
        writer, self._writer = self._writer, None
        if self.disk_full is not None:  # no room to convert: the run stays "recording" for recover
            try:
                writer.close()
            except OSError:
                pass  # what is on disk stays readable
            self._task = None
            return
        if writer.n_samples == 0:  # stopped before the run's first sample: nothing to convert
            writer.close()
            self._task = None
            self.folder.recover()  # (the run is marked "empty", not left "recording")
            return
        writer.close()
        task, self._task = self._task, None
        self._publish(f"writing the {task} run to the session folder")
        # in the training process (started by _preload when there is a folder): reading the
        # rawlog and writing BIDS is seconds of Python that would hold this process's GIL;
        # the stream is read meanwhile (for the next run) while the session still runs
        pool = self._train_pool
        if pool is not None and self._phase in RUN_PHASES:
            pool = ReadingExecutor(pool, self._wait_step)
        path = self.folder.finish_phase(task, executor=pool)
        logger.info("LiveSession: %s run written to %s", task, path)

    # -- markers -------------------------------------------------------------------------------
    def _send(self, label: str, timestamp: float | None = None, *, via_source: bool = True) -> None:
        """Send a marker with ``timestamp`` (LSL time; ``None``: now) on the outlet or the source."""
        if self.marker_outlet is not None:
            self.marker_outlet.push(label, timestamp)
            self._track(label, timestamp)
        elif via_source:
            self.source.insert_marker(label, timestamp=timestamp)

    def _on_onset(self, group: int, onset: float) -> None:
        # display thread: keep it short; the worker sends the marker
        with self._sched_lock:
            tag = self._scheduled.popleft() if self._scheduled else None
            self._onsets.append((int(group), float(onset), tag))

    def _show(self, groups, tag) -> None:
        groups = tuple(int(g) for g in groups)
        with self._sched_lock:
            self._scheduled.extend([tag] * len(groups))
        self.display.show_flashes(groups)

    def _cancel_flashes(self) -> None:
        if self._cancel is None:
            return
        with self._sched_lock:
            n = int(self._cancel() or 0)
            for _ in range(min(n, len(self._scheduled))):
                self._scheduled.pop()

    def _n_scheduled(self) -> int:
        with self._sched_lock:
            return len(self._scheduled) + len(self._onsets)

    def _send_onsets(self) -> None:
        while True:
            with self._sched_lock:
                if not self._onsets:
                    return
                group, onset, tag = self._onsets.popleft()
            target = None
            if tag is not None and tag[0] == "calibration":
                target = self.layout.symbols.index(tag[2]) in self.layout.flash_groups[group]
            self._send(flash_to_str(group + 1, target), onset)
            self._n_flashes += 1
            self._n_sent_phase += 1
            if tag is not None and tag[0] in ("copy", "free"):
                self._n_spell_flashes += 1
                self._n_spell_sent_run += 1

    # -- the stream ----------------------------------------------------------------------------
    def _consumer_push(self, chunk, markers) -> None:
        if self._writer is not None:
            for m in markers:
                self._writer.write_event({"type": "marker", "t": m.timestamp, "code": m.code, "label": m.label})
        if self._cal_epocher is not None:
            b = self._cal_epocher.update(chunk, markers)
            if len(b):
                self._cal_batches.append(b)
        elif self._driver is not None:
            self._push_t = time.perf_counter()
            self._driver.push(chunk, markers)

    def _pump(self, wait: float = 0.01, *, hold: bool = False) -> None:
        """Read what arrived, feed it on, send the shown flashes' markers, check the source.

        ``hold``: between two runs (waiting for the training process, for a run's
        conversion) what is read is kept, and goes first into the next run (its recording,
        its gap indexer, its epocher or driver), so the stream is recorded without a hole
        whatever the wait; otherwise what was kept is fed on first.
        """
        self._send_onsets()
        if not hold and self._held:
            for chunk, markers in self._held.take():
                self._take(chunk, markers)
        if self._reader is None:
            self._reconnect()
            if self._reader is None:
                time.sleep(min(wait, 0.05))
                return
        try:
            self._reader.wait(wait)
            chunk, markers = self._reader.read()
        except StreamError as err:
            self._source_lost(f"the acquisition thread stopped: {err.__cause__ or err}")
            self._reader = None
            self._lose_pending("the acquisition thread stopped before reading it")
            return
        markers = self._echo(markers)
        if chunk is not None:
            self._last_data = time.monotonic()
        if hold:
            if chunk is not None or markers:
                self._held.add(chunk, markers)
        elif chunk is not None or markers:
            self._take(chunk, markers)
        if chunk is not None:
            if self._source_problem is not None:
                self._source_back()
        else:
            silent = time.monotonic() - self._last_data
            if self._source_problem is None and silent > self.config.speller.pause_after:
                err = getattr(self.source, "error", None)
                why = (f"the acquisition thread stopped: {err}" if err is not None else
                       f"no samples from {self.source} for {silent:.1f} s")
                self._source_lost(why)

    def _take(self, chunk, markers) -> None:
        """Index a chunk read (or markers alone), record it, and feed it to the epocher or driver."""
        if chunk is not None:
            if self._feed is None:
                self._feed = GapIndexer(chunk.sfreq, getattr(self.source, "gap_tolerance", 0.05), as_recorded=True)
            n_gaps = len(self._feed.gaps)
            pieces = self._feed.split(chunk)
            for gap in self._feed.gaps[n_gaps:]:
                logger.warning("LiveSession: %d samples (%.3f s) missing after t=%.3f; flashes over them are "
                               "not scored.", gap["n_samples"], gap["duration"], gap["t"])
                self._gaps.append(gap)
                self._log({"type": "gap", **gap})
            if self._writer is not None:
                for p in pieces:
                    self._writer.write_samples(p.data, p.timestamps)
            self._consumer_push(pieces[0], markers)
            for p in pieces[1:]:
                self._consumer_push(p, ())
        elif markers:
            self._consumer_push(None, markers)

    def _wait_step(self) -> None:
        """One turn of a wait between two runs (:mod:`~neurospell.session.waiting`): read the
        stream and keep what comes for the next run, check the source and the markers,
        publish. Intents stay queued for the phase that follows. It reads every
        :data:`_READ_EVERY` seconds, not at each chunk: nothing is in a hurry between runs, and
        a GUI thread in this process gets the GIL with fewer wake-ups beside it."""
        time.sleep(_READ_EVERY)
        self._pump(0.0, hold=True)
        self._check_markers()
        if self._dirty and time.monotonic() - self._last_publish > 0.1:
            self._dirty = False
            self._publish()

    def _source_lost(self, why: str) -> None:
        if self._source_problem is None:
            logger.warning("LiveSession: pausing: %s", why)
            self._pause_t0 = local_clock()
            self._log({"type": "pause", "t": self._pause_t0, "reason": why})
            self._cancel_flashes()
        self._source_problem = why
        self._publish(f"paused: {why}")

    def _source_back(self) -> None:
        why = self._source_problem
        t = local_clock()
        self._pauses.append({"t": self._pause_t0, "duration": t - (self._pause_t0 or t), "reason": why})
        self._log({"type": "resume", "t": t})
        logger.warning("LiveSession: samples flow again after %.1f s; resuming.", t - (self._pause_t0 or t))
        self._source_problem = None
        self._pause_t0 = None
        if self._engine is not None and self._phase in ("copy", "free"):
            self._send(format_text(self._engine.text), via_source=False)
        self._publish("resumed")

    def _reconnect(self) -> None:
        """After the acquisition thread died: start the source again (every second at most)."""
        now = time.monotonic()
        if now - self._last_restart < 1.0:
            return
        self._last_restart = now
        try:
            self.source.stop()
            self.source.start()
            self._reader = self.source.reader()
            logger.warning("LiveSession: %s started again.", self.source)
        except Exception as err:  # noqa: BLE001 - keep trying while paused
            logger.info("LiveSession: %s not back yet: %s", self.source, err)
            self._reader = None

    def _blocked(self) -> bool:
        return self._paused_by_user or self._source_problem is not None or self._marker_problem is not None

    # -- markers that do not reach the recording -------------------------------------------------
    def _init_marker_watch(self) -> None:
        self._marker_problem: str | None = None
        self._marker_pause_t0: float | None = None
        self._pending_markers: deque = deque()  # [label, onset, sent (monotonic), kind, spelling]
        self._lost_markers: deque = deque(maxlen=1024)  # (label, onset) declared lost
        self._n_markers_lost = 0
        self._n_lost_phase = 0
        self._n_spell_lost_run = 0
        self._last_trial_label: str | None = None
        self._resend_trial = False
        self._probe: str | None = None
        self._probe_t = 0.0
        self._n_probes = 0
        #: Seconds a flash or trial marker may take to come back through the source before
        #: it counts as not recorded (loopback: milliseconds).
        self.marker_timeout = max(1.0, 2.0 * self.config.speller.pause_after)

    def _track(self, label: str, timestamp: float | None) -> None:
        """Remember a flash or trial marker sent on the outlet until the source reads it back."""
        kind = "flash" if label.startswith("flash:") else "trial" if label.startswith("trial:") else None
        if kind is None:
            return
        if kind == "trial":
            self._last_trial_label = label
        self._pending_markers.append([label, timestamp, time.monotonic(), kind, self._phase in ("copy", "free")])

    def _echo(self, markers):
        """Match the markers the source read against those sent; drop probes and markers
        already counted as not recorded (so they are neither recorded nor scored late)."""
        if not markers or (not self._pending_markers and not self._lost_markers and self._probe is None):
            return markers
        kept = []
        for m in markers:
            label = m.label or ""
            if label.startswith(_PROBE):
                if label == self._probe and self._marker_problem is not None:
                    self._markers_back(f"the probe marker {label!r} came back through {self.source}")
                continue
            if label.startswith(("flash:", "trial:")):
                pending = self._pending_markers
                i = next((i for i, (lab, t, *_rest) in enumerate(pending)
                          if lab == label and (t is None or abs(t - m.timestamp) < _ECHO_TOL)), None)
                if i is None:  # its time changed on the way (an inlet's monotonize): the first of its label
                    i = next((i for i, (lab, *_rest) in enumerate(pending) if lab == label), None)
                if i is not None:
                    for _ in range(i):  # sent before it and never read: the reader changed in between
                        self._lose(pending.popleft(), "it was skipped (the marker reader was replaced)")
                    pending.popleft()
                    if self._marker_problem is not None:
                        self._markers_back(f"the marker {label!r} came back through {self.source}")
                elif any(lab == label and (t is None or abs(t - m.timestamp) < _ECHO_TOL)
                         for lab, t in self._lost_markers):
                    continue  # counted as not recorded already
            kept.append(m)
        return kept

    def _lose(self, entry, why: str) -> None:
        label, onset, _sent, kind, spelling = entry
        self._lost_markers.append((label, onset))
        self._log({"type": "marker_lost", "t": onset, "label": label, "reason": why})
        if kind == "trial":
            self._resend_trial = self._resend_trial or label == self._last_trial_label
            return
        self._n_markers_lost += 1
        self._n_lost_phase += 1
        self._n_spell_lost_run += int(bool(spelling))
        self._dirty = True

    def _lose_pending(self, why: str) -> None:
        while self._pending_markers:
            self._lose(self._pending_markers.popleft(), why)

    def _check_markers(self) -> None:
        """Pause when the markers sent stop reaching the recording; probe until they do again."""
        out = self.marker_outlet
        if out is None or self._source_problem is not None:
            return
        now = time.monotonic()
        flashing = self._phase in ("calibration", "copy", "free")
        name = getattr(out, "name", str(out))
        if self._marker_problem is None and flashing:
            why = None
            if not out.have_consumers():
                why = f"nothing reads the marker stream {name!r} any more (it has no consumer)"
            elif self._pending_markers and now - self._pending_markers[0][2] > self.marker_timeout:
                why = (f"the markers sent on the stream {name!r} have not come back through {self.source} "
                       f"within {self.marker_timeout:g} s: the recording no longer gets them")
        else:
            why = None
        while self._pending_markers and now - self._pending_markers[0][2] > self.marker_timeout:
            self._lose(self._pending_markers.popleft(), f"not read back within {self.marker_timeout:g} s")
        if why is not None:
            self._markers_lost(why, name)
        if self._marker_problem is not None and now - self._probe_t > _PROBE_EVERY and out.have_consumers():
            # markers flow again once one comes back through the source: send a probe
            self._n_probes += 1
            self._probe = f"{_PROBE}{self._n_probes}"
            self._probe_t = now
            out.push(self._probe, local_clock())
        elif self._marker_problem is None and self._resend_trial and self._last_trial_label is not None:
            self._resend_trial = False
            self._send(self._last_trial_label, local_clock())

    def _markers_lost(self, why: str, name: str) -> None:
        msg = (f"{why}. Flashing is paused; flashes whose markers were not recorded are not scored (counted "
               f"as discarded). Check the program that reads and records the marker stream {name!r} (here "
               f"{self.source}, through any relay in between) and restart it if it stopped: flashing resumes by "
               "itself once markers come back, or on Resume.")
        logger.warning("LiveSession: pausing: %s", msg)
        self._marker_problem = msg
        self._marker_pause_t0 = local_clock()
        self._probe_t = 0.0
        self._log({"type": "pause", "t": self._marker_pause_t0, "reason": msg, "cause": "markers",
                   "stream": name})
        self._cancel_flashes()
        self._publish(f"paused: {msg}")

    def _markers_back(self, how: str) -> None:
        t = local_clock()
        t0 = self._marker_pause_t0 if self._marker_pause_t0 is not None else t
        self._pauses.append({"t": t0, "duration": t - t0, "reason": self._marker_problem})
        self._log({"type": "resume", "t": t, "cause": "markers", "how": how})
        logger.warning("LiveSession: markers reach the recording again (%s) after %.1f s; resuming.", how, t - t0)
        self._marker_problem = None
        self._marker_pause_t0 = None
        self._probe = None
        for entry in self._pending_markers:  # a fresh bound from now
            entry[2] = time.monotonic()
        if self._resend_trial and self._last_trial_label is not None:
            # the open selection's trial marker was not recorded: send it again, so that the
            # flashes to come are counted for this selection
            self._resend_trial = False
            self._send(self._last_trial_label, local_clock())
        self._publish("resumed: the markers reach the recording again")

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
                if not self._paused_by_user:
                    self._paused_by_user = True
                    self._cancel_flashes()
                    self._publish("paused by the user")
            elif isinstance(intent, Resume):
                if self._marker_problem is not None:
                    self._markers_back("the user resumed")
                if self._paused_by_user:
                    self._paused_by_user = False
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
        self._direct.append(symbol)
        self._cancel_flashes()

    def _apply_direct_now(self, symbol) -> None:
        self._engine.select(symbol)
        if isinstance(symbol, Completion):
            self._send(format_text(self._engine.text), via_source=False)
        else:
            self._send(format_select(symbol), via_source=False)
        self._log({"type": "select", "t": local_clock(), "symbol": str(getattr(symbol, "word", symbol)),
                   "text": self._engine.text})
        self._publish(completions=True)

    # -- the worker ----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._unsubscribe_onsets = self.display.on_onset(self._on_onset)
            if not callable(self._unsubscribe_onsets):
                raise NeurospellError(
                    f"display {self.display!r}: on_onset() returned {self._unsubscribe_onsets!r}; it must return the "
                    "function that unsubscribes (the Display protocol, neurospell.session.display).")
            self._main()
            self._phase = "stopped"
            self._publish(f"stopped: {self._stop_reason}")
        except _Stopped as why:
            self._stop_reason = str(why)
            self._phase = "stopped"
            self._publish(f"stopped: {self._stop_reason}")
        except BaseException as err:  # noqa: BLE001 - surfaced in the snapshot, re-raised by join()
            if is_no_room(err):  # a full disk: a clean stop; the caller says what was kept
                self._stopped_for_room(err)
            else:
                logger.error("LiveSession: the worker failed: %s", err, exc_info=True)
                self._error = err
                self._phase = "error"
                self._stop_reason = f"error: {err}"
                self._publish(f"error: {err}")
        finally:
            try:
                self._cancel_flashes()
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
                self._log({"type": "end", "t": local_clock(), "phase": self._phase, "reason": self._stop_reason})
                if self.folder is not None:
                    self.folder.close()
            except OSError as err:
                if not is_no_room(err):
                    raise
                self.disk_full = self.disk_full or err

    def _stopped_for_room(self, err: BaseException) -> None:
        logger.info("LiveSession: stopped, a write failed for lack of room: %s", err)
        self.disk_full = err
        self._phase = "stopped"
        self._stop_reason = no_room_why(err)
        self._publish(f"stopped: {self._stop_reason}")

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
        self._reader = self.source.reader()
        self._last_data = time.monotonic()
        self._wait_for_stream()
        self._t_start = time.monotonic()
        while self._plan:
            name, text = self._plan.popleft()
            self._phase_done = False
            self._phase = name
            self._n_sent_phase = self._n_lost_phase = 0
            logger.info("LiveSession: phase %s%s", name, "" if text is None else f" ({text!r})")
            if name == "calibration":
                self._run_calibration(text)
            elif name == "training":
                self._run_training()
            else:
                self._run_spelling(name, text)
            if self._stop_reason not in ("not started", "phase complete"):
                break
        if self._stop_reason in ("not started", "phase complete"):
            self._stop_reason = "all phases complete"

    def _preload(self) -> None:
        """Import what the phases will need (:data:`PRELOAD_MODULES`; a neural decoder's torch),
        start the training process (when the session trains), and freeze the objects allocated
        so far (:func:`gc.freeze`): a full garbage collection of a process with Qt, torch, MNE
        and an n-gram LM loaded walks ~350,000 objects and holds the GIL ~250 ms; frozen ones
        are not walked again (the session's own garbage is still collected)."""
        self._publish("loading libraries")
        if (self.decoder is None or self.folder is not None) and self._train_pool is None:
            self._train_pool = training_pool(warm=True)
        names = list(PRELOAD_MODULES)
        if self.decoder is None and "neural" in DECODERS[self.decoder_name].__module__:
            names.append("torch")
        # no collection while importing (the imports allocate enough to start a full one,
        # ~150 ms with the GIL held); what they leave is frozen, not collected
        enabled = gc.isenabled()
        gc.disable()
        try:
            for name in names:
                if name in sys.modules:
                    continue
                try:
                    importlib.import_module(name)
                except ImportError:  # an optional library that is not installed: not needed then
                    logger.debug("LiveSession: %s is not installed; not preloaded.", name)
        finally:
            gc.freeze()
            if enabled:
                gc.enable()

    def _end_train_pool(self) -> None:
        pool, self._train_pool = self._train_pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _deadline_check(self) -> None:
        lim = self.config.speller.max_minutes
        if lim and self._t_start is not None and time.monotonic() - self._t_start > 60.0 * lim:
            self._stop_reason = f"max_minutes ({lim:g}) reached"
            raise _Stopped(self._stop_reason)

    def _wait_for_stream(self) -> None:
        timeout = max(10.0, 5 * self.config.speller.pause_after)
        deadline = time.monotonic() + timeout
        self._publish("waiting for the stream")
        while self._feed is None:
            self._handle_intents()
            self._pump(0.05)
            if time.monotonic() > deadline:
                raise StreamError(f"No samples from {self.source} within {timeout:g} s; check the device or stream.")
        if self.marker_outlet is not None:
            self._publish("waiting for a consumer of the marker stream")
            while not self.marker_outlet.have_consumers():
                self._handle_intents()
                self._pump(0.05)
                if time.monotonic() > deadline:
                    raise StreamError(
                        f"Nobody reads the marker stream {self.marker_outlet!r} after {timeout:g} s: the source "
                        "must read it (LslSource(marker_name=...)) to align markers with samples.")

    def _step(self, wait: float = 0.01) -> None:
        self._handle_intents()
        self._pump(wait)
        self._check_markers()
        self._deadline_check()
        if self._dirty and self._pending_decision is None and time.monotonic() - self._last_publish > 0.1:
            # (not with a decision pending: the spelling loop acts on it, does its LM work and
            # publishes the snapshot with the new completions)
            self._dirty = False
            self._publish()

    def _wait_drained(self, epocher, timeout: float) -> None:
        """Wait until every flash marker sent has been epoched or discarded (deadline)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._step()
            if (self._n_scheduled() == 0 and epocher.n_pending == 0
                    and self._accounted(epocher) + self._n_lost_phase >= self._n_sent_phase):
                return
        logger.warning("LiveSession: %d flash(es) still without data after %.1f s.", epocher.n_pending, timeout)

    @staticmethod
    def _accounted(epocher) -> int:
        return epocher.n_emitted_ + sum(epocher.n_dropped_.values())

    def _epoch_latency(self) -> float:
        cfg = self.config.preprocessing
        return cfg.tmax + 2.0 * self.config.speller.pause_after + 1.0

    # -- calibration ---------------------------------------------------------------------------
    def _make_epocher(self) -> OnlineEpocher:
        src = self.source
        return OnlineEpocher(self.config.preprocessing, src.sfreq, src.ch_names, src.ch_types,
                             buffer_seconds=max(10.0, 2 * (self.config.preprocessing.tmax
                                                           - self.config.preprocessing.tmin) + 1.0))

    def _run_calibration(self, text: str) -> None:
        sp = self.config.speller
        self._target_text = text
        self._progress = 0.0
        self._cal_batches = []
        self._begin_phase("calibration", CALIBRATION, text)
        self._cal_epocher = self._make_epocher()
        strategy = RowColumnFlashes(self.layout.n_groups, self.seed)
        self._send(phrase_to_str("calibration", text), local_clock(), via_source=False)
        i = 0
        while i < len(text) and not self._phase_done:
            sym = text[i]
            self._cue = sym
            self.display.cue(sym)
            self._publish(f"calibration: character {i + 1}/{len(text)} {sym!r}")
            # the cue is shown for the inter-trial pause before the flashes start; before the
            # first one the online filter gets _WARMUP seconds to settle (it starts from rest)
            t_go = time.monotonic() + max(sp.inter_trial, _WARMUP if i == 0 else 0.0)
            while (time.monotonic() < t_go or self._blocked()) and not self._phase_done:
                self._step()
            if self._phase_done:  # a SetPhase (also while paused)
                break
            self._trial += 1
            self._send(trial_to_str(self._trial, "_" if sym == " " else sym), local_clock())
            for _ in range(sp.calibration_repetitions):
                self._show(strategy.next_repetition(), ("calibration", self._trial, sym))
            while self._n_scheduled() and not self._phase_done:
                self._step()
                if self._blocked():
                    break  # the rest of this character's flashes were cancelled
            if self._blocked():
                while self._blocked() and not self._phase_done:
                    self._step()
                continue  # cue this character again
            i += 1
            self._progress = i / len(text)
        self._cue = None
        self.display.cue(None)
        self._publish("calibration: waiting for the last epochs")
        self._wait_drained(self._cal_epocher, self._epoch_latency())
        b = self._cal_epocher.flush()
        if len(b):
            self._cal_batches.append(b)
        self._discarded_before += sum(self._cal_epocher.n_dropped_.values())
        self._cal_epocher, batches = None, self._cal_batches
        self._end_phase()
        self._calibration_batch = EpochBatch.concatenate(batches) if batches else None
        n = 0 if self._calibration_batch is None else len(self._calibration_batch)
        logger.info("LiveSession: calibration done: %d labelled epochs", n)
        self._progress = 1.0
        self._publish(f"calibration done: {n} epochs")

    # -- training ------------------------------------------------------------------------------
    def _training_progress(self, fraction: float, stage: str) -> None:
        if stage != "done":
            self._progress = min(max(float(fraction), 0.0), 1.0)
            self._publish(f"training {self.decoder_name}: {stage}")

    def _run_training(self) -> None:
        batch = self._calibration_batch
        if batch is None or len(batch) == 0 or batch.targets is None or not batch.targets.any():
            raise NeurospellError(
                "training: calibration gave no labelled epochs (was the stream flowing and the marker stream "
                "read by the source?). Run the calibration again.")
        self._progress = 0.0
        self._publish(f"training {self.decoder_name} on {len(batch)} epochs")
        t0 = time.perf_counter()
        params = decoder_params(self.decoder_name, self.config.decoder)
        if "progress" in type(make_decoder(self.decoder_name))._param_names():
            params["progress"] = False
        provenance = {
            "calibration_text": self.calibration_text, "n_epochs": int(len(batch)),
            "n_characters": int(np.unique(batch.trials).size) if batch.trials is not None else None,
            "source": str(self.source),
        }
        model_path = self.folder.model_path if self.folder is not None else self.model_path
        # everything in a training process (fit, LM weight, model file, ERP averages): this
        # process's threads (a GUI's event loop, the acquisition thread) keep the GIL
        dec, report, lm_done = train_in_process(
            self.decoder_name, params, batch, self.config, self.layout, lm=self.lm, lm_name=self.lm_name,
            seed=self.seed, provenance=provenance, model_path=model_path, pool=self._train_pool,
            progress=self._training_progress, while_waiting=self._wait_step)
        if self.folder is None:  # else it converts the spelling runs to BIDS (_end_phase)
            self._end_train_pool()
        if not lm_done:  # the LM rebuilt there was not this one: the weight is chosen here
            logger.info("LiveSession: the training process could not rebuild the LM %r; choosing its weight here.",
                        self.lm_name)
            with ThreadPoolExecutor(1, thread_name_prefix="neurospell-lm-weight") as ex:
                report["lm_alpha"] = wait_reading(
                    ex.submit(calibrate_model_alpha, dec, self.lm, self.config, lm_name=self.lm_name,
                              seed=self.seed), self._wait_step)
            if model_path is not None:
                dec.save(model_path)
                report["model_path"] = str(model_path)
        alpha = report["lm_alpha"]
        path = None
        if self.folder is not None:
            path = self.folder.save_model(dec, source="live calibration", written=True)
        elif self.model_path is not None:
            path = self.model_path
        report["train_seconds"] = time.perf_counter() - t0
        y = np.asarray(batch.targets, bool)
        report["auc_warning"] = calibration_warning(float(dec.heldout_auc_), int(y.sum()), int((~y).sum()))
        if report["auc_warning"]:
            logger.warning("LiveSession: %s", report["auc_warning"])
        self._training_report = report
        self._log({"type": "training", "t": local_clock(), "decoder": self.decoder_name,
                   "heldout_auc": float(dec.heldout_auc_), "lm_alpha": alpha, "n_epochs": int(len(batch)),
                   "model_path": None if path is None else self._stored_path(path)})
        self.decoder = dec
        self._progress = 1.0
        self._publish(f"trained {self.decoder_name}: held-out AUC {dec.heldout_auc_:.3f}"
                      + (" -- near chance, see the warning" if report["auc_warning"] else ""))

    def _stored_path(self, path) -> str:
        """A path as the decision log stores it: relative to the session folder inside it."""
        return str(path) if self.folder is None else self.folder.relative(path)

    # -- spelling ------------------------------------------------------------------------------
    def _make_driver(self) -> None:
        """The engine and stream driver of a spelling run, built as a replay builds them."""
        if self.decoder is None:
            raise NeurospellError("spelling needs a decoder: calibrate first or pass decoder=...")
        if self._driver is not None:  # the previous run's
            self._discarded_before += sum(self._driver.epocher.n_dropped_.values())
            self._n_scored_before += self._driver.n_scored
        self._engine = make_engine(self.config, self.decoder, self.lm, self.lm_name, seed=self.seed + 1)
        # the decision comes out as soon as its symbol is known; the LM work it causes (the
        # beam, the next prior: most of a decision's time with a neural LM) is done once the
        # session has acted on it (same operations, same order: the replay's results)
        self._engine.defer_lm_work = True
        src = self.source
        self._driver = make_driver(self._engine, self.decoder, self.config, src.sfreq, src.ch_names, src.ch_types,
                                   on_events=self._on_events, on_score=self._on_score)
        self._n_spell_sent_run = self._n_spell_lost_run = 0

    def _on_score(self, onset: float, group: int, score: float, trial: int) -> None:
        self._dirty = True
        if self.folder is not None and self._task is not None:
            self.folder.log_flash(onset, group, score, trial=trial, task=self._task)

    def _on_events(self, k: int, events) -> None:
        for e in events:
            if isinstance(e, SelectionDecided):
                self._pending_decision = (e, time.perf_counter() - self._push_t)

    def _run_spelling(self, mode: str, text: str | None) -> None:
        sp = self.config.speller
        if mode == "copy":
            self.copy_text = text  # (a SetPhase may bring another phrase)
        self._begin_phase(mode, SPELLING, text)
        self._make_driver()
        engine = self._engine
        self._target_text = text
        self._progress = None
        self._send(phrase_to_str("test", text or ""), local_clock(), via_source=False)
        self._send(format_text(""), via_source=False)
        t_phase = time.monotonic()
        paused_time = 0.0
        consecutive_errors = 0
        self._direct = []
        in_selection = False
        decided_at = None
        text_before = ""
        max_flashes = sp.max_repetitions * self.layout.n_groups
        try:
            while not self._phase_done:
                t_loop = time.monotonic()
                self._step()
                if self._blocked():
                    paused_time += time.monotonic() - t_loop
                    continue
                pending = self._pending_decision
                if pending is not None:
                    self._pending_decision = None
                    dec, latency = pending
                    self._cancel_flashes()
                    intended = None
                    if text is not None:
                        intended = intended_symbol(text, text_before)
                        if intended == BACKSPACE and BACKSPACE not in self.layout.symbols:
                            # no backspace on the grid: the person wants the phrase's next symbol
                            intended = text[len(text_before)] if len(text_before) < len(text) else None
                    rec = DecisionRecord(mode, dec.decision.symbol, intended, dec.decision.posterior, dec.n_flashes,
                                         dec.text, local_clock(), latency)
                    self._decisions.append(rec)
                    self._send(format_select(dec.decision.symbol), via_source=False)
                    if self.folder is not None:
                        self.folder.log_decision(dec, t=rec.t, task=self._task, phase=mode, intended=intended,
                                                 latency=latency)
                    engine.complete_decision()
                    logger.info("LiveSession: decided %r (p=%.3f, %d flashes) -> %r", rec.symbol, rec.posterior,
                                rec.n_flashes, rec.text)
                    self._publish(f"{mode}: selected {rec.symbol!r}", completions=True)
                    if self.on_decision is not None:
                        self.on_decision(rec)
                    if rec.correct is False:
                        consecutive_errors += 1
                    elif rec.correct:
                        consecutive_errors = 0
                    in_selection = False
                    decided_at = time.monotonic()
                    if self._stop_after(rec, mode, text, consecutive_errors):
                        break
                    continue
                if self._direct:  # symbols chosen directly: once the open selection's flashes are in
                    self._cancel_flashes()
                    if self._n_scheduled() == 0 and self._in_flight() == 0:
                        for sym in self._direct:
                            self._apply_direct_now(sym)
                        self._direct = []
                        in_selection = False
                        decided_at = time.monotonic()
                    continue
                if not in_selection:
                    if self._n_scheduled() or (decided_at is not None
                                               and time.monotonic() - decided_at < sp.inter_trial):
                        continue  # the previous selection's flashes are still being shown, or the pause
                    in_selection = True
                    text_before = engine.text
                    self._trial += 1
                    self._send(format_text(engine.text), via_source=False)
                    self._send(trial_to_str(self._trial), local_clock())
                    self._show(engine.next_flashes(), (mode, self._trial, None))
                    self._publish(f"{mode}: selecting", completions=True)
                    continue
                if self._n_scheduled() == 0 and engine.n_flashes + self._in_flight() < max_flashes:
                    self._show(engine.flash_groups.next_repetition(), (mode, self._trial, None))
        finally:
            self._spell_time += time.monotonic() - t_phase - paused_time
        if self._stop_reason == "not started":
            self._stop_reason = "phase complete"
        self._cancel_flashes()
        self._wait_scheduled_out()
        self._end_phase()

    def _wait_scheduled_out(self, timeout: float = 5.0) -> None:
        """Wait until the flashes being shown are reported (their markers sent), then for the
        samples the epoch window of the last one needs, so the run's recording holds them."""
        deadline = time.monotonic() + timeout
        while self._n_scheduled() and time.monotonic() < deadline:
            self._step()
        t_end = time.monotonic() + self.config.preprocessing.tmax + 0.3
        while time.monotonic() < t_end and not self._blocked():
            self._step()

    def _in_flight(self) -> int:
        """Flash markers of this spelling run sent but not scored or discarded yet."""
        return (self._n_spell_sent_run - self._n_spell_lost_run - self._driver.n_scored
                - sum(self._driver.epocher.n_dropped_.values()))

    def _stop_after(self, rec: DecisionRecord, mode: str, text: str | None, consecutive_errors: int) -> bool:
        sp = self.config.speller
        n = len(self._decisions)
        if sp.max_selections and n >= sp.max_selections:
            self._stop_reason = f"max_selections ({sp.max_selections}) reached"
            self._plan.clear()
            return True
        if mode == "copy" and sp.max_consecutive_errors and consecutive_errors >= sp.max_consecutive_errors:
            self._stop_reason = f"max_consecutive_errors ({sp.max_consecutive_errors}) reached"
            self._plan.clear()
            return True
        if mode == "copy" and text is not None:
            typed = rec.text
            has_bs = BACKSPACE in self.layout.symbols
            if typed == text or (not has_bs and len(typed) >= len(text)):
                self._stop_reason = "phase complete"
                return True
        return False


