"""Display timing from a photodiode: how late and how steady the light is after each flash marker.

A photodiode taped over the speller's photodiode square (``neurospell gui``: Settings,
*Photodiode square*) and recorded as a channel of the EEG amplifier sees each flash as a
rise of its signal. :func:`photodiode_timing` finds those rises in a recording and matches
each to its flash marker: the median offset (photodiode minus marker) is the display's
latency as the markers report it, and its spread is the jitter a lab's screen adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurospell.check import NeurospellError, check_positive, validate_type
from neurospell.logs import logger, use_log_level
from neurospell.markers import parse_flash

__all__ = ["TimingReport", "photodiode_onsets", "photodiode_timing"]


@dataclass(frozen=True)
class TimingReport:
    """The result of :func:`photodiode_timing`.

    Attributes
    ----------
    channel : str
        The photodiode channel.
    n_markers : int
        Flash markers in the recording.
    n_onsets : int
        Photodiode onsets detected.
    n_matched : int
        Markers matched to an onset.
    n_unmatched_markers : int
        Markers with no onset in their window (a dropped frame, or a flash the photodiode
        did not see).
    n_unmatched_onsets : int
        Onsets with no marker (a marker lost, or light that was no flash).
    offsets_ms : ndarray, shape (n_matched,)
        Photodiode onset minus marker time of each matched flash, ms.
    sfreq : float
        Sampling rate, Hz (the offsets are known to one sample, ``1000 / sfreq`` ms).
    threshold : float
        The detection threshold (halfway between the low and high levels), channel units.
    """

    channel: str
    n_markers: int
    n_onsets: int
    n_matched: int
    n_unmatched_markers: int
    n_unmatched_onsets: int
    offsets_ms: np.ndarray = field(repr=False)
    sfreq: float = 0.0
    threshold: float = 0.0

    def _stat(self, func) -> float | None:
        return None if self.offsets_ms.size == 0 else float(func(self.offsets_ms))

    @property
    def median_ms(self) -> float | None:
        """Median offset (photodiode minus marker), ms."""
        return self._stat(np.median)

    @property
    def sd_ms(self) -> float | None:
        """Standard deviation of the offsets (the jitter), ms."""
        return self._stat(np.std)

    @property
    def iqr_ms(self) -> float | None:
        """Interquartile range of the offsets, ms."""
        return self._stat(lambda x: np.percentile(x, 75) - np.percentile(x, 25))

    @property
    def p1_p99_ms(self) -> float | None:
        """99th minus 1st percentile of the offsets, ms."""
        return self._stat(lambda x: np.percentile(x, 99) - np.percentile(x, 1))

    def summary(self) -> dict:
        """A JSON-able summary (ms)."""
        return {"channel": self.channel, "n_markers": self.n_markers, "n_onsets": self.n_onsets,
                "n_matched": self.n_matched, "n_unmatched_markers": self.n_unmatched_markers,
                "n_unmatched_onsets": self.n_unmatched_onsets, "median_offset_ms": self.median_ms,
                "jitter_sd_ms": self.sd_ms, "jitter_iqr_ms": self.iqr_ms, "jitter_p1_p99_ms": self.p1_p99_ms,
                "sample_ms": 1000.0 / self.sfreq if self.sfreq else None}

    def lines(self) -> list[str]:
        """The report as text lines."""
        out = [f"photodiode {self.channel!r}: {self.n_onsets} onsets, {self.n_markers} flash markers; "
               f"{self.n_matched} matched, {self.n_unmatched_markers} markers without an onset, "
               f"{self.n_unmatched_onsets} onsets without a marker"]
        if self.n_matched:
            out.append(f"offset (photodiode - marker): median {self.median_ms:+.2f} ms; jitter SD {self.sd_ms:.2f} ms, "
                       f"IQR {self.iqr_ms:.2f} ms, p99-p1 {self.p1_p99_ms:.2f} ms "
                       f"(one sample = {1000.0 / self.sfreq:.2f} ms)")
        return out


def photodiode_onsets(signal, sfreq: float, *, refractory: float = 0.05) -> tuple[np.ndarray, float]:
    """Sample indices where a photodiode signal rises through halfway between its low and high levels.

    The levels are the 2nd and 98th percentiles (robust to spikes); a rise closer than
    ``refractory`` seconds to the previous one is ignored (flicker, noise on the edge).

    Parameters
    ----------
    signal : array, shape (n_samples,)
    sfreq : float
        Hz.
    refractory : float
        Seconds.

    Returns
    -------
    onsets : ndarray of int
        Index of the first sample at or above the threshold of each rise.
    threshold : float
    """
    x = np.asarray(signal, dtype=np.float64)
    lo, hi = _levels(x)
    thr = 0.5 * (lo + hi)
    above = x >= thr
    rises = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    keep, last = [], -np.inf
    gap = refractory * sfreq
    for r in rises:
        if r - last >= gap:
            keep.append(r)
            last = r
    return np.asarray(keep, dtype=np.int64), float(thr)


def _levels(x: np.ndarray) -> tuple[float, float]:
    """The low and high levels of a photodiode signal: its 2nd and 98th percentiles (else min and max)."""
    lo, hi = np.percentile(x, [2, 98])
    if not np.isfinite(lo) or not np.isfinite(hi) or hi - lo <= 1e-9 * max(abs(hi), abs(lo), 1e-30):
        lo, hi = float(np.min(x)), float(np.max(x))
    return float(lo), float(hi)


#: A photodiode sits dark or lit; more than this fraction of samples in the middle half between
#: its two levels (a Gaussian-like EEG channel: about 70 %) means the channel has no two levels.
MAX_BETWEEN_LEVELS = 0.5


def _match(markers: np.ndarray, t_on: np.ndarray, min_offset: float, max_offset: float):
    """Pair onsets with markers (both sorted, seconds): offsets (ms), markers and onsets paired.

    First the typical offset: the median over markers of the first onset in each marker's
    window. Then each onset goes to the marker it is closest to once that offset is
    allowed for (one onset per marker, the closest), so that two flashes whose light merged
    into one rise (flashes closer than their light lasts) leave one marker unmatched, not a
    cascade of wrong pairs.
    """
    if t_on.size == 0:
        return np.zeros(0), 0, 0
    first = np.searchsorted(t_on, markers + min_offset)
    ok = first < t_on.size
    d = t_on[first[ok]] - markers[ok]
    d = d[d <= max_offset]
    if d.size == 0:
        return np.zeros(0), 0, 0
    d0 = float(np.median(d))
    best: dict[int, tuple[float, int]] = {}  # marker index -> (|residual|, onset index)
    target = t_on - d0
    k = np.clip(np.searchsorted(markers, target), 1, markers.size - 1) if markers.size > 1 else np.zeros(
        t_on.size, dtype=np.int64)
    for j, (tj, kj) in enumerate(zip(target, k, strict=True)):
        cands = (kj - 1, kj) if markers.size > 1 else (0,)
        m = min(cands, key=lambda i: abs(tj - markers[i]))
        off = t_on[j] - markers[m]
        if not min_offset <= off <= max_offset:
            continue
        res = abs(tj - markers[m])
        if m not in best or res < best[m][0]:
            best[m] = (res, j)
    pairs = sorted((m, j) for m, (_, j) in best.items())
    offsets = np.array([1000.0 * (t_on[j] - markers[m]) for m, j in pairs], dtype=np.float64)
    return offsets, len(pairs), len(pairs)


def photodiode_timing(raw, photodiode: str, *, min_offset: float = -0.05, max_offset: float = 0.15,
                      refractory: float | None = None, verbose=None) -> TimingReport:
    """Match photodiode onsets to flash markers: median offset and jitter of the display.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A recording with flash markers as annotations (``flash/<code>[/target|nontarget]``,
        as neurospell writes them; :func:`~neurospell.preprocessing.load_recording`) and a
        photodiode channel.
    photodiode : str
        Name of the photodiode channel.
    min_offset, max_offset : float
        Seconds: an onset from ``min_offset`` to ``max_offset`` after a marker can be that
        flash's light (the first one not matched yet).
    refractory : float | None
        Seconds within which a second rise is ignored (default: half the median interval
        between flash markers, at most 0.1 s).
    verbose : bool | str | int | None

    Returns
    -------
    report : TimingReport
    """
    with use_log_level(verbose):
        validate_type(photodiode, str, "photodiode")
        if photodiode not in raw.ch_names:
            raise NeurospellError(
                f"photodiode: the recording has no channel {photodiode!r}; its channels are "
                f"{list(raw.ch_names)}. Give the channel the photodiode was recorded on.")
        if not max_offset > min_offset:
            raise NeurospellError(f"max_offset ({max_offset!r}) must be greater than min_offset ({min_offset!r}).")
        sfreq = float(raw.info["sfreq"])
        ann = raw.annotations
        t_ann = np.asarray(ann.onset, dtype=np.float64) - (raw.first_time if ann.orig_time is not None else 0.0)
        markers = np.sort(np.array([t for t, d in zip(t_ann, ann.description, strict=True)
                                    if parse_flash(d) is not None], dtype=np.float64))
        if markers.size == 0:
            raise NeurospellError(
                "photodiode_timing: the recording has no flash markers (annotations 'flash/<code>...'); record a "
                "session that flashes (calibration or spelling) with the photodiode channel.")
        if refractory is None:
            refractory = min(0.1, 0.5 * float(np.median(np.diff(markers)))) if markers.size > 1 else 0.05
        check_positive("refractory", refractory)
        x = raw.get_data(picks=[photodiode])[0]
        if not np.all(np.isfinite(x)) or float(np.ptp(x)) == 0.0:
            raise NeurospellError(
                f"photodiode: the channel {photodiode!r} is flat (every sample {x[0]!r}): no light was "
                "recorded. Check that the photodiode is plugged into that input and taped over the photodiode "
                "square, and that the square is shown (neurospell gui: Settings, Photodiode square).")
        lo, hi = _levels(x)
        between = float(np.mean((x > lo + 0.25 * (hi - lo)) & (x < hi - 0.25 * (hi - lo))))
        if between > MAX_BETWEEN_LEVELS:
            kind = raw.get_channel_types(picks=[photodiode])[0]
            raise NeurospellError(
                f"photodiode: the channel {photodiode!r} ({kind}) has no two clear levels (dark and lit): "
                f"{100 * between:.0f} % of its samples lie between them, where a photodiode's signal spends "
                f"under {100 * MAX_BETWEEN_LEVELS:.0f} % of its time. It looks like EEG, not light. Give the channel "
                f"the photodiode was recorded on (the channels are {list(raw.ch_names)}).")
        onsets, thr = photodiode_onsets(x, sfreq, refractory=refractory)
        t_on = onsets / sfreq
        offsets, matched_markers, matched_onsets = _match(markers, t_on, min_offset, max_offset)
        rep = TimingReport(photodiode, int(markers.size), int(t_on.size), int(offsets.size),
                           int(markers.size - matched_markers), int(t_on.size - matched_onsets), offsets, sfreq, thr)
        logger.info("timing check: %s", "; ".join(rep.lines()))
        return rep
