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

Threads, queues and who owns what
---------------------------------
- **The session's worker thread** (``neurospell-live-session``) owns everything below and is
  the only reader of the source; other threads touch only the intents queue and the flash
  scheduler's two deques.

  * :class:`~.session.LiveSession` (facade, :mod:`.session`): the phase plan, the phase,
    the user's intents (a :class:`queue.Queue`, filled by any thread through
    :meth:`LiveSession.submit`), the decisions, the snapshot (an immutable
    :class:`LiveSnapshot` replaced whole, read by any thread through
    :meth:`LiveSession.snapshot`), how it ends (:mod:`.ending`).
  * :class:`~.flashes.FlashScheduler` (:mod:`.flashes`): the flashes scheduled and the
    onsets reported, two deques behind one lock -- the only state shared with the display
    thread, which reports onsets into it; the worker turns them into flash markers.
  * :class:`~.pump.StreamPump` (:mod:`.pump`): the source's reader, the gap indexer, the
    gaps, the backlog held between runs, the source's silence; feeds a consumer.
  * :class:`~.markerwatch.MarkerWatch` (:mod:`.markerwatch`): the markers sent and not read
    back, those lost, the probes.
  * :class:`~.pause.PauseState` (:mod:`.pause`): the three causes of a pause, the pauses.
  * :class:`~.recorder.PhaseRecorder` (:mod:`.recorder`): the run's rawlog writer and task.
  * The phase running: :class:`~.calibration.CalibrationPhase` (its epocher and epochs),
    :func:`~.training_phase.run_training`, :class:`~.spelling.SpellingRun` (its engine,
    its :class:`~neurospell.session.drivers.StreamDriver`, the symbols chosen directly).
- **The display's thread** (a GUI's, a headless display's timer thread) presents the
  flashes and calls :meth:`FlashScheduler.on_onset`.
- **The source's acquisition thread** fills the reader's buffer that the pump reads.
- **The training process** (:mod:`.training`) fits the decoder and converts the runs to
  BIDS; the worker keeps reading the stream while it waits (:mod:`~neurospell.session.waiting`).
"""

from .intents import PHASES, RUN_PHASES, Intent, Pause, Resume, Select, SetPhase, Start, Stop, Undo
from .results import DecisionRecord, LiveResult, LiveSnapshot
from .session import LiveSession
from .training import fit_in_process, train_decoder, train_in_process

__all__ = [
    "LiveSession", "LiveSnapshot", "LiveResult", "DecisionRecord", "Intent",
    "Start", "Pause", "Resume", "Stop", "Undo", "Select", "SetPhase", "PHASES", "RUN_PHASES",
    "train_decoder", "train_in_process", "fit_in_process",
]
