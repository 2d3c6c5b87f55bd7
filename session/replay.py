"""Replay a recording: through the live preprocessing path (batch), or as live LSL streams.

:class:`RecordingReader` reads a recording like a live source's reader (``read()`` ->
sample chunk + markers, in fixed or random chunk sizes). :func:`replay_batch` streams a
recording through it (the one feed loop, :func:`~neurospell.session.feed.feed`) into the
same :class:`~neurospell.preprocessing.OnlineEpocher` a live session uses (or into a
:class:`~neurospell.session.drivers.StreamDriver`, which adds the decoder and the speller
engine), as fast as the CPU allows, and returns the epochs and a
summary; ``on_batch`` receives each batch of epochs as it is completed.

:func:`replay_lsl` publishes the recording's EEG and markers as LSL streams (through the
acquisition stage's outlets) with the original relative timing, or ``speed`` times faster.
Sample ``i`` is stamped ``t0 + i / (sfreq * speed)`` and a marker at ``onset`` seconds
``t0 + onset / speed`` on the same (LSL local) clock, so a consumer can place every marker
at its exact sample.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import mne
import numpy as np
from tqdm import tqdm

from neurospell.acquisition import LslEegOutlet, LslMarkerOutlet
from neurospell.check import StreamError, check_positive
from neurospell.config import Config
from neurospell.logs import logger, use_log_level
from neurospell.lsl import local_clock
from neurospell.markers import annotation_to_label
from neurospell.preprocessing import OnlineEpocher, load_recording
from neurospell.types import EpochBatch, MarkerEvent, SampleChunk

from .feed import EpocherSink, feed

__all__ = ["ReplayResult", "RecordingReader", "recording_markers", "iter_recording", "replay_batch",
           "replay_lsl"]


@dataclass
class ReplayResult:
    """What :func:`replay_batch` returns.

    Attributes
    ----------
    batch : EpochBatch
        All epochs, in onset order (onsets in seconds from the first sample).
    summary : dict
        ``file``, ``duration_s``, ``sfreq``, ``n_channels``, ``n_flashes``, ``n_epochs``,
        ``n_targets`` (or ``None``), ``n_trials``, ``dropped`` (reason -> count),
        ``elapsed_s`` and ``speed`` (multiples of real time).
    """

    batch: object
    summary: dict = field(default_factory=dict)


def recording_markers(raw):
    """The annotations of ``raw`` as marker events, in time order.

    Returns
    -------
    events : list of (onset_s, code, label)
        ``onset_s`` in seconds from the first sample; code and label from
        :func:`neurospell.markers.annotation_to_label` (code ``-1`` for markers that are
        neither flashes nor trials); ``BAD``/``EDGE`` annotations are left out.
    """
    ann = raw.annotations
    onsets = np.asarray(ann.onset, dtype=float)
    if ann.orig_time is not None:
        onsets = onsets - raw.first_time
    out = []
    for on, d in zip(onsets, ann.description, strict=True):
        d = str(d)
        if d.upper().startswith("BAD") or d.upper().startswith("EDGE"):
            continue
        code, label = annotation_to_label(d)
        out.append((float(on), -1 if code is None else code, label))
    out.sort(key=lambda e: e[0])
    return out


def iter_recording(raw, *, chunk_seconds: float = 0.1, t0: float = 0.0, speed: float = 1.0, rng=None):
    """Cut ``raw`` into sample chunks with the markers that fall in each.

    Parameters
    ----------
    raw : mne.io.Raw
    chunk_seconds : float
        Chunk length in recording seconds.
    t0 : float
        Timestamp of the first sample.
    speed : float
        Timestamps advance ``1 / (sfreq * speed)`` per sample.
    rng : numpy.random.Generator | int | None
        When given, chunk lengths are drawn uniformly from 1 to twice ``chunk_seconds``
        (as a live source delivers them); ``None`` cuts fixed chunks.

    Yields
    ------
    chunk : SampleChunk
        With ``first_index`` set.
    markers : list of MarkerEvent
        Markers whose onset sample lies in the chunk (markers before the first sample go
        with the first chunk, after the last with the last).
    """
    sfreq = raw.info["sfreq"]
    data = raw.get_data()
    n = data.shape[1]
    step = max(1, int(round(chunk_seconds * sfreq)))
    events = recording_markers(raw)
    ev_samples = np.array([e[0] * sfreq for e in events])
    ch_names, ch_types = tuple(raw.ch_names), tuple(raw.get_channel_types())
    if rng is not None and not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    k = 0
    a = 0
    while a < n:
        b = min(a + (step if rng is None else int(rng.integers(1, 2 * step + 1))), n)
        ts = t0 + np.arange(a, b) / (sfreq * speed)
        chunk = SampleChunk(data[:, a:b], ts, ch_names, ch_types, sfreq, first_index=a)
        ms = []
        while k < len(events) and (ev_samples[k] < b - 0.5 or b == n):
            on, code, label = events[k]
            ms.append(MarkerEvent(t0 + on / speed, code, label))
            k += 1
        yield chunk, ms
        a = b


class RecordingReader:
    """A recording read like a live source's :class:`~neurospell.acquisition.Reader`.

    Each :meth:`read` returns the next sample chunk and the markers that fall in it, so the
    stream driver consumes a recording exactly as it consumes a device.

    Parameters
    ----------
    raw : mne.io.Raw
    chunk_seconds : float
        (Mean) chunk length, seconds of recording.
    rng : numpy.random.Generator | int | None
        Random chunk lengths (see :func:`iter_recording`).
    """

    def __init__(self, raw, *, chunk_seconds: float = 0.1, rng=None):
        check_positive("chunk_seconds", chunk_seconds)
        self.raw = raw
        self.sfreq = float(raw.info["sfreq"])
        self.ch_names = tuple(raw.ch_names)
        self.ch_types = tuple(raw.get_channel_types())
        self._it = iter_recording(raw, chunk_seconds=chunk_seconds, rng=rng)
        self.exhausted = False

    def read(self) -> tuple[SampleChunk | None, list[MarkerEvent]]:
        """The next chunk and its markers; ``(None, [])`` once the recording is exhausted."""
        if self.exhausted:
            return None, []
        try:
            return next(self._it)
        except StopIteration:
            self.exhausted = True
            return None, []

    def __iter__(self):
        while True:
            chunk, markers = self.read()
            if chunk is None:
                return
            yield chunk, markers


def replay_batch(
    path_or_raw,
    cfg,
    *,
    fmt=None,
    picks="eeg",
    chunk_seconds: float = 0.5,
    progress: bool = True,
    on_batch: Callable | None = None,
    reader_kwargs: dict | None = None,
    driver=None,
    rng=None,
    verbose=None,
) -> ReplayResult:
    """Run a recording through the live preprocessing path as fast as possible.

    Parameters
    ----------
    path_or_raw : path-like | mne.io.Raw
        A recording (any format :func:`~neurospell.preprocessing.load_recording` reads).
    cfg : PreprocessConfig | Config
        The preprocessing section (or the whole config).
    fmt : str | None
        Passed to ``load_recording``.
    picks : str | list of str
        Channels epoched.
    chunk_seconds : float
        Chunk length fed to the epocher, seconds of recording.
    progress : bool
        Show a tqdm progress bar (on stderr).
    on_batch : callable | None
        Called with each non-empty :class:`~neurospell.types.EpochBatch` as the epocher
        completes it (hook for decoding and text).
    reader_kwargs : dict | None
        Extra ``load_recording`` arguments (``board_id``, ``eeg_stream``, ``marker_stream``).
    driver : StreamDriver | None
        Feed the chunks and markers to this stream driver (its epocher, decoder and speller
        engine) instead of a bare epocher; make it for this recording
        (:meth:`~neurospell.session.drivers.StreamDriver.for_recording`). The decisions
        are in ``driver.phrases`` afterwards.
    rng : numpy.random.Generator | int | None
        Random chunk lengths (see :func:`iter_recording`).
    verbose : bool | str | int | None

    Returns
    -------
    result : ReplayResult
    """
    with use_log_level(verbose):
        if isinstance(cfg, Config):
            cfg = cfg.preprocessing
        check_positive("chunk_seconds", chunk_seconds)
        if isinstance(path_or_raw, mne.io.BaseRaw):
            raw, name = path_or_raw, (path_or_raw.filenames[0] if path_or_raw.filenames and path_or_raw.filenames[0] else "<Raw>")
        else:
            raw = load_recording(path_or_raw, fmt=fmt, **(reader_kwargs or {}))
            name = str(path_or_raw)
        sfreq = raw.info["sfreq"]
        if driver is not None:
            sink = driver
        else:
            sink = EpocherSink(OnlineEpocher(cfg, sfreq, raw.ch_names, raw.get_channel_types(), picks=picks,
                                             buffer_seconds=max(10.0, 2 * (cfg.tmax - cfg.tmin) + chunk_seconds)))
        epocher = sink.epocher
        n_flashes = 0
        t_start = time.perf_counter()
        bar = _progress(progress, raw.n_times, f"replay {name}")

        def on_read(chunk, markers):
            nonlocal n_flashes
            n_flashes += sum(1 for m in markers if 0 <= m.code < 200)
            if bar is not None:
                bar.update(chunk.n_samples)

        try:
            batches = feed(RecordingReader(raw, chunk_seconds=chunk_seconds, rng=rng), sink, on_read=on_read,
                           on_batch=on_batch)
        finally:
            if bar is not None:
                bar.close()
        elapsed = time.perf_counter() - t_start
        batch = EpochBatch.concatenate(batches) if batches else epocher.pop_epochs()
        duration = raw.n_times / sfreq
        summary = {
            "file": name,
            "duration_s": duration,
            "sfreq": sfreq,
            "n_channels": len(epocher.ch_names_),
            "n_flashes": n_flashes,
            "n_epochs": len(batch),
            "n_targets": None if batch.targets is None else int(batch.targets.sum()),
            "n_trials": 0 if batch.trials is None else int(np.unique(batch.trials).size),
            "dropped": dict(epocher.n_dropped_),
            "elapsed_s": elapsed,
            "speed": duration / elapsed if elapsed > 0 else float("inf"),
        }
        logger.info("replay %s: %d epochs from %d flashes in %.2f s (%.0fx real time)",
                    name, len(batch), n_flashes, elapsed, summary["speed"])
        return ReplayResult(batch, summary)


def _progress(enabled, total, desc):
    if not enabled:
        return None
    return tqdm(total=total, desc=desc, unit="sample", unit_scale=True, leave=False)


def replay_lsl(
    path_or_raw,
    *,
    speed: float = 1.0,
    name: str = "neurospell-replay",
    fmt=None,
    chunk_seconds: float = 0.02,
    wait_for_consumers: float | None = 10.0,
    stop: Callable[[], bool] | None = None,
    progress: bool = False,
    linger: float = 1.0,
    reader_kwargs: dict | None = None,
    verbose=None,
) -> dict:
    """Publish a recording as live LSL streams (EEG and markers) with its original timing.

    Parameters
    ----------
    path_or_raw : path-like | mne.io.Raw
    speed : float
        Playback speed (``2.0``: twice as fast as recorded).
    name : str
        EEG stream name; the marker stream is ``name + "-markers"``. Source ids are
        ``"neurospell-<name>"`` and ``"neurospell-<name>-markers"``.
    fmt : str | None
        Passed to ``load_recording``.
    chunk_seconds : float
        How much recording is pushed at a time (seconds of recording).
    wait_for_consumers : float | None
        Seconds to wait for an inlet on the EEG stream (and on the marker stream if the
        recording has markers) before streaming; ``None`` starts at once. Raises
        :class:`~neurospell.check.StreamError` when no consumer came.
    stop : callable | None
        Polled between chunks; streaming ends early when it returns ``True``.
    progress : bool
        tqdm progress bar.
    linger : float
        Seconds the streams stay open after the last sample, so consumers can drain them.
    reader_kwargs : dict | None
    verbose : bool | str | int | None

    Returns
    -------
    summary : dict
        ``n_samples``, ``n_markers``, ``t0`` (LSL time of the first sample), ``speed``,
        ``duration_s`` (wall-clock), ``stopped`` (ended early).
    """
    with use_log_level(verbose):
        speed = check_positive("speed", speed)
        check_positive("chunk_seconds", chunk_seconds)
        if isinstance(path_or_raw, mne.io.BaseRaw):
            raw = path_or_raw
        else:
            raw = load_recording(path_or_raw, fmt=fmt, **(reader_kwargs or {}))
        sfreq = raw.info["sfreq"]
        n_markers_total = len(recording_markers(raw))
        eeg = LslEegOutlet(name, raw.ch_names, raw.get_channel_types(), sfreq, dtype="float64")
        mk = LslMarkerOutlet(f"{name}-markers")
        try:
            if wait_for_consumers is not None:
                if not eeg.wait_for_consumers(wait_for_consumers):
                    raise StreamError(
                        f"replay: no consumer connected to the LSL stream {name!r} within "
                        f"{wait_for_consumers} s. Start the consumer first or raise the wait."
                    )
                if n_markers_total and not mk.wait_for_consumers(wait_for_consumers):
                    raise StreamError(
                        f"replay: no consumer connected to the marker stream {name + '-markers'!r} "
                        f"within {wait_for_consumers} s."
                    )
            t0 = local_clock() + 0.05
            wall0 = time.perf_counter() + 0.05
            n_samples = n_markers = 0
            stopped = False
            bar = _progress(progress, raw.n_times, f"replay {name}")
            for chunk, markers in iter_recording(raw, chunk_seconds=chunk_seconds, t0=t0, speed=speed):
                if stop is not None and stop():
                    stopped = True
                    break
                due = wall0 + (chunk.timestamps[-1] - t0)
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                eeg.push(chunk.data, chunk.timestamps)
                for m in markers:
                    mk.push(m.label, m.timestamp)
                n_samples += chunk.n_samples
                n_markers += len(markers)
                if bar is not None:
                    bar.update(chunk.n_samples)
            if bar is not None:
                bar.close()
            if linger and not stopped:
                time.sleep(float(linger))
        finally:
            eeg.close()
            mk.close()
        out = {
            "n_samples": n_samples,
            "n_markers": n_markers,
            "t0": t0,
            "speed": speed,
            "duration_s": time.perf_counter() - wall0,
            "stopped": stopped,
        }
        logger.info("replay over LSL: %d samples, %d markers in %.1f s", n_samples, n_markers, out["duration_s"])
        return out
