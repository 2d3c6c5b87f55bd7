"""A fixed-capacity ring buffer of multichannel samples with per-sample timestamps.

One writer (the source's acquisition thread) and any number of readers, each holding its
own cursor (the absolute index of the next sample it wants). The writer never waits for a
reader: a reader that falls more than ``capacity`` samples behind loses the oldest samples
and is told how many.
"""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    """Samples ``(n_channels, capacity)`` and timestamps ``(capacity,)``, absolute indices.

    Parameters
    ----------
    n_channels : int
    capacity : int
        Number of samples kept (> 0).
    """

    def __init__(self, n_channels: int, capacity: int):
        self.n_channels = int(n_channels)
        self.capacity = int(capacity)
        self._data = np.zeros((self.n_channels, self.capacity), dtype=np.float64)
        self._ts = np.zeros(self.capacity, dtype=np.float64)
        self._n_written = 0
        self._cond = threading.Condition(threading.Lock())

    @property
    def n_written(self) -> int:
        """Total number of samples written since creation (the next absolute index)."""
        return self._n_written

    @property
    def condition(self) -> threading.Condition:
        return self._cond

    def append(self, data: np.ndarray, timestamps: np.ndarray) -> None:
        """Append ``data`` (n_channels, n) and ``timestamps`` (n,), then wake waiting readers."""
        n = data.shape[1]
        if n == 0:
            return
        if n > self.capacity:  # only the newest samples fit
            skip = n - self.capacity
            with self._cond:
                self._n_written += skip
            data, timestamps, n = data[:, skip:], timestamps[skip:], self.capacity
        with self._cond:
            start = self._n_written % self.capacity
            first = min(n, self.capacity - start)
            self._data[:, start : start + first] = data[:, :first]
            self._ts[start : start + first] = timestamps[:first]
            if first < n:
                self._data[:, : n - first] = data[:, first:]
                self._ts[: n - first] = timestamps[first:]
            self._n_written += n
            self._cond.notify_all()

    def read_from(self, index: int):
        """Copy the samples from absolute ``index`` to the newest one.

        Returns
        -------
        data : array, shape (n_channels, n) | None
        timestamps : array, shape (n,) | None
        first_index : int
            Absolute index of the first returned sample (``> index`` if samples were lost).
        next_index : int
            The cursor for the next read.
        """
        with self._cond:
            end = self._n_written
            first_index = max(index, end - self.capacity)
            n = end - first_index
            if n <= 0:
                return None, None, end, end
            start = first_index % self.capacity
            stop = start + n
            if stop <= self.capacity:
                data = self._data[:, start:stop].copy()
                ts = self._ts[start:stop].copy()
            else:
                data = np.concatenate((self._data[:, start:], self._data[:, : stop - self.capacity]), axis=1)
                ts = np.concatenate((self._ts[start:], self._ts[: stop - self.capacity]))
        return data, ts, first_index, end

    def last_timestamp(self) -> float | None:
        with self._cond:
            if self._n_written == 0:
                return None
            return float(self._ts[(self._n_written - 1) % self.capacity])
