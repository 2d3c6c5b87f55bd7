"""What every source shares: the acquisition thread, the ring buffer, readers, markers, gaps.

A subclass implements four hooks (all called by :class:`BaseSource`):

- ``_open()``: connect; set ``ch_names``, ``ch_types``, ``sfreq``.
- ``_pull()``: called in a loop by the acquisition thread; returns
  ``(data (n_channels, n) in volts, timestamps (n,) on the LSL clock, events)`` or
  ``None`` when nothing arrived (it may block briefly). It may call ``_report_gap``.
- ``_close()``: disconnect.
- ``_insert_marker(code, label, timestamp)``: send a marker through the device or stream
  (``timestamp``: its onset on the LSL clock, or ``None`` for now).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from neurospell.check import NeurospellError, StreamError, check_positive
from neurospell.logs import logger
from neurospell.lsl import local_clock
from neurospell.markers import TRIAL_START, flash_to_int, flash_to_str, parse_flash, parse_trial
from neurospell.types import MarkerEvent, SampleChunk

from .gaps import gap_steps
from .ring import RingBuffer

#: Integer code of a marker whose label is neither a flash, a trial start nor an integer.
OTHER_MARKER_CODE = -1


@dataclass(frozen=True)
class Gap:
    """A stretch of missing samples.

    Attributes
    ----------
    onset : float
        LSL time of the last sample received before the gap, seconds.
    n_samples : int
        Number of samples missing (estimated from the timestamps or the device's
        package counter).
    duration : float
        Seconds without samples (``n_samples / sfreq``).
    sample_index : int
        Index (in the source's received samples) of the first sample after the gap.
    kind : str
        ``"missing"`` (samples dropped), ``"lost"`` (stream lost and re-resolved),
        ``"ended"`` (the stream stopped delivering and had not come back when the reading
        ended: the time from the last sample to the end counts as missing; see
        :meth:`BaseSource.report_trailing_gap`).
    """

    onset: float
    n_samples: int
    duration: float
    sample_index: int
    kind: str = "missing"


def marker_code(label_or_code) -> tuple[int, str]:
    """The integer code and the label of a marker given as an int or a string.

    Flash strings follow :mod:`neurospell.markers`; a trial-start string gets
    ``TRIAL_START``; an integer string is its value; other text gets ``-1``.
    """
    if isinstance(label_or_code, (bool, np.bool_)):
        raise NeurospellError(f"A marker must be an int or a str, got {label_or_code!r}.")
    if isinstance(label_or_code, (int, np.integer)):
        code = int(label_or_code)
        info = parse_flash(code)
        return code, (flash_to_str(info.code, info.target) if info else str(code))
    if isinstance(label_or_code, (float, np.floating)) and float(label_or_code).is_integer():
        return marker_code(int(label_or_code))
    if not isinstance(label_or_code, str):
        raise NeurospellError(
            f"A marker must be an int code or a str label, got {type(label_or_code).__name__} "
            f"({label_or_code!r})."
        )
    label = label_or_code
    text = label.strip()
    if text.lstrip("-").isdigit():
        return int(text), label
    info = parse_flash(text)
    if info is not None:
        return flash_to_int(info.code, info.target), label
    if parse_trial(text) is not None:
        return TRIAL_START, label
    return OTHER_MARKER_CODE, label


class BaseSource:
    """A source of EEG samples and markers with one acquisition thread.

    Parameters
    ----------
    buffer_seconds : float
        Length of the ring buffer (> 0). A reader more than this far behind loses samples.
    poll_interval : float
        Seconds the thread sleeps when a poll returned nothing (for sources that cannot
        block while waiting).
    stall_timeout : float
        Seconds without samples after which the stream counts as stalled (logged).
    gap_tolerance : float
        Seconds by which a step between consecutive timestamps may exceed one sampling
        period before it counts as a gap (for sources without a sample counter; senders
        that stamp samples when they push them jitter by milliseconds, more on a loaded
        machine).
    """

    kind = "source"

    def __init__(self, *, buffer_seconds: float = 30.0, poll_interval: float = 0.005, stall_timeout: float = 2.0,
                 gap_tolerance: float = 0.05):
        self.gap_tolerance = check_positive("gap_tolerance", gap_tolerance, strict=False)
        self.buffer_seconds = check_positive("buffer_seconds", buffer_seconds)
        self.poll_interval = check_positive("poll_interval", poll_interval)
        self.stall_timeout = check_positive("stall_timeout", stall_timeout)
        self.ch_names: tuple[str, ...] | None = None
        self.ch_types: tuple[str, ...] | None = None
        self.sfreq: float | None = None
        self.gaps: list[Gap] = []
        self._ring: RingBuffer | None = None
        self._events: list[MarkerEvent] = []
        self._events_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._running = False
        self._pending_labels: dict[int, deque] = {}
        self._last_data_time = 0.0
        self._stalled = False

    # ------------------------------------------------------------------ life cycle
    def start(self):
        """Connect and start the acquisition thread. Returns ``self``.

        A source whose acquisition thread died is stopped and started again.
        """
        if self._running:
            if self.running:
                return self
            self.stop()
        self._error = None
        self._stop.clear()
        self._open()
        capacity = max(1, int(round(self.buffer_seconds * self.sfreq)))
        self._ring = RingBuffer(len(self.ch_names), capacity)
        with self._events_lock:
            self._events = []
        self.gaps = []
        self._last_data_time = time.monotonic()
        self._running = True
        self._thread = threading.Thread(target=self._run, name=f"neurospell-{self.kind}", daemon=True)
        self._thread.start()
        logger.info("%s started: %d channels at %g Hz", self, len(self.ch_names), self.sfreq)
        return self

    def stop(self) -> None:
        """Stop the thread and disconnect (idempotent). Data already read stays available."""
        if not self._running:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            if self._thread.is_alive():  # pragma: no cover - a device call hung
                logger.warning("%s: the acquisition thread did not stop within 10 s.", self)
        self._running = False
        try:
            self._close()
        finally:
            if self._ring is not None:
                with self._ring.condition:
                    self._ring.condition.notify_all()
        logger.info("%s stopped", self)

    @property
    def running(self) -> bool:
        """Whether the source is started and its acquisition thread is alive.

        ``False`` after :meth:`stop`, and as soon as the acquisition thread died (its error
        is in :attr:`error`; readers raise it).
        """
        thread = self._thread
        return self._running and self._error is None and thread is not None and thread.is_alive()

    @property
    def error(self) -> BaseException | None:
        """The error that ended the acquisition thread, ``None`` while it runs (or after a clean stop)."""
        return self._error

    def report_trailing_gap(self, until: float | None = None) -> Gap | None:
        """Count the time from the last sample to ``until`` as missing if the stream stopped.

        A recording that ends while its stream is stalled or lost (no sample for more than
        ``stall_timeout`` seconds, or the acquisition thread died) misses the samples the
        stream should have sent meanwhile; nothing else reports them, since no later sample
        shows the jump in timestamps. This adds that stretch to :attr:`gaps` as a
        :class:`Gap` of kind ``"ended"`` (``n_samples = floor((until - last) * sfreq)``)
        and returns it; ``None`` when samples were still arriving.

        Parameters
        ----------
        until : float | None
            LSL time the reading ended (default: now).
        """
        if self._ring is None or self.sfreq is None:
            return None
        flowing = self._error is None and time.monotonic() - self._last_data_time <= self.stall_timeout
        if flowing:
            return None
        until = local_clock() if until is None else float(until)
        last = self._ring.last_timestamp()
        if last is None:
            return None
        n_missing = int(np.floor((until - last) * self.sfreq))
        if n_missing < 1:
            return None
        self._report_gap(last, n_missing, "ended")
        return self.gaps[-1]

    @property
    def last_timestamp(self) -> float | None:
        """LSL time of the newest sample in the buffer (``None`` before the first one)."""
        return None if self._ring is None else self._ring.last_timestamp()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.stop()
        except Exception:
            pass

    # ------------------------------------------------------------------ reading
    def reader(self, *, from_start: bool = False) -> Reader:
        """A new independent cursor on this source.

        Parameters
        ----------
        from_start : bool
            Start at the oldest sample still in the buffer (and the first marker) instead
            of at the newest one.
        """
        if self._ring is None:
            raise StreamError(f"{self} is not started: call start() (or use 'with source:') before reader().")
        return Reader(self, from_start=from_start)

    def insert_marker(self, label_or_code, timestamp: float | None = None) -> None:
        """Send a marker (an int code or a :mod:`neurospell.markers` string) into the stream.

        Parameters
        ----------
        label_or_code : int | str
        timestamp : float | None
            Onset of the event on the LSL clock, seconds (e.g. when a display presented a
            flash); ``None``: now. It comes back to readers as a
            :class:`~neurospell.types.MarkerEvent` with this timestamp (see each source for
            how the device stores it).
        """
        if not self._running:
            raise StreamError(f"{self} is not running: start it before inserting markers.")
        code, label = marker_code(label_or_code)
        if timestamp is not None:
            timestamp = float(timestamp)
            if not np.isfinite(timestamp):
                raise NeurospellError(f"timestamp must be a finite LSL time in seconds or None, got {timestamp!r}.")
        self._insert_marker(code, label, timestamp)

    def _label_for(self, code: int) -> str:
        """The label of a marker coming back from a device with only a code."""
        q = self._pending_labels.get(code)
        if q:
            return q.popleft()
        return marker_code(code)[1]

    def _remember_label(self, code: int, label: str) -> None:
        self._pending_labels.setdefault(code, deque(maxlen=1000)).append(label)

    # ------------------------------------------------------------------ thread
    def _run(self) -> None:
        ring = self._ring
        try:
            while not self._stop.is_set():
                got = self._pull()
                if got is None:
                    self._check_stall()
                    continue
                data, ts, events = got
                if events:
                    with self._events_lock:
                        self._events.extend(events)
                if data is not None and data.shape[1]:
                    ring.append(data, ts)
                    self._last_data_time = time.monotonic()
                    if self._stalled:
                        logger.info("%s: samples flow again.", self)
                    self._stalled = False
                elif events:
                    with ring.condition:
                        ring.condition.notify_all()
                else:
                    self._check_stall()
        except BaseException as err:  # noqa: BLE001 - handed to the readers
            logger.error("%s: the acquisition thread failed: %s", self, err, exc_info=True)
            self._error = err
            with ring.condition:
                ring.condition.notify_all()

    def _check_stall(self) -> None:
        if not self._stalled and time.monotonic() - self._last_data_time > self.stall_timeout:
            self._stalled = True
            logger.warning("%s: no samples for %.1f s (stream stalled).", self, self.stall_timeout)

    def _report_gap(self, last_ts: float, n_missing: int, kind: str = "missing") -> None:
        gap = Gap(
            onset=float(last_ts),
            n_samples=int(n_missing),
            duration=n_missing / self.sfreq,
            sample_index=self._ring.n_written,
            kind=kind,
        )
        self.gaps.append(gap)
        logger.warning(
            "%s: gap of %d samples (%.3f s) after t=%.3f (%s).", self, gap.n_samples, gap.duration, gap.onset, kind
        )

    def _gap_from_timestamps(self, prev_ts: float | None, ts: np.ndarray, kind: str = "missing") -> None:
        """Report the gaps between consecutive timestamps (including ``prev_ts``): the rule of
        :func:`~neurospell.acquisition.gaps.gap_steps` (a step longer than one period plus
        ``max(half a period, gap_tolerance)``; ``round(step * sfreq) - 1`` samples missing).
        """
        n = ts.size
        if n == 0 or (n == 1 and prev_ts is None):
            return
        period = 1.0 / self.sfreq
        tol = max(0.5 * period, self.gap_tolerance)
        # fast path (runs for every chunk): no step can exceed period + tol when the whole
        # span is within n_steps periods + tol (steps are >= 0)
        ref = ts[0] if prev_ts is None else prev_ts
        n_steps = n - 1 if prev_ts is None else n
        if ts[-1] - ref <= n_steps * period + tol:
            return
        for _, last_ts, n_missing in gap_steps(prev_ts, ts, self.sfreq, self.gap_tolerance):
            if n_missing >= 1:
                self._report_gap(last_ts, n_missing, kind)

    # ------------------------------------------------------------------ hooks
    def _open(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _pull(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _insert_marker(self, code: int, label: str, timestamp: float | None = None) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict:
        """A JSON-able description of the source (stored in recordings)."""
        return {"kind": self.kind}


class Reader:
    """An independent cursor on a source: each :meth:`read` returns what arrived since the last.

    Obtain one with ``source.reader()``. Not thread-safe itself (one reader per consumer).
    """

    def __init__(self, source: BaseSource, *, from_start: bool = False):
        self._source = source
        ring = source._ring
        self._ring = ring
        with source._events_lock:
            self._event_pos = 0 if from_start else len(source._events)
        self._cursor = max(0, ring.n_written - ring.capacity) if from_start else ring.n_written
        self._gap_pos = 0 if from_start else len(source.gaps)
        #: Samples this reader lost because it fell more than the buffer length behind.
        self.n_overrun = 0

    def _raise_if_failed(self) -> None:
        err = self._source._error
        if err is not None:
            raise StreamError(
                f"The acquisition thread of {self._source} failed: {err}. Check the device or "
                "stream and start the source again."
            ) from err

    def wait(self, timeout: float) -> bool:
        """Block until new samples or markers arrive (or ``timeout`` seconds pass); ``True`` if any did."""
        ring = self._ring
        deadline = time.monotonic() + timeout
        with ring.condition:
            while True:
                if ring.n_written > self._cursor or len(self._source._events) > self._event_pos:
                    return True
                if self._source._error is not None or not self._source._running:
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                ring.condition.wait(left)

    def read(self) -> tuple[SampleChunk | None, list[MarkerEvent]]:
        """The samples and markers that arrived since the last read.

        Returns
        -------
        chunk : SampleChunk | None
            ``None`` when no sample arrived. ``first_index`` counts samples since start.
        events : list of MarkerEvent

        Raises
        ------
        StreamError
            If the acquisition thread failed (its error is the ``__cause__``).
        """
        src = self._source
        data, ts, first, nxt = self._ring.read_from(self._cursor)
        if first > self._cursor:
            lost = first - self._cursor
            self.n_overrun += lost
            logger.warning(
                "%s: a reader fell behind by more than the %.1f s buffer and lost %d samples; "
                "read more often or raise buffer_seconds.", src, src.buffer_seconds, lost
            )
        self._cursor = nxt
        with src._events_lock:
            events = src._events[self._event_pos :]
            self._event_pos = len(src._events)
        chunk = None
        if data is not None:
            # The ring hands out fresh float64 copies and the stream description was
            # validated when the source started: skip re-validation on the hot path.
            chunk = SampleChunk._trusted(data, ts, src.ch_names, src.ch_types, src.sfreq, first)
        if chunk is None and not events:
            self._raise_if_failed()
        return chunk, list(events)

    def new_gaps(self) -> list[Gap]:
        """Gaps reported by the source since the last call.

        What the source saw (a BrainFlow package counter, a stream lost and back, its end;
        the :class:`~neurospell.acquisition.Recorder` logs them). A consumer that must cut its
        epochs at gaps re-indexes what it reads with a :class:`~neurospell.acquisition.GapIndexer`
        (the same timestamp rule, :func:`~neurospell.acquisition.gaps.gap_steps`), which its
        replay can repeat from the recorded timestamps.
        """
        gaps = self._source.gaps[self._gap_pos :]
        self._gap_pos += len(gaps)
        return list(gaps)
