"""The stream of a live session: read the source, index, record and feed what comes.

:class:`StreamPump` is the only reader of the session's source (in the worker thread). Each
:meth:`StreamPump.pump` reads what arrived, lets the
:class:`~neurospell.session.live.markerwatch.MarkerWatch` match the markers read back,
indexes the samples on the stream's own clock (a
:class:`~neurospell.session.drivers.GapIndexer`: a stretch missing from the timestamps
advances the index, and is logged as a gap), writes them to the run's rawlog (the
:class:`~neurospell.session.live.recorder.PhaseRecorder`'s writer) and feeds them to the
current consumer (the calibration's epocher, a spelling run's
:class:`~neurospell.session.drivers.StreamDriver`). Between two runs what is read is kept
in a :class:`~neurospell.session.waiting.Backlog` and goes first into the next run. It
notices when the source stops delivering (its thread died, or no sample for
``pause_after`` seconds on the injected clock) and when samples flow again, and starts a
dead source again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from neurospell.check import StreamError
from neurospell.logs import logger

from ..drivers import GapIndexer
from ..feed import feed_chunk
from ..waiting import Backlog

__all__ = ["StreamPump"]


class StreamPump:
    """Read a source and feed it on, in the worker thread.

    Parameters
    ----------
    source : BaseSource
    pause : PauseState
        Read for the source's problem (the session's handlers change it).
    watch : MarkerWatch
        Matches the markers read against those sent (:meth:`MarkerWatch.echo`).
    recorder : PhaseRecorder
        Its :attr:`~PhaseRecorder.writer` records the samples and markers of the run.
    pause_after : float
        Seconds without a sample after which the source counts as lost.
    log : callable ``(dict) -> None``
        Writes a ``gap`` record to the decision log.
    on_source_lost : callable ``(str) -> None``
        The source stopped delivering (why).
    on_source_back : callable ``() -> None``
        Samples flow again.
    clock : callable ``() -> float``
        Monotonic seconds (the silence of the source, the restarts).

    Attributes
    ----------
    consumer : callable ``(chunk, markers) -> None`` | None
        What gets the samples and markers of a run (``chunk`` ``None``: markers alone).
    gaps : list of dict
        The gaps found in the stream so far (as :class:`GapIndexer` reports them).
    pushed_at : float
        :func:`time.perf_counter` when the consumer was last called (a decision's latency).
    """

    def __init__(self, source, *, pause, watch, recorder, pause_after: float, log: Callable[[dict], None],
                 on_source_lost: Callable[[str], None], on_source_back: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic):
        self.source = source
        self.pause = pause
        self.watch = watch
        self.recorder = recorder
        self.pause_after = float(pause_after)
        self._log = log
        self._on_source_lost = on_source_lost
        self._on_source_back = on_source_back
        self.clock = clock
        self.consumer: Callable | None = None
        self.gaps: list[dict] = []
        self.pushed_at = 0.0
        self._reader = None
        self._index: GapIndexer | None = None
        self._held = Backlog()  # what is read between two runs, for the next one
        self._last_data = clock()
        self._last_restart = 0.0

    def open(self) -> None:
        """Open the reader of the (started) source."""
        self._reader = self.source.reader()
        self._last_data = self.clock()

    @property
    def flowing(self) -> bool:
        """Whether a sample was read in the current segment."""
        return self._index is not None

    def new_segment(self) -> None:
        """A new stream segment (a run): its samples are indexed from 0."""
        self._index = None

    def pump(self, wait: float = 0.01, *, hold: bool = False) -> None:
        """Read what arrived (waiting up to ``wait`` s), feed it on, check the source.

        ``hold``: between two runs (waiting for the training process, for a run's
        conversion) what is read is kept, and goes first into the next run (its recording,
        its gap indexer, its epocher or driver), so the stream is recorded without a hole
        whatever the wait; otherwise what was kept is fed on first.
        """
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
            self._on_source_lost(f"the acquisition thread stopped: {err.__cause__ or err}")
            self._reader = None
            self.watch.lose_pending("the acquisition thread stopped before reading it")
            return
        markers = self.watch.echo(markers)
        if chunk is not None:
            self._last_data = self.clock()
        if hold:
            if chunk is not None or markers:
                self._held.add(chunk, markers)
        elif chunk is not None or markers:
            self._take(chunk, markers)
        if chunk is not None:
            if self.pause.source_problem is not None:
                self._on_source_back()
        else:
            silent = self.clock() - self._last_data
            if self.pause.source_problem is None and silent > self.pause_after:
                err = getattr(self.source, "error", None)
                why = (f"the acquisition thread stopped: {err}" if err is not None else
                       f"no samples from {self.source} for {silent:.1f} s")
                self._on_source_lost(why)

    def _take(self, chunk, markers) -> None:
        """Record a chunk read (or markers alone) and feed it on through the one feed step
        (:func:`~neurospell.session.feed.feed_chunk`: cut at gaps and re-indexed by the
        :class:`GapIndexer`, as a replay does), each piece recorded before it is pushed."""
        writer = self.recorder.writer
        if writer is not None:
            for m in markers:
                writer.write_event({"type": "marker", "t": m.timestamp, "code": m.code, "label": m.label})
        if chunk is None:
            if markers and self.consumer is not None:
                self.push(None, markers)
            return
        if self._index is None:
            self._index = GapIndexer(chunk.sfreq, getattr(self.source, "gap_tolerance", 0.05), as_recorded=True)
        n_gaps = len(self._index.gaps)
        feed_chunk(self, chunk, markers, indexer=self._index, on_piece=self._record)
        for gap in self._index.gaps[n_gaps:]:
            logger.warning("LiveSession: %d samples (%.3f s) missing after t=%.3f; flashes over them are "
                           "not scored.", gap["n_samples"], gap["duration"], gap["t"])
            self.gaps.append(gap)
            self._log({"type": "gap", **gap})

    def _record(self, piece) -> None:
        writer = self.recorder.writer
        if writer is not None:
            writer.write_samples(piece.data, piece.timestamps)

    def push(self, chunk, markers=()) -> tuple:
        """The feed step's sink: hand a piece (and its markers) to the current consumer."""
        if self.consumer is not None:
            self.pushed_at = time.perf_counter()
            self.consumer(chunk, markers)
        return ()

    def _reconnect(self) -> None:
        """After the acquisition thread died: start the source again (every second at most)."""
        now = self.clock()
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
