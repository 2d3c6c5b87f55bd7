"""Waiting for work done elsewhere without leaving the stream unread.

A live session's worker thread is the only reader of its source (see
:class:`~neurospell.session.live.LiveSession`). While it waits for a training process (the
fit, the LM weight) or for a run's BIDS conversion, the source keeps filling a ring buffer
of ``buffer_seconds``; a wait longer than that used to cost samples ("a reader fell behind
... and lost N samples"). Here every wait is a loop that calls the session's ``step`` (read
what arrived, keep it in a :class:`Backlog` for the next run, check the source) until the
work is done.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

import numpy as np

from neurospell.types import SampleChunk

__all__ = ["Backlog", "ReadingExecutor", "wait_reading"]


def wait_reading(future: Future, step: Callable[[], None]):
    """Call ``step()`` until ``future`` is done, then return its result.

    Parameters
    ----------
    future : concurrent.futures.Future
    step : callable
        One turn of the waiting loop; it must block briefly (tens of milliseconds, e.g.
        waiting on the source for new samples), so that the loop does not spin.

    Returns
    -------
    result
        ``future.result()`` (its exception is raised here).
    """
    while not future.done():
        step()
    return future.result()


class _ReadingFuture:
    """A future whose :meth:`result` waits with :func:`wait_reading`."""

    def __init__(self, future: Future, step: Callable[[], None]):
        self._future = future
        self._step = step

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None):
        if timeout is not None:  # (a bounded wait: as the future does it)
            return self._future.result(timeout)
        return wait_reading(self._future, self._step)


class ReadingExecutor:
    """An executor's ``submit`` whose futures' ``result()`` call ``step`` while they wait.

    For code that submits a job and blocks on its result (e.g.
    :meth:`SessionFolder.finish_phase <neurospell.session.sessiondir.SessionFolder.finish_phase>`):
    given this instead of the executor, it waits the same, and the stream is read meanwhile.

    Parameters
    ----------
    executor : concurrent.futures.Executor
    step : callable
        As in :func:`wait_reading`.
    """

    def __init__(self, executor, step: Callable[[], None]):
        self.executor = executor
        self._step = step

    def submit(self, fn, /, *args, **kwargs) -> _ReadingFuture:
        return _ReadingFuture(self.executor.submit(fn, *args, **kwargs), self._step)


class Backlog:
    """What a session reads between two runs, kept in order for the next run.

    Consecutive chunks are joined into pieces of up to a second of samples (a piece's
    markers are those read with its chunks), so the next run takes a long wait's samples in
    a few calls. How the samples are chunked changes nothing downstream: the online filter
    and the epocher give the same output for any chunking (a replay chunks its own way).
    """

    def __init__(self):
        self._items: list = []

    def __len__(self) -> int:
        return len(self._items)

    def add(self, chunk: SampleChunk | None, markers) -> None:
        """Keep a chunk read (``None``: markers alone) and the markers read with it."""
        last = self._items[-1] if self._items else None
        if last is None or last[0] is None or chunk is None or last[0].data.shape[1] >= chunk.sfreq:
            self._items.append((chunk, list(markers)))
            return
        prev, prev_markers = last
        self._items[-1] = (SampleChunk._trusted(np.concatenate((prev.data, chunk.data), axis=1),
                                                np.concatenate((prev.timestamps, chunk.timestamps)),
                                                prev.ch_names, prev.ch_types, prev.sfreq, prev.first_index),
                           prev_markers + list(markers))

    def take(self) -> list:
        """The ``(chunk, markers)`` kept, in order; the backlog is empty after."""
        items, self._items = self._items, []
        return items
