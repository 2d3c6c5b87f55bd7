"""Waiting for work done elsewhere without leaving the stream unread.

A live session's worker thread is the only reader of its source (see
:class:`~neurospell.session.live.LiveSession`). While it waits for a training process (the
fit, the LM weight) or for a run's BIDS conversion, the source keeps filling a ring buffer
of ``buffer_seconds``; a wait longer than that used to cost samples ("a reader fell behind
... and lost N samples"). Here every wait is a loop that calls the session's ``step`` (read
what arrived, keep it for the next run, check the source) until the work is done.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

__all__ = ["ReadingExecutor", "wait_reading"]


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
