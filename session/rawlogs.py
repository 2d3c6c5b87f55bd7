"""A run's rawlog (the raw data as recorded, :mod:`neurospell.rawlog`): converted to BIDS-EEG
(:func:`convert_rawlog_to_bids`) and read back as the live session's driver got it
(:class:`RawlogReader`, :func:`iter_rawlog`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from neurospell.acquisition.gaps import GapIndexer
from neurospell.rawlog import is_rawlog, rawlog_to_raw, read_rawlog
from neurospell.types import MarkerEvent, SampleChunk

from .bids_write import write_run_atomic
from .sessionformat import SessionFolderError

__all__ = ["convert_rawlog_to_bids", "RawlogReader", "iter_rawlog"]


def convert_rawlog_to_bids(root: str, rawlog: str, subject: str, session: str | None, task: str, run: int,
                           line_freq: float | None, source: dict | None = None) -> dict:
    """Convert one run's rawlog (``rawlog``: relative to the session folder ``root``) to BIDS-EEG.

    The work of :meth:`SessionFolder.finish_phase`, as a function of file names only, so that
    it can run in another process. Returns what the folder's metadata records: ``bids`` (the
    ``.vhdr`` path relative to ``root``), ``n_samples``, ``n_markers_outside_data`` (markers
    after the last sample: left out of events.tsv, kept in the rawlog) and ``truncated``.
    ``source``: what the data are (``session.json`` ``source``; default: the rawlog header's),
    for the ``*_eeg.json`` sidecar (:func:`~neurospell.session.bids_write.source_sidecar`).
    """
    root_p = Path(root)
    path = root_p / rawlog
    if not is_rawlog(path):
        raise SessionFolderError(
            f"task-{task} run-{run}: {str(path)!r} holds no recording (no header.json): the "
            "phase wrote no data.")
    log = read_rawlog(path)
    if log.timestamps.size == 0:
        raise SessionFolderError(
            f"task-{task} run-{run}: the recording {str(path)!r} holds no samples; nothing to "
            "convert.")
    with warnings.catch_warnings():
        # markers after the last sample (a run cut short) are counted and left out below
        warnings.filterwarnings("ignore", message="Omitted .* annotation")
        raw = rawlog_to_raw(log)
    # markers after the last sample (the stream ended or a crash cut it) have no data: BIDS
    # events must lie inside the recording; they stay in the rawlog and the decision log
    ann = raw.annotations
    on = ann.onset - (raw.first_time if ann.orig_time is not None else 0.0)
    outside = np.flatnonzero((on < 0) | (on >= raw.n_times / raw.info["sfreq"]))
    if outside.size:
        raw.annotations.delete(outside)
    # (with those MNE left out already: annotations after the data's end)
    n_outside = len(log.markers) + len(log.header["gaps"]) - len(raw.annotations)
    if line_freq:
        raw.info["line_freq"] = float(line_freq)
    # staged and renamed into place when complete (a full disk leaves nothing half-written)
    bp = write_run_atomic(raw, root_p, subject, session, task, run,
                          source=source if source else log.header.get("source"))
    return {"bids": str(bp.fpath.relative_to(root_p)), "n_samples": int(log.timestamps.size),
            "n_markers_outside_data": int(n_outside), "truncated": bool(log.header["truncated"])}


class RawlogReader:
    """A rawlog read like a live source's :class:`~neurospell.acquisition.Reader`: each
    :meth:`read` returns the next chunk of recorded samples (the float32 values as float64,
    with their recorded LSL timestamps and no index: feed them through a
    :class:`~neurospell.acquisition.GapIndexer` starting at the run's first sample, as the
    live session does) and the markers whose timestamps it holds (markers after the last
    sample with the last chunk), in time order.

    Parameters
    ----------
    log : RawLog
        :func:`~neurospell.rawlog.read_rawlog`'s result.
    chunk_seconds : float
    """

    def __init__(self, log, *, chunk_seconds: float = 0.1):
        h = log.header
        self.sfreq = float(h["sfreq"])
        self.ch_names, self.ch_types = tuple(h["ch_names"]), tuple(h["ch_types"])
        self._log = log
        self._step = max(1, int(round(chunk_seconds * self.sfreq)))
        self._marks = sorted(log.markers, key=lambda m: float(m["t"]))
        self._a = self._k = 0
        self.exhausted = False

    def read(self) -> tuple[SampleChunk | None, list[MarkerEvent]]:
        """The next chunk and its markers; ``(None, [])`` once the rawlog is exhausted."""
        ts = self._log.timestamps
        n = ts.size
        if self._a >= n:
            self.exhausted = True
            return None, []
        a = self._a
        b = min(a + self._step, n)
        self._a = b
        chunk = SampleChunk(self._log.data[:, a:b], ts[a:b], self.ch_names, self.ch_types, self.sfreq)
        marks, ms = self._marks, []
        while self._k < len(marks) and (float(marks[self._k]["t"]) <= ts[b - 1] or b == n):
            m = marks[self._k]
            ms.append(MarkerEvent(float(m["t"]), int(m.get("code", -1)), str(m.get("label", ""))))
            self._k += 1
        return chunk, ms


def iter_rawlog(log, *, chunk_seconds: float = 0.1, gap_tolerance: float = 0.05):
    """Cut a rawlog into the sample chunks and markers the live session gave its driver.

    Samples are the recorded float32 values as float64 with their recorded LSL timestamps,
    indexed on the stream's clock by a :class:`~neurospell.acquisition.GapIndexer`
    starting at the run's first sample, as the live session does (so an epoch over a gap is
    dropped on both paths). Each marker comes with the chunk that holds its timestamp
    (markers after the last sample with the last chunk), in time order: what
    :func:`~neurospell.session.feed.feed` gives its driver from a :class:`RawlogReader` and
    an indexer.

    Yields
    ------
    chunk : SampleChunk
    markers : list of MarkerEvent
    """
    reader = RawlogReader(log, chunk_seconds=chunk_seconds)
    indexer = GapIndexer(reader.sfreq, gap_tolerance)
    while True:
        chunk, markers = reader.read()
        if chunk is None:
            return
        pieces = indexer.split(chunk)
        for piece in pieces[:-1]:
            yield piece, []
        yield pieces[-1], markers
