"""Test helper: run ``neurospell simulate-participant`` as a real process; estimate ERPs.

:class:`ParticipantCommand` starts the command with any arguments, collects its stdout lines
on a thread and waits for given lines with a deadline (the command's own output and exit
status under test; a live session uses
:class:`neurospell.session.simulator.ParticipantProcess`, which needs a marker stream and
waits until the participant streams). :func:`erp_kernels` separates overlapping
responses by least squares (one kernel per flash class), so averages are not biased by
the neighbouring flashes' responses at short flash intervals.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time

import numpy as np


class ParticipantCommand:
    """``python -m neurospell [--config CFG] simulate-participant ARGS...`` in a subprocess."""

    def __init__(self, *args, config=None):
        cmd = [sys.executable, "-m", "neurospell"]
        if config is not None:
            cmd += ["--config", str(config)]
        cmd += ["simulate-participant", *map(str, args)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=dict(os.environ))
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        """The first stdout line containing ``text``; fails with stderr if it does not come in time."""
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if text in line:
                return line
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if text in line:
                return line
        self.kill()
        raise AssertionError(f"no line with {text!r} within {timeout} s; stdout={self.lines!r}; "
                             f"stderr={self.proc.stderr.read()[-3000:]!r}")

    def wait_exit(self, timeout: float = 20.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def collect(reader, until: float, clock, timeout: float = 30.0):
    """Read a source's samples until one is stamped at or after ``until`` (LSL time)."""
    chunks, stamps = [], []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reader.wait(0.2)
        chunk, _ = reader.read()
        if chunk is not None:
            chunks.append(chunk.data)
            stamps.append(chunk.timestamps)
            if chunk.timestamps[-1] >= until:
                return np.concatenate(chunks, axis=1), np.concatenate(stamps)
    raise AssertionError(f"samples up to t={until:.3f} did not arrive within {timeout} s (now {clock():.3f})")


def erp_kernels(data, ts, onsets, classes, sfreq, tmin=-0.1, tmax=0.8):
    """Responses of each flash class by least-squares deconvolution.

    Parameters
    ----------
    data : array, shape (n_channels, n_samples)
    ts : array, shape (n_samples,)
        Sample timestamps (LSL clock).
    onsets : array, shape (n_flashes,)
        Flash onsets (LSL clock).
    classes : array of int, shape (n_flashes,)
        Class of each flash (0 .. n_classes - 1).

    Returns
    -------
    times : array, shape (n_times,)
    kernels : array, shape (n_classes, n_channels, n_times), same unit as ``data``
    """
    a, b = int(round(tmin * sfreq)), int(round(tmax * sfreq))
    n_t = b - a + 1
    classes = np.asarray(classes, dtype=int)
    n_cls = int(classes.max()) + 1
    n = ts.size
    pos = np.clip(np.searchsorted(ts, onsets), 1, n - 1)
    pos = np.where(np.abs(ts[pos - 1] - onsets) <= np.abs(ts[pos] - onsets), pos - 1, pos)
    x = np.zeros((n, n_cls * n_t + 2))
    for p, c in zip(pos, classes, strict=True):
        rows = np.arange(p + a, p + b + 1)
        ok = (rows >= 0) & (rows < n)
        x[rows[ok], c * n_t + np.flatnonzero(ok)] += 1.0
    x[:, -2] = 1.0
    x[:, -1] = np.linspace(-1, 1, n)
    coef, *_ = np.linalg.lstsq(x, data.T, rcond=None)
    kernels = coef[:-2].T.reshape(data.shape[0], n_cls, n_t).transpose(1, 0, 2)
    return np.arange(a, b + 1) / sfreq, kernels
