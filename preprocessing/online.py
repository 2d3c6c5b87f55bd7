"""Online preprocessing: a stateful causal filter and an epocher for live streams.

:class:`OnlineFilter` carries the SOS state ``zi`` from chunk to chunk, so filtering a
stream in chunks of any size gives the same samples as :func:`causal_filter_raw` on the
whole recording (up to floating-point rounding). :class:`OnlineEpocher` buffers the
filtered samples with their timestamps, collects flash markers (which may arrive before
or after their samples), and emits each flash's epoch once its window has fully arrived.

Equivalence with the offline path: an epoch starts at the first output sample at or after
the input sample nearest to the marker time (ties to the earlier input sample), and spans ``round(tmin * sfreq)`` to
``round(tmax * sfreq)`` samples around it, is baseline-corrected and amplitude-rejected
with the same rules as :func:`epochs_from_raw` (``phase="causal"``). Decimation keeps the
samples whose index since the stream start (``SampleChunk.first_index`` when known) is a
multiple of the factor, as the offline path keeps ``x[:, ::k]``. Baseline correction and
rejection apply to every picked channel (MNE applies them to data channels: the same set
for the default ``picks="eeg"``).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from neurospell.check import NeurospellError, check_positive, validate_type
from neurospell.config import PreprocessConfig
from neurospell.logs import logger
from neurospell.markers import TRIAL_START, decode_symbol, parse_flash, parse_trial
from neurospell.types import EpochBatch, MarkerEvent, SampleChunk

from .filters import (
    apply_reference,
    decimation_factor,
    design_sos,
    initial_state,
    pick_channels,
    reference_weights,
)

__all__ = ["OnlineFilter", "OnlineEpocher"]


def _check_cfg(cfg):
    validate_type(cfg, PreprocessConfig, "cfg", hint="Pass load_config().preprocessing or PreprocessConfig(...).")


class OnlineFilter:
    """Causal band-pass/notch filter, re-reference and decimation with carried state.

    Parameters
    ----------
    cfg : PreprocessConfig
        The same section the offline path uses.
    sfreq : float
        Input sampling rate in Hz.
    ch_names : sequence of str
        Input channel names.
    ch_types : sequence of str | None
        Input channel types (``None``: all EEG).
    picks : str | list of str
        Channels to keep (``"eeg"`` by default).

    Attributes
    ----------
    sos_ : array, shape (n_sections, 6) | None
        The filter.
    decim_ : int
        Decimation factor.
    sfreq_out_ : float
        Output sampling rate (``sfreq / decim_``).
    ch_names_ : tuple of str
        Output channels.
    picks_ : array of int
        Indices of the output channels in the input.
    zi_ : array, shape (n_sections, n_out_channels, 2) | None
        Current filter state (``None`` before the first sample).
    n_seen_ : int
        Input samples processed so far (decimation phase when no index is given).
    """

    def __init__(self, cfg, sfreq, ch_names, ch_types=None, *, picks="eeg"):
        _check_cfg(cfg)
        self.cfg = cfg
        self.sfreq = check_positive("sfreq", sfreq)
        self.ch_names = tuple(str(c) for c in ch_names)
        self.ch_types = None if ch_types is None else tuple(str(t) for t in ch_types)
        if self.ch_types is not None and len(self.ch_types) != len(self.ch_names):
            raise NeurospellError(
                f"ch_types has {len(self.ch_types)} entries but ch_names has {len(self.ch_names)}."
            )
        self.picks = picks
        self.picks_ = pick_channels(self.ch_names, self.ch_types, picks)
        self.ch_names_ = tuple(self.ch_names[i] for i in self.picks_)
        self.sos_ = design_sos(cfg, self.sfreq)
        self.decim_ = decimation_factor(cfg, self.sfreq)
        self.sfreq_out_ = self.sfreq / self.decim_
        self._ref = reference_weights(cfg, self.ch_names_)
        self._all = len(self.picks_) == len(self.ch_names) and np.array_equal(self.picks_, np.arange(len(self.ch_names)))
        self.reset()

    def reset(self) -> None:
        """Forget the filter state (the next sample starts a new stream)."""
        self.zi_ = None
        self.n_seen_ = 0

    def process(self, data, first_index: int | None = None):
        """Filter a chunk of samples.

        Parameters
        ----------
        data : array, shape (n_channels, n_samples)
            Input samples (all input channels), in volts.
        first_index : int | None
            Index of the chunk's first sample since the stream started (sets the decimation
            phase exactly across lost samples); ``None`` counts the samples seen.

        Returns
        -------
        out : array, shape (n_out_channels, n_out_samples)
            Filtered (and decimated) picked channels.
        keep : array of int, shape (n_out_samples,)
            Positions in the chunk of the output samples.
        """
        from scipy import signal

        x = np.asarray(data, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != len(self.ch_names):
            raise NeurospellError(
                f"OnlineFilter.process: data must have shape ({len(self.ch_names)}, n_samples), got {x.shape}."
            )
        n = x.shape[1]
        start = self.n_seen_ if first_index is None else int(first_index)
        self.n_seen_ = start + n
        if n == 0:
            return np.zeros((len(self.picks_), 0)), np.zeros(0, dtype=np.int64)
        if not self._all:
            x = x[self.picks_]
        if self._ref is not None:
            x = apply_reference(self._ref, x)  # chunk-invariant, bit for bit
        if self.sos_ is not None:
            if self.zi_ is None:
                self.zi_ = initial_state(self.sos_, x[:, 0])
            x, self.zi_ = signal.sosfilt(self.sos_, x, axis=-1, zi=self.zi_)
        k = self.decim_
        if k == 1:
            return x, np.arange(n)
        first = (-start) % k
        keep = np.arange(first, n, k)
        return x[:, keep], keep


class OnlineEpocher:
    """Turn live sample chunks and flash markers into epochs, each as soon as it is complete.

    Parameters
    ----------
    cfg : PreprocessConfig
        Filter, reference, decimation, window, baseline and rejection (same as offline).
    sfreq : float
        Input sampling rate in Hz.
    ch_names : sequence of str
    ch_types : sequence of str | None
    picks : str | list of str
        Channels epoched (default ``"eeg"``).
    buffer_seconds : float
        How much filtered signal is kept to serve markers that arrive late (seconds).
    max_gap : float | None
        Largest step between consecutive sample timestamps (seconds) still counted as
        contiguous when chunks carry no ``first_index``; default ``max(2.5 periods, 50 ms)``.
        With ``first_index``, lost samples are detected exactly.

    Attributes
    ----------
    filter_ : OnlineFilter
    n_emitted_ : int
    n_dropped_ : collections.Counter
        Dropped flashes by reason (``"no data"``: the window's samples never arrived or
        were already discarded; ``"gap"``: samples lost inside the window; ``"rejected"``:
        peak-to-peak above ``reject_uv``; ``"stream end"``: pending at :meth:`flush`).
    n_times_ : int
        Samples per epoch.
    """

    def __init__(self, cfg, sfreq, ch_names, ch_types=None, *, picks="eeg", buffer_seconds=10.0,
                 max_gap=None):
        self.filter_ = OnlineFilter(cfg, sfreq, ch_names, ch_types, picks=picks)
        self.cfg = cfg
        self.buffer_seconds = check_positive("buffer_seconds", buffer_seconds)
        sf = self.filter_.sfreq_out_
        self._a = int(round(cfg.tmin * sf))
        self._b = int(round(cfg.tmax * sf))
        self.n_times_ = self._b - self._a + 1
        self.tmin_ = self._a / sf
        window = (self._b - self._a) / sf
        if self.buffer_seconds < window:
            raise NeurospellError(
                f"buffer_seconds ({buffer_seconds}) must cover the epoch window ({window:g} s)."
            )
        self.max_gap = (max(2.5 / sf, 0.05) if max_gap is None else check_positive("max_gap", max_gap))
        times = np.arange(self._a, self._b + 1) / sf
        self._base = None
        if cfg.baseline is not None:
            b0, b1 = cfg.baseline
            b0 = times[0] if b0 is None else b0
            b1 = times[-1] if b1 is None else b1
            sel = np.flatnonzero((times >= b0 - 1e-9) & (times <= b1 + 1e-9))
            if sel.size == 0:
                raise NeurospellError(
                    f"[preprocessing] baseline {cfg.baseline} holds no sample of the epoch window "
                    f"({times[0]:g} to {times[-1]:g} s)."
                )
            self._base = slice(int(sel[0]), int(sel[-1]) + 1)
        self._reject = None if cfg.reject_uv is None else cfg.reject_uv * 1e-6
        n_ch = len(self.filter_.ch_names_)
        self._cap = max(int(math.ceil(self.buffer_seconds * sf)) + 1, 2 * self.n_times_)
        self._buf = np.zeros((n_ch, 2 * self._cap))
        self._ts = np.zeros(2 * self._cap)
        self._idx = np.zeros(2 * self._cap, dtype=np.int64)
        self._start = 0  # first valid position in the buffers
        self._end = 0
        self._has_index = None
        self._first_ts = None
        self._pending: list[tuple[float, int, bool | None, int]] = []  # (ts, code, target, trial)
        self._seen: set = set()
        self._trials: list[tuple[float, int]] = []
        self._trial_count = 0
        #: The intended symbol of each trial (character) index from its marker (``None``
        #: when the marker names none): trial markers are read here only.
        self.trial_symbols_: dict[int, str | None] = {}
        self._ready: list = []
        self.n_emitted_ = 0
        self.n_dropped_: Counter = Counter()

    # ---------------------------------------------------------------- properties
    @property
    def ch_names_(self) -> tuple[str, ...]:
        return self.filter_.ch_names_

    @property
    def sfreq_out_(self) -> float:
        return self.filter_.sfreq_out_

    @property
    def n_pending(self) -> int:
        """Flash markers waiting for their samples."""
        return len(self._pending)

    # ---------------------------------------------------------------- input
    def push_samples(self, chunk, timestamps=None) -> None:
        """Add samples: a :class:`SampleChunk`, or ``data`` (n_channels, n) with ``timestamps``."""
        if isinstance(chunk, SampleChunk):
            data, ts, first_index = chunk.data, chunk.timestamps, chunk.first_index
            if chunk.ch_names != self.filter_.ch_names:
                raise NeurospellError(
                    f"OnlineEpocher: chunk channels {chunk.ch_names} differ from the configured "
                    f"{self.filter_.ch_names}."
                )
            if abs(chunk.sfreq - self.filter_.sfreq) > 1e-9 * self.filter_.sfreq:
                raise NeurospellError(
                    f"OnlineEpocher: chunk sampling rate {chunk.sfreq:g} Hz differs from the configured "
                    f"{self.filter_.sfreq:g} Hz; create the epocher with the stream's rate."
                )
        else:
            if timestamps is None:
                raise NeurospellError("OnlineEpocher.push_samples: pass a SampleChunk, or data with timestamps.")
            data = np.asarray(chunk, dtype=np.float64)
            ts = np.asarray(timestamps, dtype=np.float64)
            first_index = None
            if data.ndim != 2 or ts.shape != (data.shape[1],):
                raise NeurospellError(
                    f"OnlineEpocher.push_samples: data (n_channels, n) and timestamps (n,) disagree: "
                    f"{data.shape} vs {ts.shape}."
                )
        n = data.shape[1]
        if n == 0:
            return
        if self._has_index is None:
            self._has_index = first_index is not None
        if self._first_ts is None:
            self._first_ts = float(ts[0])
        out, keep = self.filter_.process(data, first_index)
        m = out.shape[1]
        if m == 0:
            return
        src = (self.filter_.n_seen_ - n) + keep
        self._append(out, ts[keep], src)
        self._serve()

    def push_markers(self, markers) -> None:
        """Add marker events (one :class:`MarkerEvent` or an iterable of them).

        Flash markers (``flash:c[:target]`` labels or integer codes, see
        :mod:`neurospell.markers`) become epochs; trial markers set the trial index of the
        flashes that follow them (and their symbol, :attr:`trial_symbols_`); other markers
        are ignored. A marker seen before (same timestamp and code) is ignored, so nothing
        is emitted twice.
        """
        if isinstance(markers, MarkerEvent):
            markers = [markers]
        for ev in markers:
            if not isinstance(ev, MarkerEvent):
                raise NeurospellError(
                    f"OnlineEpocher.push_markers expects MarkerEvent objects, got {type(ev).__name__}."
                )
            key = (ev.timestamp, ev.code, ev.label)
            if key in self._seen:
                continue
            self._seen.add(key)
            trial = parse_trial(ev.label) if ev.label else None
            if trial is not None or (not ev.label and ev.code == TRIAL_START):
                idx = trial[0] if trial is not None else self._trial_count
                self._trial_count = idx + 1
                self.trial_symbols_[idx] = None if trial is None or trial[1] is None else decode_symbol(trial[1])
                self._trials.append((ev.timestamp, idx))
                self._trials.sort()
                continue
            info = parse_flash(ev.label) if ev.label else None
            if info is None:
                info = parse_flash(ev.code)
            if info is None:
                continue
            self._pending.append((ev.timestamp, info.code, info.target, self._trial_of(ev.timestamp)))
        self._pending.sort(key=lambda p: p[0])
        self._serve()

    def update(self, chunk=None, markers=()) -> EpochBatch:
        """Push a chunk (may be ``None``) and markers, then :meth:`pop_epochs`."""
        if chunk is not None:
            self.push_samples(chunk)
        if markers:
            self.push_markers(markers)
        return self.pop_epochs()

    def pop_epochs(self) -> EpochBatch:
        """The epochs completed since the last call (possibly none), in onset order."""
        ready, self._ready = self._ready, []
        ready.sort(key=lambda r: r[1])
        n_ch = len(self.ch_names_)
        if ready:
            data = np.stack([r[0] for r in ready]).astype(np.float32)
        else:
            data = np.zeros((0, n_ch, self.n_times_), dtype=np.float32)
        tg = [r[3] for r in ready]
        targets = None if any(t is None for t in tg) else np.asarray(tg, dtype=bool).reshape(-1)
        return EpochBatch(
            data,
            np.asarray([r[2] for r in ready], dtype=np.int64),
            np.asarray([r[1] for r in ready], dtype=np.float64),
            self.tmin_,
            self.sfreq_out_,
            self.ch_names_,
            targets,
            np.asarray([r[4] for r in ready], dtype=np.int64),
        )

    def flush(self) -> EpochBatch:
        """End of stream: drop the flashes still waiting for samples (counted, logged)."""
        if self._pending:
            self._drop(len(self._pending), "stream end")
            self._pending = []
        return self.pop_epochs()

    # ---------------------------------------------------------------- internals
    def _trial_of(self, ts: float) -> int:
        t = -1
        for t_on, idx in self._trials:
            if t_on <= ts:
                t = idx
            else:
                break
        return t

    def _drop(self, n: int, reason: str) -> None:
        self.n_dropped_[reason] += n
        logger.warning(
            "OnlineEpocher: dropped %d flash epoch(s) (%s); %d dropped so far.",
            n, reason, sum(self.n_dropped_.values()),
        )

    def _append(self, out, ts, src) -> None:
        m = out.shape[1]
        if self._end + m > self._buf.shape[1]:
            # keep the newest `cap` samples, move them to the front
            keep_from = max(self._start, self._end - self._cap)
            n_keep = self._end - keep_from
            if n_keep + m > self._buf.shape[1]:
                new = max(2 * (n_keep + m), self._buf.shape[1])
                buf = np.zeros((self._buf.shape[0], new))
                tsb = np.zeros(new)
                idb = np.zeros(new, dtype=np.int64)
                buf[:, :n_keep] = self._buf[:, keep_from:self._end]
                tsb[:n_keep] = self._ts[keep_from:self._end]
                idb[:n_keep] = self._idx[keep_from:self._end]
                self._buf, self._ts, self._idx = buf, tsb, idb
            else:
                self._buf[:, :n_keep] = self._buf[:, keep_from:self._end]
                self._ts[:n_keep] = self._ts[keep_from:self._end]
                self._idx[:n_keep] = self._idx[keep_from:self._end]
            self._start, self._end = 0, n_keep
        self._buf[:, self._end:self._end + m] = out
        self._ts[self._end:self._end + m] = ts
        self._idx[self._end:self._end + m] = src
        self._end += m
        if self._end - self._start > self._cap:
            self._start = self._end - self._cap

    def _serve(self) -> None:
        if not self._pending or self._end == self._start:
            return
        ts = self._ts[self._start:self._end]
        sf = self.sfreq_out_
        half = 0.5 / sf
        self._half_in = 0.5 / self.filter_.sfreq
        last = ts[-1]
        still = []
        for p in self._pending:
            t = p[0]
            # wait until the sample nearest the onset and the whole window are in
            if last < t + self._b / sf - half * 1e-3:
                still.append(p)
                continue
            if self._first_ts is not None and t < self._first_ts - half - self.max_gap:
                self._drop(1, "no data")
                continue
            # first output sample at or after the input sample nearest the onset
            j = int(np.searchsorted(ts, t - self._half_in))
            if j >= len(ts):
                still.append(p)
                continue
            lo, hi = j + self._a, j + self._b
            if lo < 0:
                self._drop(1, "no data")
                continue
            if hi >= len(ts):
                still.append(p)
                continue
            if ts[j] - t > self.max_gap + self.filter_.decim_ / self.filter_.sfreq:
                self._drop(1, "no data")
                continue
            if self._has_index:
                idx = self._idx[self._start + lo:self._start + hi + 1]
                contiguous = bool(np.all(np.diff(idx) == self.filter_.decim_))
            else:
                contiguous = bool(np.all(np.diff(ts[lo:hi + 1]) <= self.max_gap))
            if not contiguous:
                self._drop(1, "gap")
                continue
            ep = np.array(self._buf[:, self._start + lo:self._start + hi + 1])
            if self._base is not None:
                ep -= ep[:, self._base].mean(axis=1, keepdims=True)
            if self._reject is not None and np.any(np.ptp(ep, axis=1) > self._reject):
                self._drop(1, "rejected")
                continue
            self._ready.append((ep, t, p[1], p[2], p[3]))
            self.n_emitted_ += 1
        self._pending = still
