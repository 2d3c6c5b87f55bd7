"""Gaps in a sample stream: the one rule that finds them, and the indexer that cuts chunks there.

A step between consecutive timestamps larger than one sampling period plus
``max(half a period, tolerance)`` is a gap of ``round(step * sfreq) - 1`` missing samples
(:func:`gap_steps`). A source reports such gaps as it receives samples
(:attr:`BaseSource.gaps <neurospell.acquisition.BaseSource.gaps>`, with those only it can
see: a BrainFlow package counter, a lost stream); :class:`GapIndexer` applies the same rule
to the chunks a consumer reads, or to a recording's timestamps, so that a live feed and its
replay from the recorded timestamps cut and index the samples identically.
"""

from __future__ import annotations

import numpy as np

from neurospell.types import SampleChunk

__all__ = ["gap_limit", "gap_steps", "GapIndexer"]


def gap_limit(sfreq: float, tolerance: float) -> float:
    """The largest step between two timestamps (seconds) that is not a gap."""
    period = 1.0 / float(sfreq)
    return period + max(0.5 * period, float(tolerance))


def gap_steps(prev_ts: float | None, ts: np.ndarray, sfreq: float, tolerance: float) -> list[tuple[int, float, int]]:
    """The gaps before and inside ``ts``.

    Parameters
    ----------
    prev_ts : float | None
        Timestamp of the sample before ``ts`` (``None``: ``ts`` starts the stream).
    ts : array of float, shape (n,)
    sfreq : float
    tolerance : float
        Seconds a step may exceed one period (and half a period) before it counts as a gap.

    Returns
    -------
    gaps : list of (position, last_ts, n_missing)
        ``position``: index in ``ts`` of the first sample after the gap; ``last_ts``: the
        timestamp before it; ``n_missing``: ``round(step * sfreq) - 1`` samples (at least 1
        but for a step within rounding of the limit, where it is 0).
    """
    n = ts.size
    if n == 0 or (n == 1 and prev_ts is None):
        return []
    full = ts if prev_ts is None else np.concatenate(([prev_ts], ts))
    step = np.diff(full)
    offset = 0 if prev_ts is None else 1
    return [(int(i) + 1 - offset, float(full[i]), max(0, int(round(step[i] * sfreq)) - 1))
            for i in np.flatnonzero(step > gap_limit(sfreq, tolerance))]


class GapIndexer:
    """Chunks as an epocher must get them so that no epoch spans missing samples.

    A source counts the samples it received (``SampleChunk.first_index``), so a stretch the
    stream never delivered (a lost and re-resolved stream, dropped packets) leaves no hole in
    the indices, and the epocher would cut an epoch across it. This re-indexes the samples
    on the stream's own clock: at a gap (:func:`gap_steps`) the index advances by the missing
    samples and the chunk is split there. The live session feeds its driver through one
    indexer per recorded run, starting at 0 at the run's first sample; a replay of the run's
    recording that does the same feeds identical chunks.

    Parameters
    ----------
    sfreq : float
        Sampling rate, Hz.
    tolerance : float
        Seconds a step may exceed one period before it counts as a gap (``gap_tolerance``).
    as_recorded : bool
        Round the values to float32 (what a rawlog stores) before handing them on.

    Attributes
    ----------
    gaps : list of dict
        ``{"t": time of the last sample before the gap, "n_samples", "duration"}``.
    """

    def __init__(self, sfreq: float, tolerance: float = 0.05, *, as_recorded: bool = False):
        self.sfreq = float(sfreq)
        self.tolerance = float(tolerance)
        self.limit = gap_limit(self.sfreq, self.tolerance)
        self.as_recorded = bool(as_recorded)
        self.next_index = 0
        self.prev_ts: float | None = None
        self.gaps: list[dict] = []

    def split(self, chunk: SampleChunk) -> list[SampleChunk]:
        """The chunk's samples, cut at gaps, each piece with its index on the stream's clock."""
        ts = chunk.timestamps
        data = chunk.data.astype(np.float32).astype(np.float64) if self.as_recorded else chunk.data
        found = {pos: (last, n) for pos, last, n in gap_steps(self.prev_ts, ts, self.sfreq, self.tolerance)}
        bounds = [0] + sorted(pos for pos in found if pos > 0) + [ts.size]
        out = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            if b <= a:
                continue
            last, n_missing = found.get(a, (None, 0))
            if n_missing:
                self.next_index += n_missing
                self.gaps.append({"t": last, "n_samples": n_missing, "duration": n_missing / self.sfreq})
            out.append(SampleChunk._trusted(data[:, a:b], ts[a:b], chunk.ch_names, chunk.ch_types, chunk.sfreq,
                                            self.next_index))
            self.next_index += b - a
        if ts.size:
            self.prev_ts = float(ts[-1])
        return out
